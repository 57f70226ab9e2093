"""The LP vault (docs/margin.md "LP vault"): its state (equity, share price, traders' PnL, the
max-PnL factor, whether auto-deleveraging may run), an LP's shares and queued redemptions, and the
LP's actions (deposit, queue a redemption, execute or cancel it), refusals in words."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from relayer.chain.abi import DecodedError, explain
from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.errors import ActionError
from relayer.services.transfers import Explainer, transact
from relayer.services.units import fmt_amount, to_units, usd
from relayer.types import checksum

ONE = 10**18
SHARE_DECIMALS = 18
PNL_FACTOR_UNBOUNDED = 1000 * ONE
"""pnl_factor reported when traders are in profit and the vault's assets are not positive."""


class RedemptionView(BaseModel):
    """A queued redemption: priced when executed, executable by anyone from `ready_at`."""

    id: int
    owner: str
    shares: int
    """1e18 shares."""
    value: int
    """What the shares are worth at the share price now (1e18 USD); paid at the price of execution."""
    ready_at: int
    """Block timestamp from which `executeRedeem` succeeds."""
    ready: bool
    """The delay has passed (at the latest block)."""


class VaultShares(BaseModel):
    """One LP's position in the vault."""

    owner: str
    shares: int
    """Shares held (not counting those queued for redemption)."""
    value: int
    """Their worth at the share price now (1e18 USD)."""
    usdc: int
    """The owner's USDC on the hub ledger (1e18 ledger units): what a deposit can take."""
    pending: list[RedemptionView]


class VaultView(BaseModel):
    """The LP vault now: every USD figure is 1e18 USD."""

    address: str
    equity: int
    """Risk-engine equity of the vault's account: USDC + USD balance − traders' open PnL (net of funding)."""
    share_price: int
    """USD per whole share (1e18), virtual offset included."""
    total_shares: int
    """Every share, those queued for redemption included (they bear PnL until paid)."""
    usdc: int
    """USDC the vault holds on the ledger (1e18 units): what settlements and redemptions pay from."""
    usd_balance: int
    initial_margin: int
    maintenance_margin: int
    traders_pnl: int
    """Traders' aggregate unrealised PnL against the vault, net of funding (positive: the vault owes)."""
    pnl_factor: int
    """Traders' open profit / the vault's assets (1e18 = 100 %); 0 while traders are at a loss;
    PNL_FACTOR_UNBOUNDED when the vault's assets are not positive."""
    max_pnl_factor: int
    pnl_factor_exceeded: bool
    """Over the max-PnL factor: redemptions stop, auto-deleveraging may run."""
    needs_deleverage: bool
    """Equity below the vault's maintenance margin, or over the max-PnL factor."""
    prices_ok: bool
    """Every price the vault's equity depends on is fresh (deposits and redemptions need it)."""
    redeem_delay: int
    """Seconds between a redemption request and its execution."""
    block_timestamp: int
    owner: VaultShares | None = None


def _now(contracts: MarginContracts) -> int:
    return int(contracts.client.get_block("latest")["timestamp"])


def pending_redemptions(contracts: MarginContracts, owner: str, share_price: int, now: int) -> list[RedemptionView]:
    """`owner`'s queued redemptions, from its VaultRedeemRequested events, still unpaid and uncancelled."""
    vault, hub = contracts.vault, contracts.client
    event = vault.events.VaultRedeemRequested()
    owner_topic = "0x" + bytes.fromhex(checksum(owner)[2:]).rjust(32, b"\0").hex()
    head = int(hub.block_number())
    out = []
    for raw in hub.get_logs(vault.address, [event.topic, None, owner_topic], contracts.config.start_block, head):
        rid = int(event.process_log(raw)["args"]["id"])
        r_owner, ready_at, shares = hub.call(vault.functions.redemptions(rid))
        if int(r_owner, 16) == 0:
            continue  # paid or cancelled
        out.append(RedemptionView(id=rid, owner=checksum(r_owner), shares=int(shares),
                                  value=int(shares) * share_price // ONE, ready_at=int(ready_at),
                                  ready=now >= int(ready_at)))
    return out


