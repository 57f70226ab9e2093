"""Per-event figure of the crash replay: price path, open interest, liquidations per hour, the
insurance fund's balance and the LP vault's equity with the auto-deleverages marked (matplotlib,
Agg backend). `figure` is pure (returns a Figure; the bench saves it next to the JSON, with the
series as series-<event>-<lev>x.json); `python bench/stress_plot.py series-*.json` redraws the
PNGs from those files without replaying anything."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# matplotlib is imported by figure() only: it comes from requirements/bench.txt, which the test
# path need not install (the bench then skips its pictures).


@dataclass
class Series:
    """What the bench records during one event: prices at every oracle step (so the intrabar wicks
    the liquidations met are visible), the chain's state hourly (each read costs calls)."""

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
    step_hours: list[float] = field(default_factory=list)
    step_eth: list[float] = field(default_factory=list)
    step_btc: list[float] = field(default_factory=list)

    def record(self, hour: float, eth: float, btc: float, oi: float, insurance: float, vault_equity: float) -> None:
        self.hours.append(hour)
        self.eth.append(eth)
        self.btc.append(btc)
        self.open_interest_usd.append(oi)
        self.insurance_usd.append(insurance)
        self.vault_equity_usd.append(vault_equity)

    def price(self, hour: float, eth: float, btc: float) -> None:
        """The prices pushed at one oracle step."""
        self.step_hours.append(hour)
        self.step_eth.append(eth)
        self.step_btc.append(btc)


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


def fund_note(s: Series) -> str:
    """The fund's largest fall below its starting balance, in USD and as a share of the starting
    open interest (the calibration's unit)."""
    if not s.insurance_usd:
        return "no data"
    start, low = s.insurance_usd[0], min(s.insurance_usd)
    oi = s.open_interest_usd[0] if s.open_interest_usd else 0.0
    share = f" = {100 * (start - low) / oi:.2f} % of OI at start" if oi else ""
    return f"balance at start ${start:,.0f}; largest fall ${start - low:,.0f}{share} (net of penalties paid in)"


def plain(text: str) -> str:
    """`text` with its dollar signs escaped: two of them in one string would start matplotlib's
    mathtext (italics, spaces dropped)."""
    return text.replace("$", r"\$")


def figure(title: str, s: Series) -> Any:
    """Five stacked panels sharing the hour axis (a matplotlib Figure). Dollar axes are plain
    thousands (no offset notation), so a small draw on a large fund still reads."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    thousands = FuncFormatter(lambda x, _: f"{x:,.0f}")
    fig, ax = plt.subplots(5, 1, figsize=(8, 10), sharex=True, dpi=80)
    hours, eth, btc = (s.step_hours, s.step_eth, s.step_btc) if s.step_hours else (s.hours, s.eth, s.btc)
    if eth:
        ax[0].plot(hours, [p / eth[0] for p in eth], label=plain(f"ETH (start ${eth[0]:,.0f})"), lw=0.7)
        ax[0].plot(hours, [p / btc[0] for p in btc], label=plain(f"BTC (start ${btc[0]:,.0f})"), lw=0.7)
        ax[0].legend(loc="best", fontsize=7)
    ax[0].set_ylabel("price / start\n(every oracle push)")
    ax[1].plot(s.hours, [x / 1e3 for x in s.open_interest_usd], color="k", lw=0.8)
    ax[1].set_ylabel("open interest $k")
    span = max(s.hours[-1] if s.hours else 0.0, hours[-1] if hours else 0.0)
    counts = per_hour(s.liquidation_hours, span)
    ax[2].bar(range(len(counts)), counts, width=1.0, align="edge", color="tab:red")
    ax[2].set_ylabel("liquidations / h")
    ax[2].text(0.01, 0.85, f"{len(s.liquidation_hours)} liquidation transactions during the path",
               transform=ax[2].transAxes, fontsize=7)
    ax[3].plot(s.hours, [x / 1e3 for x in s.insurance_usd], color="tab:blue", lw=0.8, label="insurance fund")
    ax[3].set_ylabel("insurance fund $k")
    ax[3].text(0.01, 0.08, plain(fund_note(s)), transform=ax[3].transAxes, fontsize=7)
    ax[4].plot(s.hours, [x / 1e3 for x in s.vault_equity_usd], color="tab:green", lw=0.8, label="LP vault equity")
    for i, h in enumerate(sorted(set(s.adl_hours))):
        ax[4].axvline(h, color="tab:purple", ls=":", lw=0.8, label="auto-deleverage" if i == 0 else None)
    ax[4].set_ylabel("LP vault equity $k")
    ax[4].legend(loc="best", fontsize=7)
    for a in ax[1:]:
        if a is not ax[2]:
            a.yaxis.set_major_formatter(thousands)
    for a in ax:
        a.grid(True, lw=0.3, alpha=0.5)
    ax[4].set_xlabel("hours from the first bar")
    ax[4].set_xlim(0, max(span, 1.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def redraw(path: Path) -> Path:
    """The PNG of a saved series-<event>-<lev>x.json, written beside it as <event>-<lev>x.png."""
    data = json.loads(path.read_text())
    title = data.pop("title")
    fig = figure(title, Series(**data))
    out = path.with_name(path.name.removeprefix("series-")).with_suffix(".png")
    fig.savefig(out)
    close(fig)
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(redraw(Path(arg)))
