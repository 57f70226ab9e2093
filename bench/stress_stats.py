"""Statistics across seeds and events (pure).

Each run of (event, seed) yields a `RunFigures`. Insurance is sized out of sample: leave one event
out, size the fund on the other events' worst need as a share of open interest, then test it on
the held-out event; the bad debt beyond that fund is reported per held-out event and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

GOAL = 0.02
"""The calibration goal's largest insurance fund, as a share of open interest."""
BUFFER = 2.0
"""The buffered sizing rule's stress multiplier: fund = 2 x the other events' worst need, capped at GOAL
(the worst need seen is not the worst to come)."""


@dataclass(frozen=True)
class RunFigures:
    """One event replayed with one seed."""

    event: str
    seed: int
    open_interest_usd: float
    gross_need_usd: float
    """Deficits the insurance had to cover (the fund on the chain is large enough never to run out)."""
    penalties_usd: float
    """Liquidation penalties paid into the fund during the run."""
    pending_deficit_usd: float = 0.0
    """Negative USD left on accounts whose collateral nobody would buy (the sale did not pay)."""

    @property
    def need_usd(self) -> float:
        """Everything the fund must stand behind: covered deficits and those still pending."""
        return self.gross_need_usd + self.pending_deficit_usd

    @property
    def net_need_usd(self) -> float:
        """Net drawdown: need minus penalties received."""
        return self.need_usd - self.penalties_usd

    @property
    def need_share(self) -> float:
        return self.need_usd / self.open_interest_usd if self.open_interest_usd else 0.0

    @property
    def net_need_share(self) -> float:
        return max(0.0, self.net_need_usd) / self.open_interest_usd if self.open_interest_usd else 0.0


@dataclass(frozen=True)
class Summary:
    mean: float
    worst: float
    n: int


def summarise(values: list[float]) -> Summary:
    """Mean and worst (largest) of a figure across seeds."""
    if not values:
        raise ValueError("no values to summarise")
    return Summary(sum(values) / len(values), max(values), len(values))


@dataclass(frozen=True)
class HeldOut:
    """One held-out event: the fund sized on the others and how it fares."""

    event: str
    fund_share: float
    """Fund as a share of open interest: the worst need share over the other events and seeds."""
    beyond_mean_usd: float
    beyond_worst_usd: float
    beyond_worst_share: float
    """Worst bad debt beyond the fund, as a share of the event's open interest."""


def by_event(runs: list[RunFigures]) -> dict[str, list[RunFigures]]:
    out: dict[str, list[RunFigures]] = {}
    for r in runs:
        out.setdefault(r.event, []).append(r)
    return out


def leave_one_out(runs: list[RunFigures], net: bool = False, buffer: float = 1.0,
                  cap: float | None = None) -> list[HeldOut]:
    """For each event: fund share = `buffer` x the worst (net or gross) need share of the other
    events, at most `cap`; beyond = max(0, need - fund share x OI) on each seed of the held-out
    event. A buffer above 1 is the usual stress multiplier: the worst seen is not the worst to come."""
    events = by_event(runs)
    if len(events) < 2:
        raise ValueError("leave-one-out needs at least two events")
    if buffer <= 0:
        raise ValueError("the buffer multiplies the fund: it must be positive")
    out = []
    for held, rs in events.items():
        train = [r for e, other in events.items() if e != held for r in other]
        share = buffer * max(r.net_need_share if net else r.need_share for r in train)
        if cap is not None:
            share = min(share, cap)
        beyond = [max(0.0, (max(0.0, r.net_need_usd) if net else r.need_usd) - share * r.open_interest_usd)
                  for r in rs]
        worst_share = max(b / r.open_interest_usd if r.open_interest_usd else 0.0 for b, r in zip(beyond, rs,
                                                                                                   strict=True))
        out.append(HeldOut(held, share, sum(beyond) / len(beyond), max(beyond), worst_share))
    return out


def passes(held_out: list[HeldOut], max_fund_share: float = 0.02) -> bool:
    """The calibration goal: every held-out event fully covered by a fund <= max_fund_share of OI."""
    return all(h.beyond_worst_usd == 0 and h.fund_share <= max_fund_share for h in held_out)


def in_sample_fund_share(runs: list[RunFigures]) -> float:
    """The fund that covers every run seen (what the old bench sized on)."""
    return max(r.need_share for r in runs)
