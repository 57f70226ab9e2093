"""API v1's actions, two ways: `/v1/actions/*` signs server-side for the devnet's demo accounts
(DEV ONLY, `api.demo_accounts`), `/v1/tx/*` builds the same actions as unsigned transactions for the
user's own wallet to sign and send (relayer.services.unsigned): the server never holds its key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from relayer.api.v1_errors import ApiError, address, call, require_margin
from relayer.context import Context
from relayer.services import actions, unsigned
from relayer.services.recovery import ReleaseRetried
from relayer.services.trading import TradeResult
from relayer.services.transfers import TxResult
from relayer.services.unsigned import TxPlan
from relayer.services.vault import VaultTx

ACCOUNT_DOC = ("/v1/actions/*: a demo account's name (GET /v1/demo-accounts); "
               "/v1/tx/*: the address that will sign and send the transactions.")


class DepositIn(BaseModel):
    """A deposit on a spoke (the ERC20 approval included)."""

    account: str = Field(description=ACCOUNT_DOC)
    chain: str
    token: str
    amount: str
    beneficiary: str | None = None
    """Hub account credited (default: the account)."""


class WithdrawIn(BaseModel):
    """A withdrawal from the hub balance to any spoke."""

    account: str = Field(description=ACCOUNT_DOC)
    asset: str
    amount: str
    to_chain: str
    recipient: str | None = None
    """Paid on `to_chain` (default: the account's own address)."""


class TradeIn(BaseModel):
    """A trade (a delayed order; positive size buys)."""

    account: str = Field(description=ACCOUNT_DOC)
    market: str
    size: str
    limit_price: str | None = None


class CloseIn(BaseModel):
    """Close a whole position."""

    account: str = Field(description=ACCOUNT_DOC)
    market: str


class VaultDepositIn(BaseModel):
    """A deposit into the LP vault from the account's hub USDC."""

    account: str = Field(description=ACCOUNT_DOC)
    amount: str


class VaultRedeemIn(BaseModel):
    """Queue vault shares for redemption (executable after the vault's delay)."""

    account: str = Field(description=ACCOUNT_DOC)
    shares: str = "all"
    """Decimal shares, or `all`."""


class RedemptionIn(BaseModel):
    """Complete (execute) or cancel a queued redemption."""

    account: str = Field(description=ACCOUNT_DOC)
    redemption_id: int = Field(ge=1)


class RecoverIn(BaseModel):
    """Recover a withdrawal parked on a spoke: redirect it, or refund it to the hub balance."""

    account: str = Field(description=ACCOUNT_DOC)
    chain: str
    """The spoke it is parked on."""
    nonce: int = Field(ge=1)
    """The parked withdrawal's nonce."""
    new_recipient: str | None = None
    """Redirect to this address on the spoke; absent: refund to the hub balance."""


class RetryIn(BaseModel):
    """Retry paying a withdrawal parked on a spoke to its recorded recipient (anyone may)."""

    account: str = Field(description=ACCOUNT_DOC)
    chain: str
    """The spoke it is parked on (the retry is sent there)."""
    nonce: int = Field(ge=1)
    """The parked withdrawal's nonce."""


def _known_asset(ctx: Context, asset: str) -> None:
    """ApiError unknown_asset listing the deployment's assets."""
    if asset not in ctx.deployment.assets:
        known = ", ".join(sorted(ctx.deployment.assets))
        raise ApiError(400, "unknown_asset", f"unknown asset {asset!r}; known: {known}")


def _optional(text: str | None) -> str | None:
    """An optional address (absent or empty: the default, the account itself)."""
    return address(text) if text else None


def _recipient(text: str | None) -> str | None:
    """A redirect's new recipient (an empty one is a bad address, never a refund by accident)."""
    return address(text) if text is not None else None


def add_actions(api: APIRouter, ctx: Context) -> None:
    """`/actions/*` on `api`: server-signed for demo accounts (DEV ONLY)."""

    @api.post("/actions/deposit", response_model=TxResult, tags=["actions"])
    def deposit(body: DepositIn) -> TxResult:
        """Deposit on a spoke for a demo account (DEV ONLY)."""
        return call(actions.deposit, ctx, body.account, body.chain, body.token, body.amount,
                    _optional(body.beneficiary))

    @api.post("/actions/withdraw", response_model=TxResult, tags=["actions"])
    def withdraw(body: WithdrawIn) -> TxResult:
        """Withdraw a demo account's collateral to any spoke (DEV ONLY)."""
        _known_asset(ctx, body.asset)
        return call(actions.withdraw, ctx, body.account, body.asset, body.amount, body.to_chain,
                    _optional(body.recipient))

    @api.post("/actions/trade", response_model=TradeResult, tags=["actions"])
    def trade(body: TradeIn) -> TradeResult:
        """Trade for a demo account (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.trade, ctx, body.account, body.market, body.size, body.limit_price)

    @api.post("/actions/close", response_model=TradeResult, tags=["actions"])
    def close(body: CloseIn) -> TradeResult:
        """Close a demo account's position (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.close, ctx, body.account, body.market)

    @api.post("/actions/vault-deposit", response_model=VaultTx, tags=["actions"])
    def vault_deposit(body: VaultDepositIn) -> VaultTx:
        """Deposit a demo account's hub USDC into the LP vault for shares (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.vault_deposit, ctx, body.account, body.amount)

    @api.post("/actions/vault-redeem", response_model=VaultTx, tags=["actions"])
    def vault_redeem(body: VaultRedeemIn) -> VaultTx:
        """Queue a demo account's vault shares for redemption (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.vault_redeem, ctx, body.account, body.shares)

    @api.post("/actions/vault-execute", response_model=VaultTx, tags=["actions"])
    def vault_execute(body: RedemptionIn) -> VaultTx:
        """Complete a queued redemption once ready, for a demo account (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.vault_execute, ctx, body.account, body.redemption_id)

    @api.post("/actions/vault-cancel", response_model=VaultTx, tags=["actions"])
    def vault_cancel(body: RedemptionIn) -> VaultTx:
        """Cancel a demo account's queued redemption (DEV ONLY)."""
        require_margin(ctx)
        return call(actions.vault_cancel, ctx, body.account, body.redemption_id)

    @api.post("/actions/recover", response_model=TxResult, tags=["actions"])
    def recover(body: RecoverIn) -> TxResult:
        """Redirect or refund a demo account's parked withdrawal, asked on the hub (DEV ONLY);
        `route_nonce` is the recovery message's."""
        return call(actions.recover, ctx, body.account, body.chain, body.nonce, _recipient(body.new_recipient))

    @api.post("/actions/retry", response_model=ReleaseRetried, tags=["actions"])
    def retry(body: RetryIn) -> ReleaseRetried:
        """Retry paying a parked withdrawal on its spoke, sent by a demo account (DEV ONLY); 422 saying
        why when it would still fail (it stays parked)."""
        return call(actions.retry, ctx, body.account, body.chain, body.nonce)


def add_transactions(api: APIRouter, ctx: Context) -> None:
    """`/tx/*` on `api`: unsigned transactions for the account's own wallet, checked (simulated) first."""

    @api.post("/tx/deposit", response_model=TxPlan, tags=["transactions"])
    def deposit(body: DepositIn) -> TxPlan:
        """Deposit on a spoke: the ERC20 approval first when the lockbox's allowance is short."""
        return call(unsigned.deposit, ctx, address(body.account), body.chain, body.token, body.amount,
                    _optional(body.beneficiary))

    @api.post("/tx/withdraw", response_model=TxPlan, tags=["transactions"])
    def withdraw(body: WithdrawIn) -> TxPlan:
        """Request a withdrawal on the hub to any spoke."""
        _known_asset(ctx, body.asset)
        return call(unsigned.withdraw, ctx, address(body.account), body.asset, body.amount, body.to_chain,
                    _optional(body.recipient))

    @api.post("/tx/order", response_model=TxPlan, tags=["transactions"])
    def order(body: TradeIn) -> TxPlan:
        """Commit a delayed order; a keeper fills it at the next price (GET /v1/accounts/{address}
        lists it under margin.pending_orders until then)."""
        require_margin(ctx)
        return call(unsigned.order, ctx, address(body.account), body.market, body.size, body.limit_price)

    @api.post("/tx/close", response_model=TxPlan, tags=["transactions"])
    def close(body: CloseIn) -> TxPlan:
        """Commit an order closing the whole position at any price."""
        require_margin(ctx)
        return call(unsigned.close, ctx, address(body.account), body.market)

    @api.post("/tx/vault-deposit", response_model=TxPlan, tags=["transactions"])
    def vault_deposit(body: VaultDepositIn) -> TxPlan:
        """Deposit hub USDC into the LP vault for shares."""
        require_margin(ctx)
        return call(unsigned.vault_deposit, ctx, address(body.account), body.amount)

    @api.post("/tx/vault-redeem", response_model=TxPlan, tags=["transactions"])
    def vault_redeem(body: VaultRedeemIn) -> TxPlan:
        """Queue vault shares for redemption after the vault's delay."""
        require_margin(ctx)
        return call(unsigned.vault_redeem, ctx, address(body.account), body.shares)

    @api.post("/tx/vault-execute", response_model=TxPlan, tags=["transactions"])
    def vault_execute(body: RedemptionIn) -> TxPlan:
        """Complete a queued redemption (422 saying how long it still waits when not ready)."""
        require_margin(ctx)
        return call(unsigned.vault_execute, ctx, address(body.account), body.redemption_id)

    @api.post("/tx/vault-cancel", response_model=TxPlan, tags=["transactions"])
    def vault_cancel(body: RedemptionIn) -> TxPlan:
        """Cancel a queued redemption; its shares come back."""
        require_margin(ctx)
        return call(unsigned.vault_cancel, ctx, address(body.account), body.redemption_id)

    @api.post("/tx/recover", response_model=TxPlan, tags=["transactions"])
    def recover(body: RecoverIn) -> TxPlan:
        """Redirect a parked withdrawal, or refund it to the hub balance (only its account may ask)."""
        return call(unsigned.recover, ctx, address(body.account), body.chain, body.nonce,
                    _recipient(body.new_recipient))


    @api.post("/tx/retry", response_model=TxPlan, tags=["transactions"])
    def retry(body: RetryIn) -> TxPlan:
        """Retry paying a parked withdrawal on its spoke (`Lockbox.retryRelease`; anyone may send it);
        422 saying why when it would still fail."""
        return call(unsigned.retry, ctx, address(body.account), body.chain, body.nonce)
