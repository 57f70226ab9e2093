"""Per-event figure of the crash replay: price path, open interest, liquidations per hour, the
insurance fund and the LP vault's equity with the auto-deleverages marked (matplotlib, Agg backend).
Pure: returns a Figure; the bench saves it next to the JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# matplotlib is imported by figure() only: it comes from requirements/bench.txt, which the test
# path need not install (the bench then skips its pictures).


@dataclass
class Series:
    """What the bench records at each oracle step of one event."""

    hours: list[float] = field(default_factory=list)
    eth: list[float] = field(default_factory=list)
    btc: list[float] = field(default_factory=list)
    open_interest_usd: list[float] = field(default_factory=list)
    insurance_usd: list[float] = field(default_factory=list)
    vault_equity_usd: list[float] = field(default_factory=list)
    """The LP vault's equity (`LPVault.equity()`: its USDC, USD and the traders' open PnL against it)."""
    liquidation_hours: list[float] = field(default_factory=list)
    """Hour of every liquidation transaction."""
    adl_hours: list[float] = field(default_factory=list)
    """Hour of every auto-deleverage."""

    def record(self, hour: float, eth: float, btc: float, oi: float, insurance: float, vault_equity: float) -> None:
        self.hours.append(hour)
        self.eth.append(eth)
        self.btc.append(btc)
        self.open_interest_usd.append(oi)
        self.insurance_usd.append(insurance)
        self.vault_equity_usd.append(vault_equity)


def per_hour(hours: list[float], span: float) -> list[int]:
    """Counts per whole hour from 0 to span."""
    counts = [0] * (int(span) + 1)
    for h in hours:
        if 0 <= h <= span:
            counts[int(h)] += 1
    return counts


def available() -> bool:
    """Whether matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure(title: str, s: Series) -> Any:
    """Four stacked panels sharing the hour axis (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(4, 1, figsize=(8, 8), sharex=True, dpi=80)
    if s.eth:
        ax[0].plot(s.hours, [p / s.eth[0] for p in s.eth], label="ETH", lw=0.8)
        ax[0].plot(s.hours, [p / s.btc[0] for p in s.btc], label="BTC", lw=0.8)
    ax[0].set_ylabel("price / start")
    ax[0].legend(loc="best", fontsize=7)
    ax[1].plot(s.hours, [x / 1e6 for x in s.open_interest_usd], color="k", lw=0.8)
    ax[1].set_ylabel("open interest $M")
    span = s.hours[-1] if s.hours else 0.0
    counts = per_hour(s.liquidation_hours, span)
    ax[2].bar(range(len(counts)), counts, width=1.0, color="tab:red")
    ax[2].set_ylabel("liquidations / h")
    ax[3].plot(s.hours, [x / 1e6 for x in s.insurance_usd], label="insurance fund", lw=0.8)
    ax[3].plot(s.hours, [x / 1e6 for x in s.vault_equity_usd], label="LP vault equity", lw=0.8)
    for i, h in enumerate(sorted(set(s.adl_hours))):
        ax[3].axvline(h, color="tab:purple", ls=":", lw=0.8, label="auto-deleverage" if i == 0 else None)
    ax[3].set_ylabel("$M")
    ax[3].set_xlabel("hours from the first bar")
    ax[3].legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)
