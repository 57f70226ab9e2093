"""Unsigned transactions for the user's own wallet (an injected EIP-1193 wallet in the web app, or an
integrator's signer): the same actions as relayer.services.transfers, trading, vault and recovery,
built here and signed and sent by the wallet, never by the server.

Each plan is checked first: the last step is simulated (`eth_call` from the account) and a refusal
is raised as ActionError in the same words as the server-signed actions, before the wallet is asked
to sign anything. A deposit whose allowance is short starts with the ERC20 approval (its deposit
step is then checked against the balance only: it cannot be simulated before the approval is mined).
"""

from __future__ import annotations

from pydantic import BaseModel
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception
from web3.types import TxParams, Wei

from relayer.chain.abi import decode_error, revert_data
from relayer.context import Context
from relayer.errors import ActionError, ChainCallError, TradeRejectedError
from relayer.proofs.hashchain import ZERO_ADDRESS
from relayer.services import recovery
from relayer.services.trading import TradeRefusal
from relayer.services.transfers import Explainer, WithdrawalRefusal, chain_id_of, plan_deposit
from relayer.services.units import fmt_amount, parse_address, parse_price, parse_size, to_units
from relayer.services.vault import VaultRefusal, parse_shares
from relayer.types import UINT256_MAX


class UnsignedTx(BaseModel):
    """One transaction for the wallet to sign and send (`eth_sendTransaction` from the account)."""

    chain_id: int
    """Chain to send it on (the wallet switches to it first: `wallet_switchEthereumChain`)."""
    to: str
    data: str
    """0x-hex calldata."""
    value: str = "0x0"
    """Wei to send, 0x-hex as JSON-RPC takes it (exact beyond 2^53, unlike a JSON number)."""
    description: str
    """What the step does, for the person asked to sign it."""


class TxPlan(BaseModel):
    """The transactions of one action, to be sent in order, each mined before the next is sent."""

    account: str
    """The wallet account that must send them."""
    steps: list[UnsignedTx]


def _step(chain_id: int, fn: ContractFunction, description: str, value: int = 0) -> UnsignedTx:
    return UnsignedTx(chain_id=chain_id, to=str(fn.address), data=str(fn._encode_transaction_data()),
                      value=hex(value), description=description)


def simulate(ctx: Context, chain_id: int, account: str, fn: ContractFunction, explainer: Explainer,
             value: int = 0) -> None:
    """ActionError in the user's words if `fn` sent by `account` would revert now."""
    client = ctx.client(chain_id)
    params: TxParams = {"from": account, "to": fn.address, "data": fn._encode_transaction_data(), "value": Wei(value)}
    try:
        client.w3.eth.call(params)
    except (ContractCustomError, ContractLogicError) as err:
        error = decode_error(revert_data(err))
        if error is None:
            raise ActionError(f"{fn.fn_name} would revert: {getattr(err, 'message', None) or err}") from None
        raise explainer.error(error) from None
    except Web3Exception as err:
        raise ChainCallError(client.name, f"eth_call {fn.fn_name}", str(err)) from err