def vault_view(ctx: Context, owner: str | None = None, contracts: MarginContracts | None = None) -> VaultView:
    """The vault's state, and `owner`'s shares and queued redemptions when given."""
    contracts = contracts or ctx.margin()
    vault, hub = contracts.vault, contracts.client
    health = hub.call(contracts.engine.functions.health(vault.address))
    equity, im, mm, prices_ok = int(health[0]), int(health[1]), int(health[2]), bool(health[5])
    share_price = int(hub.call(vault.functions.sharePrice()))
    pnl = int(hub.call(vault.functions.tradersPnl()))
    assets = equity + pnl
    factor = 0 if pnl <= 0 else (PNL_FACTOR_UNBOUNDED if assets <= 0 else pnl * ONE // assets)
    asset_id = int(hub.call(vault.functions.asset()))
    now = _now(contracts)
    view = VaultView(
        address=vault.address, equity=equity, share_price=share_price,
        total_shares=int(hub.call(vault.functions.totalShares())),
        usdc=int(hub.call(contracts.ledger.functions.balanceOf(vault.address, asset_id))),
        usd_balance=int(hub.call(contracts.ledger.functions.usdBalanceOf(vault.address))),
        initial_margin=im, maintenance_margin=mm, traders_pnl=pnl, pnl_factor=factor,
        max_pnl_factor=int(hub.call(vault.functions.maxPnlFactor())),
        pnl_factor_exceeded=bool(hub.call(vault.functions.pnlFactorExceeded())),
        needs_deleverage=bool(hub.call(vault.functions.needsDeleverage())),
        prices_ok=prices_ok, redeem_delay=int(hub.call(vault.functions.redeemDelay())), block_timestamp=now,
    )
    if owner is not None:
        who = checksum(owner)
        shares = int(hub.call(vault.functions.sharesOf(who)))
        view.owner = VaultShares(
            owner=who, shares=shares, value=shares * share_price // ONE,
            usdc=int(hub.call(contracts.ledger.functions.balanceOf(who, asset_id))),
            pending=pending_redemptions(contracts, who, share_price, now),
        )
    return view


# ------------------------------------------------------------------------------------ actions


class VaultTx(BaseModel):
    """A mined vault action and what it did."""

    tx_hash: str
    block_number: int
    action: str
    """deposit, redeem_requested, redeemed or redeem_cancelled."""
    shares: int
    """Shares minted, queued, burnt or returned (1e18)."""
    assets: int = 0
    """USDC moved (1e18 ledger units): deposited or paid out."""
    redemption_id: int | None = None
    ready_at: int | None = None


def _hours(seconds: int) -> str:
    """A duration as people read it."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7_200:
        return f"{seconds // 60} min"
    return f"{seconds / 3_600:.1f} h"


class VaultRefusal(Explainer):
    """A refused vault action in the LP's terms, with what to do."""

    def __init__(self, contracts: MarginContracts | None, now: int | None = None) -> None:
        self.contracts = contracts
        self.now = now
        """Chain time, when there are no contracts to read it from (the async SDK reads it first)."""

    def _chain_time(self) -> int:
        return _now(self.contracts) if self.contracts is not None else int(self.now or 0)

    def __call__(self, error: DecodedError) -> str:
        handler = getattr(self, f"_on_{error.name}", None)
        return str(handler(error.args)) if handler else f"vault refused: {explain(error)}"

    def _on_VaultRedemptionNotReady(self, a: dict[str, Any]) -> str:  # noqa: N802 - named after the Solidity error
        ready_at = int(a["readyAt"])
        wait = max(ready_at - self._chain_time(), 1)
        when = datetime.fromtimestamp(ready_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"redemption {a['id']} is not ready yet: it can be executed in {_hours(wait)} "
                f"(from {when}, chain time). The redeem delay keeps your shares bearing the vault's PnL "
                f"meanwhile; run `xmargin vault execute {a['id']}` again then")

    def _on_VaultRedemptionUnknown(self, a: dict[str, Any]) -> str:  # noqa: N802
        return (f"there is no redemption {a['id']} of yours waiting: it was already paid or cancelled, or belongs to "
                f"someone else (`xmargin vault status` lists yours)")

    def _on_VaultSharesExceedBalance(self, a: dict[str, Any]) -> str:  # noqa: N802
        return (f"you hold {fmt_amount(int(a['balance']), SHARE_DECIMALS)} vault shares, fewer than the "
                f"{fmt_amount(int(a['shares']), SHARE_DECIMALS)} you asked to redeem")

    def _on_VaultLiquidityInsufficient(self, a: dict[str, Any]) -> str:  # noqa: N802
        return (f"the vault holds only {fmt_amount(int(a['available']), 18)} USDC, less than the "
                f"{fmt_amount(int(a['needed']), 18)} USDC this redemption is worth now: retry once traders' "
                f"profits are settled back or other LPs deposit")

    def _on_VaultRedemptionLeavesVaultUnderMargin(self, a: dict[str, Any]) -> str:  # noqa: N802
        return (f"paying redemption {a['id']} now would leave the vault below its margin or over its max-PnL factor "
                f"(traders' open profit too large against it): retry after traders close or are deleveraged")

    def _on_VaultPricesNotFresh(self, a: dict[str, Any]) -> str:  # noqa: N802
        return ("the vault's share price is unknown while a price it depends on is not fresh: retry after the next "
                "price update (`xmargin oracle prices`)")

    def _on_VaultInsolvent(self, a: dict[str, Any]) -> str:  # noqa: N802
        return f"the vault's equity is {usd(int(a['equity']))}: deposits are refused until it recovers"

    def _on_CollateralTransferExceedsBalance(self, a: dict[str, Any]) -> str:  # noqa: N802
        return (f"you hold {fmt_amount(int(a['balance']), 18)} USDC on the hub, the deposit needs "
                f"{fmt_amount(int(a['amount']), 18)}: deposit USDC on a spoke first (`xmargin deposit`)")

    def _on_VaultDepositorBelowInitialMargin(self, a: dict[str, Any]) -> str:  # noqa: N802
        return ("that USDC backs your open positions: after this deposit your account would be below its initial "
                "margin; deposit less or close positions first")


def _tx(receipt: TxReceipt) -> tuple[str, int]:
    return "0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["blockNumber"])


VAULT_EVENTS = {"deposit": "VaultDeposit", "redeem_requested": "VaultRedeemRequested", "redeemed": "VaultRedeemed",
                "redeem_cancelled": "VaultRedeemCancelled"}
"""Each action's LPVault event."""


def vault_tx(action: str, vault: Contract, receipt: TxReceipt) -> VaultTx:
    """The VaultTx of a mined vault action, from its event (of `vault`, a bound or provider-less LPVault)."""
    (event,) = getattr(vault.events, VAULT_EVENTS[action])().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    tx_hash, block = _tx(receipt)
    return VaultTx(tx_hash=tx_hash, block_number=block, action=action, shares=int(args["shares"]),
                   assets=int(args.get("assets", 0)), redemption_id=int(args["id"]) if "id" in args else None,
                   ready_at=int(args["readyAt"]) if "readyAt" in args else None)


def _send(ctx: Context, contracts: MarginContracts, fn: ContractFunction, key: str) -> TxReceipt:
    return transact(ctx.sender(key, ctx.deployment.hub.chain_id), fn, VaultRefusal(contracts))


def deposit(ctx: Context, amount: str, key: str) -> VaultTx:
    """Deposit `amount` whole USDC of the sender's hub balance into the vault for shares at the price now."""
    contracts = ctx.margin()
    receipt = _send(ctx, contracts, contracts.vault.functions.deposit(to_units(amount, 18)), key)
    return vault_tx("deposit", contracts.vault, receipt)


def parse_shares(text: str) -> int:
    """1e18 share units of a decimal share count; ActionError if not positive or too precise."""
    try:
        Decimal(text)
    except InvalidOperation as err:
        raise ActionError(f"shares {text!r} is not a number (or `all`)") from err
    return to_units(text, SHARE_DECIMALS)


def request_redeem(ctx: Context, shares: str, key: str) -> VaultTx:
    """Queue `shares` (decimal, or `all` the sender holds) for redemption after the vault's delay."""
    contracts = ctx.margin()
    if shares.strip().lower() == "all":
        owner = ctx.sender(key, ctx.deployment.hub.chain_id).address
        units = all_shares(owner, int(contracts.client.call(contracts.vault.functions.sharesOf(owner))))
    else:
        units = parse_shares(shares)
    receipt = _send(ctx, contracts, contracts.vault.functions.requestRedeem(units), key)
    return vault_tx("redeem_requested", contracts.vault, receipt)


def all_shares(owner: str, held: int) -> int:
    """`held` shares, when redeeming `all`; ActionError if there are none."""
    if held == 0:
        raise ActionError(f"{owner} holds no vault shares")
    return held


def execute_redeem(ctx: Context, redemption_id: int, key: str) -> VaultTx:
    """Pay queued redemption `redemption_id` to its owner at the share price now (anyone may)."""
    contracts = ctx.margin()
    receipt = _send(ctx, contracts, contracts.vault.functions.executeRedeem(redemption_id), key)
    return vault_tx("redeemed", contracts.vault, receipt)


def cancel_redeem(ctx: Context, redemption_id: int, key: str) -> VaultTx:
    """Cancel the sender's queued redemption `redemption_id`; its shares come back."""
    contracts = ctx.margin()
    receipt = _send(ctx, contracts, contracts.vault.functions.cancelRedeem(redemption_id), key)
    return vault_tx("redeem_cancelled", contracts.vault, receipt)
