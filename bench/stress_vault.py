"""The LP vault through one event (pure): what the bench reads from `LPVault` at every oracle step
(equity, share price, traders' open PnL against it, the max-PnL factor and maintenance checks) and
the keeper's auto-deleverages, reduced to the per-event figures docs/margin.md reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VaultObservation:
    """The vault at one oracle step (USD; share price in USD per whole share)."""

    hour: float
    equity_usd: float
    maintenance_usd: float
    share_price_usd: float
    traders_pnl_usd: float
    """Traders' open PnL against the vault, net of funding (`LPVault.tradersPnl`)."""
    pnl_factor_exceeded: bool

    @property
    def below_maintenance(self) -> bool:
        return self.equity_usd < self.maintenance_usd

    @property
    def needs_deleverage(self) -> bool:
        """What `LPVault.needsDeleverage()` answers for this observation."""
        return self.below_maintenance or self.pnl_factor_exceeded


@dataclass
class VaultTrack:
    """Every observation of one event, in order, and the deleverages the keeper performed."""

    deposit_usd: float
    observations: list[VaultObservation] = field(default_factory=list)
    adl_hours: list[float] = field(default_factory=list)
    """Hour of every deleverage that was mined."""
    adl_still_needed: int = 0
    """Keeper rounds that ended with the vault still needing deleveraging (no eligible winner left)."""

    def observe(self, o: VaultObservation) -> None:
        self.observations.append(o)

    def deleveraged(self, hour: float, count: int, still_needed: bool) -> None:
        self.adl_hours.extend([hour] * count)
        self.adl_still_needed += int(still_needed)

    def figures(self) -> dict[str, Any]:
        """Per-event figures: equity at start / min / end, share price change, traders' PnL against
        the vault, breach counts (oracle steps) and the keeper's deleverages."""
        obs = self.observations
        if not obs:
            raise ValueError("no vault observation")
        first, last = obs[0], obs[-1]
        low = min(obs, key=lambda o: o.equity_usd)
        breaches = [o for o in obs if o.pnl_factor_exceeded]
        return {
            "vault_deposit_usd": self.deposit_usd,
            "vault_equity_start_usd": first.equity_usd,
            "vault_equity_min_usd": low.equity_usd,
            "vault_equity_min_hour": low.hour,
            "vault_equity_end_usd": last.equity_usd,
            "vault_pnl_usd": last.equity_usd - first.equity_usd,
            "vault_drawdown_pct": pct(first.equity_usd - low.equity_usd, first.equity_usd),
            "vault_share_price_start_usd": first.share_price_usd,
            "vault_share_price_end_usd": last.share_price_usd,
            "vault_share_price_change_pct": pct(last.share_price_usd - first.share_price_usd, first.share_price_usd),
            "traders_pnl_vs_vault_start_usd": first.traders_pnl_usd,
            "traders_pnl_vs_vault_max_usd": max(o.traders_pnl_usd for o in obs),
            "traders_pnl_vs_vault_end_usd": last.traders_pnl_usd,
            "max_pnl_factor_breach_steps": len(breaches),
            "max_pnl_factor_first_breach_hour": breaches[0].hour if breaches else None,
            "vault_below_maintenance_steps": sum(1 for o in obs if o.below_maintenance),
            "vault_needs_deleverage_steps": sum(1 for o in obs if o.needs_deleverage),
            "deleverages": len(self.adl_hours),
            "adl_rounds_still_needed": self.adl_still_needed,
        }


def pct(part: float, whole: float) -> float:
    """100 × part / whole (0 when whole is 0)."""
    return 100.0 * part / whole if whole else 0.0