def deposit(ctx: Context, account: str, chain: str, token: str, amount: str, beneficiary: str | None) -> TxPlan:
    """Deposit `amount` of `token` on spoke `chain` from `account` for `beneficiary` (default: itself):
    the approval first when the lockbox's allowance is short."""
    sender = parse_address(account)
    # the same checks as every other deposit path (a spoke, a known token, units)
    plan = plan_deposit(ctx, chain, token, amount, beneficiary or sender)
    chain_id, info, symbol, units, credited = plan.chain_id, plan.token, plan.symbol, plan.units, plan.beneficiary
    lockbox = ctx.lockbox(chain_id)
    client = ctx.client(chain_id)
    explainer = plan.explainer()
    what = f"deposit {amount} {symbol} on {ctx.chain_name(chain_id)} for {credited}"
    if plan.native:
        fn = lockbox.functions.depositNative(credited)
        simulate(ctx, chain_id, sender, fn, explainer, value=units)
        return TxPlan(account=sender, steps=[_step(chain_id, fn, what, value=units)])
    erc20 = ctx.erc20(chain_id, info.address)
    held = int(client.call(erc20.functions.balanceOf(sender)))
    if held < units:
        raise ActionError(f"insufficient {symbol}: {sender} holds {fmt_amount(held, info.decimals)} {symbol} on "
                          f"{ctx.chain_name(chain_id)}, the deposit needs {amount} {symbol}")
    fn = lockbox.functions.deposit(info.address, units, credited)
    steps = []
    if int(client.call(erc20.functions.allowance(sender, lockbox.address))) < units:
        steps.append(_step(chain_id, erc20.functions.approve(lockbox.address, units),
                           f"approve the lockbox to take {amount} {symbol}"))
    else:
        simulate(ctx, chain_id, sender, fn, explainer)
    return TxPlan(account=sender, steps=[*steps, _step(chain_id, fn, what)])


def _hub_plan(ctx: Context, account: str, fn: ContractFunction, explainer: Explainer, what: str) -> TxPlan:
    """A one-step plan on the hub, simulated first."""
    hub = ctx.deployment.hub.chain_id
    simulate(ctx, hub, account, fn, explainer)
    return TxPlan(account=account, steps=[_step(hub, fn, what)])


def withdraw(ctx: Context, account: str, asset: str, amount: str, to_chain: str, recipient: str | None) -> TxPlan:
    """Request a withdrawal from `account`'s hub balance to `recipient` (default: itself) on `to_chain`."""
    sender = parse_address(account)
    dest = chain_id_of(ctx, to_chain)
    asset_id = ctx.deployment.assets.get(asset)
    if asset_id is None:
        raise ActionError(f"unknown asset {asset!r}; known: {', '.join(ctx.deployment.assets)}")
    ledger = ctx.ledger()
    _, decimals, *_ = ctx.hub.call(ledger.functions.assetInfo(asset_id))
    to = parse_address(recipient) if recipient else sender
    fn = ledger.functions.requestWithdrawal(asset_id, to_units(amount, int(decimals)), dest, to)
    refusal = WithdrawalRefusal(ctx, asset, int(decimals), to_chain)
    return _hub_plan(ctx, sender, fn, refusal, f"withdraw {amount} {asset} to {to} on {ctx.chain_name(dest)}")


def order(ctx: Context, account: str, market: str, size: str, limit_price: str | None) -> TxPlan:
    """Commit a delayed order of `size` (positive buys) in `market`; a keeper settles it at the first
    price published after the minimum delay, if within `limit_price` (default: any price)."""
    sender = parse_address(account)
    contracts = ctx.margin()
    name = contracts.market_name(market)
    delta = parse_size(size)
    limit = parse_price(limit_price) if limit_price is not None else (UINT256_MAX if delta > 0 else 0)
    fn = contracts.market(name).functions.commitOrder(delta, limit)
    side, bound = ("buy", "at most") if delta > 0 else ("sell", "at least")
    price = "at any price" if limit_price is None else f"{bound} {limit_price}"
    return _hub_plan(ctx, sender, fn, TradeRefusal(contracts, sender, name, delta),
                     f"order: {side} {size.lstrip('-')} {name} {price} (a keeper fills it at the next price)")


def close(ctx: Context, account: str, market: str) -> TxPlan:
    """Commit an order closing `account`'s whole `market` position at any price."""
    sender = parse_address(account)
    contracts = ctx.margin()
    name = contracts.market_name(market)
    size, *_ = contracts.client.call(contracts.market(name).functions.positions(sender))
    if int(size) == 0:
        raise TradeRejectedError("MarketSizeDeltaZero", f"no {name} position to close")
    fn = contracts.market(name).functions.commitOrder(-int(size), 0 if int(size) > 0 else UINT256_MAX)
    return _hub_plan(ctx, sender, fn, TradeRefusal(contracts, sender, name, -int(size)),
                     f"order: close the {fmt_amount(int(size), 18)} {name} position at any price")


