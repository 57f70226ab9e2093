"""The soak's observer and judge: route nonces sampled twice a second (lag, per-message latency,
recovery after each fault) and the end-of-run checks (each deposit credited once, each withdrawal
released once, nothing parked, nothing reorged away credited, `audit` clean)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from relayer.context import Context
from relayer.services.audit import audit
from relayer.types import ChainId, RouteId, RouteKind

from _soak_traffic import Books, Traffic

SAMPLE_S = 0.5


@dataclass
class Sample:
    """Every route's (source nonce at the head, processed nonce) at one time."""

    at: float
    nonces: dict[str, tuple[int, int]]


@dataclass
class Fault:
    """One injected fault: when it started and ended (monotonic), and what it was."""

    kind: str
    start: float
    end: float
    detail: dict[str, Any] = field(default_factory=dict)


class Monitor:
    """Samples every route in a thread of its own; computes lags and recoveries from the samples."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.routes: list[RouteId] = list(ctx.deployment.routes())
        self.readers = {str(r): ctx.route_reader(r) for r in self.routes}
        self.samples: list[Sample] = []
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def sample(self) -> Sample:
        """One reading of every route (direct to the nodes, never through the proxy)."""
        nonces = {}
        for name, reader in self.readers.items():
            nonces[name] = (reader.source_state("latest").nonce, reader.dest_state().nonce)
        return Sample(time.monotonic(), nonces)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append(self.sample())
            except Exception:  # noqa: BLE001 - a node busy with a reorg; the next sample counts
                self.errors += 1
            self.stop.wait(SAMPLE_S)

    def caught_up(self) -> bool:
        """Whether the latest sample shows every route processed up to its source."""
        last = self.sample()
        return all(src == done for src, done in last.nonces.values())

    # ------------------------------------------------------------------------ figures

    def lags(self) -> dict[str, dict[str, Any]]:
        """Per route: messages, the worst backlog (messages), and per-message latency (first sample
        showing it at the source to first sample showing it processed): p50, p99, max seconds."""
        out: dict[str, dict[str, Any]] = {}
        for route in self.readers:
            seen: dict[int, float] = {}
            done: dict[int, float] = {}
            backlog = 0
            for sample in self.samples:
                src, processed = sample.nonces[route]
                backlog = max(backlog, src - processed)
                for n in range(len(seen) + 1, src + 1):
                    seen[n] = sample.at
                for n in range(len(done) + 1, processed + 1):
                    done[n] = sample.at
            latencies = sorted(done[n] - seen.get(n, done[n]) for n in done)
            out[route] = {
                "messages": len(done),
                "worst_backlog_messages": backlog,
                "latency_p50_s": _pct(latencies, 0.5),
                "latency_p99_s": _pct(latencies, 0.99),
                "latency_max_s": round(latencies[-1], 1) if latencies else 0.0,
            }
        return out

    def recovery_s(self, after: float) -> float | None:
        """Seconds from `after` (a fault's end) until every route processed everything its source
        held at `after`; None if that never happened."""
        target: dict[str, int] | None = None
        for sample in self.samples:
            if sample.at < after:
                continue
            if target is None:
                target = {r: src for r, (src, _) in sample.nonces.items()}
            if all(sample.nonces[r][1] >= target[r] for r in target):
                return round(sample.at - after, 1)
        return None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


# ---------------------------------------------------------------------------- the verdict


def verdict(ctx: Context, traffic: Traffic) -> tuple[list[str], dict[str, Any]]:
    """Every end-of-run check; returns (failures, figures)."""
    books: Books = traffic.books
    failures: list[str] = []
    figures: dict[str, Any] = {}
    ledger = ctx.ledger()
    usdc_asset = ctx.deployment.assets["USDC"]
    for route in ctx.deployment.routes():
        reader = ctx.route_reader(route)
        src, processed = reader.source_state("latest").nonce, reader.dest_state().nonce
        head = int(reader.dest_client.block_number())
        batches = reader.scan_processed(0, head)
        in_batches = sum(b.count for b in batches)
        sent = (books.deposits if route.kind is RouteKind.DEPOSIT else books.withdrawals).get(
            route.source_chain_id if route.kind is RouteKind.DEPOSIT else route.dest_chain_id, 0)
        before = traffic.baseline[str(route)]
        figures[str(route)] = {"source_nonce": src, "processed_nonce": processed, "in_batches": in_batches,
                               "batches": len(batches), "before_soak": before, "sent_by_soak": sent}
        if not src == processed == in_batches:
            failures.append(f"{route}: source nonce {src}, processed {processed}, batches carried {in_batches}")
        if src != before + sent:
            failures.append(f"{route}: {before} messages before the soak + {sent} sent, but the source holds {src}")
    wrong = []
    for beneficiary, expected in books.credits.items():
        got = int(ledger.functions.balanceOf(beneficiary, usdc_asset).call())
        if beneficiary == traffic.withdrawer.account.address:
            expected -= books.withdrawn_ledger_units
        if got != expected:
            wrong.append(f"{beneficiary}: {got} != {expected}")
    if wrong:
        failures.append(f"{len(wrong)} hub balances differ from what was deposited: {wrong[:5]}")
    for victim in books.dropped:
        got = int(ledger.functions.balanceOf(victim, usdc_asset).call())
        if got:
            failures.append(f"a deposit removed by a reorg was credited: {victim} holds {got}")
    for spoke in traffic.spokes:
        token = ctx.deployment.tokens[spoke]["USDC"].address
        claims = int(ledger.functions.totalClaims(spoke, token).call())
        owed = int(ctx.lockbox(spoke).functions.owed(token).call())
        if claims or owed:
            failures.append(f"spoke {spoke}: claims {claims}, parked releases {owed} (expected none)")
    for (dest, recipient), expected in books.releases.items():
        got = int(traffic.usdc[ChainId(dest)].functions.balanceOf(recipient).call())
        if got != expected:
            failures.append(f"recipient {recipient} on {dest} holds {got}, withdrew {expected}")
    report = audit(ctx)
    figures["audit_ok"] = report.ok
    figures["audit_breaches"] = [b.model_dump() for b in report.breaches]
    if not report.ok:
        failures.append(f"audit: {[f'{b.invariant} {b.where}: {b.detail}' for b in report.breaches]}")
    figures["checked"] = {"beneficiaries": len(books.credits), "recipients": len(books.releases),
                          "reorg_victims": len(books.dropped)}
    return failures, figures
