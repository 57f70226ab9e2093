"""The results of bench/latency.py: one record per phase, the whole report (written as JSON), and
the table printed from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from _latency_stats import Batches, Floor, Summary


@dataclass
class LatencyResult:
    """Latency of one kind of transfer sent one at a time."""

    what: str
    count: int
    pace_s: float
    floor: Floor
    chain_s: Summary
    """Source block timestamp -> destination block timestamp of the batch that applied it."""
    blocks: Summary
    """Destination blocks from the one at the source block's time to the applying one."""
    wall_s: Summary
    """Receipt seen -> destination processed nonce seen (polled every POLL_S)."""
    sent_to_done_s: Summary
    """Transaction handed to the node -> processed nonce seen: what a user waits."""
    vs_floor: dict[str, float]
    """chain_s percentiles as multiples of floor.seconds."""
    batches: Batches
    warmup_sent_to_done_s: list[float]
    """The first transfer of each route (cold: first scans and first batch), not in the figures above."""




@dataclass
class BurstResult:
    """N deposits sent at once from several accounts over both spokes."""

    deposits: int
    accounts: int
    send_s: float
    """First send -> last send returned (wall)."""
    all_done_s: float
    """First send -> the hub's processed nonces seen covering every deposit (wall)."""
    deposits_per_s: float
    """deposits / all_done_s."""
    chain_span_s: int
    """First deposit's block timestamp -> last applying hub batch's block timestamp."""
    chain_deposits_per_s: float
    spoke_blocks: dict[str, int]
    """Spoke blocks the deposits landed in."""
    spoke_gas_max: int
    """Highest gasUsed of a burst deposit (must stay below BURST_TX_GAS)."""
    hub_batch_offsets_s: list[int]
    """Block timestamps of the hub batches, in seconds after the first deposit's block: a gap before
    the first shows finality and validation, the spacing the submitter (one batch per block)."""
    latency_s: Summary
    """Per deposit: its block timestamp -> its hub batch's block timestamp."""
    floor: Floor
    vs_floor: dict[str, float]
    batches: Batches
    """Hub batches, mean size, hub gas per credited deposit (every deposit to a new balance)."""




@dataclass
class Report:
    """Everything measured; written as bench/results/latency.json."""

    setup: dict[str, Any]
    deposits: LatencyResult | None = None
    burst: BurstResult | None = None
    withdrawals: LatencyResult | None = None
    runtime_s: dict[str, float] = field(default_factory=dict)




def _row(label: str, s: Summary, unit: str, floor: float | None = None) -> str:
    """One table row: p50, p90, p99, max (and p50/p90 as multiples of the floor)."""
    row = f"  {label:<34} {s.p50:>7.2f} {s.p90:>7.2f} {s.p99:>7.2f} {s.max:>7.2f}  {unit}"
    if floor:
        row += f"   p50 = {s.p50 / floor:.1f}x floor, p90 = {s.p90 / floor:.1f}x"
    return row


def print_latency(r: LatencyResult) -> None:
    """The table of one paced phase."""
    route = "source confirmations x block time + 1 destination block"
    print(f"\n{r.what.capitalize()}s, one at a time: {r.count} alternating spokes, {r.pace_s:g} s apart "
          f"(floor {r.floor.seconds:g} s = {r.floor.blocks:g} blocks: {route})")
    print(f"  {'':<34} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    print(_row("block time -> applying block", r.chain_s, "s", r.floor.seconds))
    print(_row("same, in destination blocks", r.blocks, "blocks", r.floor.blocks))
    print(_row("receipt seen -> applied seen (wall)", r.wall_s, "s", r.floor.seconds))
    print(_row("sent -> applied seen (wall)", r.sent_to_done_s, "s"))
    b = r.batches
    print(f"  batches {b.count}, mean size {b.mean_size:g}, destination gas per message {b.gas_per_message:,.0f}; "
          f"warm-up (first per route, not above): sent -> applied {r.warmup_sent_to_done_s} s")


def print_table(report: Report) -> None:
    """The report as plain text tables."""
    s = report.setup
    print(f"\nxmargin relayer latency ({s['machine']}, 1-min load {s['load_avg_1m']}; "
          f"block time {s['block_time_s']} s, {s['confirmations']} confirmations; {s['relayer']})")
    if report.deposits:
        print_latency(report.deposits)
    if report.burst:
        b = report.burst
        print(f"\nBurst: {b.deposits} deposits from {b.accounts} accounts over both spokes (new hub balances)")
        print(f"  sent in {b.send_s:.2f} s, landing in spoke blocks {b.spoke_blocks} "
              f"(spoke gas <= {b.spoke_gas_max:,})")
        print(f"  all credited {b.all_done_s:.1f} s after the first send: {b.deposits_per_s:.1f} deposits/s "
              f"(block timestamps: {b.chain_span_s} s, {b.chain_deposits_per_s:.1f}/s)")
        print(f"  hub batches {b.batches.count} (sizes {b.batches.sizes}), mean size {b.batches.mean_size:g}, "
              f"hub gas per credited deposit {b.batches.gas_per_message:,.0f}")
        print(f"  hub batches landed {b.hub_batch_offsets_s} s after the first deposit's block")
        print(f"  {'':<34} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
        print(_row("per deposit: block -> hub block", b.latency_s, "s", b.floor.seconds))
    if report.withdrawals:
        print_latency(report.withdrawals)
    print(f"\nruntime: {report.runtime_s}")