def vault_deposit(ctx: Context, account: str, amount: str) -> TxPlan:
    """Deposit `amount` USDC of `account`'s hub balance into the LP vault."""
    sender = parse_address(account)
    contracts = ctx.margin()
    fn = contracts.vault.functions.deposit(to_units(amount, 18))
    return _hub_plan(ctx, sender, fn, VaultRefusal(contracts), f"deposit {amount} USDC into the LP vault")


def vault_redeem(ctx: Context, account: str, shares: str) -> TxPlan:
    """Queue `shares` (decimal, or `all`) of `account` for redemption after the vault's delay."""
    sender = parse_address(account)
    contracts = ctx.margin()
    if shares.strip().lower() == "all":
        units = int(contracts.client.call(contracts.vault.functions.sharesOf(sender)))
        if units == 0:
            raise ActionError(f"{sender} holds no vault shares")
    else:
        units = parse_shares(shares)
    fn = contracts.vault.functions.requestRedeem(units)
    return _hub_plan(ctx, sender, fn, VaultRefusal(contracts),
                     f"queue {fmt_amount(units, 18)} vault shares for redemption")


def vault_execute(ctx: Context, account: str, redemption_id: int) -> TxPlan:
    """Execute queued redemption `redemption_id` (its owner is paid; anyone may send it)."""
    sender = parse_address(account)
    contracts = ctx.margin()
    fn = contracts.vault.functions.executeRedeem(redemption_id)
    return _hub_plan(ctx, sender, fn, VaultRefusal(contracts), f"complete vault redemption {redemption_id}")


def vault_cancel(ctx: Context, account: str, redemption_id: int) -> TxPlan:
    """Cancel `account`'s queued redemption `redemption_id`; its shares come back."""
    sender = parse_address(account)
    contracts = ctx.margin()
    fn = contracts.vault.functions.cancelRedeem(redemption_id)
    return _hub_plan(ctx, sender, fn, VaultRefusal(contracts), f"cancel vault redemption {redemption_id}")


def recover(ctx: Context, account: str, to_chain: str, nonce: int, new_recipient: str | None) -> TxPlan:
    """Ask the ledger to redirect `account`'s parked release `nonce` on `to_chain` to `new_recipient`,
    or (None) refund it to the hub balance (relayer.services.recovery: checked on the spoke first)."""
    sender = parse_address(account)
    dest = chain_id_of(ctx, to_chain)
    target = ZERO_ADDRESS if new_recipient is None else parse_address(new_recipient)
    if target == ZERO_ADDRESS and new_recipient is not None:
        raise ActionError("the new recipient is the zero address: refund it to the hub balance instead")
    recovery.check_recoverable(ctx, dest, nonce, sender, target)
    fn = ctx.ledger().functions.requestReleaseRecovery(dest, nonce, target)
    what = f"redirect withdrawal {nonce} on {ctx.chain_name(dest)} to {target}" if new_recipient \
        else f"refund withdrawal {nonce} parked on {ctx.chain_name(dest)} to the hub balance"
    return _hub_plan(ctx, sender, fn, recovery.RecoveryRefusal(to_chain), what)


def retry(ctx: Context, account: str, to_chain: str, nonce: int) -> TxPlan:
    """Retry paying release `nonce` parked on `to_chain` to its recorded recipient, sent by `account`
    on the spoke (anyone may); refused in words while it would still fail (relayer.services.recovery)."""
    sender = parse_address(account)
    dest, fn = recovery.retry_call(ctx, to_chain, nonce)
    chain = ctx.chain_name(dest)
    simulate(ctx, dest, sender, fn, recovery.RetryRefusal(chain, nonce))
    return TxPlan(account=sender, steps=[_step(dest, fn, f"retry paying withdrawal {nonce} parked on {chain}")])
