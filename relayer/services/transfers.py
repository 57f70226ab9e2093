"""User transfers: deposit on a spoke lockbox, request a withdrawal on the hub ledger. Sent through
the one transaction sender; a refusal is explained in the user's units, with what to do."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from relayer.chain.abi import DecodedError, decode_error, explain
from relayer.chain.sender import TxSender
from relayer.context import Context
from relayer.deployment import TokenInfo
from relayer.errors import ActionError, CallRevertedError, TransactionRevertedError
from relayer.services.units import check_amount, fmt_amount, parse_address, to_units
from relayer.types import NATIVE_TOKEN, ChainId


class TxResult(BaseModel):
    """A mined user transaction and the route nonce it produced."""

    tx_hash: str
    block_number: int
    route_nonce: int
    """Nonce of the Deposited / WithdrawalQueued message the transaction appended."""


def chain_id_of(ctx: Context, chain: str) -> ChainId:
    """Chain id from a configured chain name or a numeric id; ActionError if unknown."""
    chain_id = ctx.chain_id_of(chain)
    if chain_id is None:
        raise ActionError(f"unknown chain {chain!r}; configured: {', '.join(ctx.settings.chains)}")
    return chain_id


def transact(sender: TxSender, fn: ContractFunction, explain_error: Explainer, value: int = 0) -> TxReceipt:
    """Send `fn` and return its receipt; ActionError with a human message if it would revert (its
    custom error explained by `explain_error`) or reverted."""
    try:
        return sender.transact(fn, value=value).receipt
    except CallRevertedError as err:
        error = decode_error(err.data)
        if error is None:
            raise ActionError(f"{fn.fn_name} would revert: {err.reason}") from None
        raise explain_error.error(error) from None
    except TransactionRevertedError as err:
        raise ActionError(f"{fn.fn_name} reverted in tx {err.tx_hash}") from err


class Explainer:
    """Turns a decoded custom error into the sentence a user reads (catalog of relayer.chain.abi)."""

    def __call__(self, error: DecodedError) -> str:
        return explain(error)

    def error(self, error: DecodedError) -> ActionError:
        """The exception a refused action raises."""
        return ActionError(self(error))


class _TokenAmounts(Explainer):
    """ERC20 errors of one token in its own units and symbol."""

    def __init__(self, symbol: str, decimals: int) -> None:
        self.symbol = symbol
        self.decimals = decimals

    def __call__(self, error: DecodedError) -> str:
        amounts = {
            k: f"{fmt_amount(int(v), self.decimals)} {self.symbol}"
            for k, v in error.args.items()
            if k in ("balance", "needed", "allowance")
        }
        return explain(error, symbol=self.symbol, **amounts)


def token_of(ctx: Context, chain_id: ChainId, chain: str, token: str) -> TokenInfo:
    """A deposit token by symbol or address; ActionError listing the known ones."""
    tokens = ctx.deployment.tokens.get(chain_id, {})
    info = tokens.get(token) or next((t for t in tokens.values() if t.address.lower() == token.lower()), None)
    if info is None:
        raise ActionError(f"no token {token!r} on {chain}; known: {', '.join(tokens)}")
    return info


@dataclass(frozen=True)
class DepositPlan:
    """A checked deposit (config and deployment only, nothing sent): the SDK's sync and async
    clients and the CLI send it each their own way."""

    chain_id: ChainId
    token: TokenInfo
    symbol: str
    units: int
    beneficiary: str
    lockbox: str

    @property
    def native(self) -> bool:
        """The chain's native coin (sent as value to depositNative)."""
        return self.token.address == NATIVE_TOKEN

    def explainer(self) -> Explainer:
        """ERC20 refusals in this token's units."""
        return _TokenAmounts(self.symbol, self.token.decimals)


def plan_deposit(ctx: Context, chain: str, token: str, amount: str, account: str) -> DepositPlan:
    """Check a deposit of `amount` (whole-token decimal) of `token` (symbol or address) on spoke
    `chain` for hub `account`; ActionError saying what is wrong."""
    chain_id = spoke_of(ctx, chain, "deposit")
    info = token_of(ctx, chain_id, chain, token)
    symbol = next((s for s, t in ctx.deployment.tokens[chain_id].items() if t.address == info.address), token)
    return DepositPlan(chain_id=chain_id, token=info, symbol=symbol, units=to_units(amount, info.decimals),
                       beneficiary=parse_address(account), lockbox=ctx.deployment.spokes[chain_id].lockbox)


def appended(receipt: TxReceipt, source: Contract, event: str) -> TxResult:
    """The route message (`Deposited` or `WithdrawalQueued` of `source`) a mined transaction appended."""
    (found,) = getattr(source.events, event)().process_receipt(receipt, errors=DISCARD)
    return TxResult(
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=receipt["blockNumber"],
        route_nonce=int(found["args"]["nonce"]),
    )


def spoke_of(ctx: Context, chain: str, what: str) -> ChainId:
    """A spoke's chain id; ActionError "unknown chain" (a 400 in API v1) for the hub or an unknown chain."""
    chain_id = chain_id_of(ctx, chain)
    if chain_id not in ctx.deployment.spokes:
        spokes = ", ".join(c.name or str(c.chain_id) for c in ctx.settings.chains.values()
                           if c.chain_id in ctx.deployment.spokes)
        raise ActionError(f"unknown chain {chain!r} for a {what}: not a spoke of the deployment; spokes: {spokes}")
    return chain_id


def deposit(ctx: Context, chain: str, token: str, amount: str, account: str, key: str) -> TxResult:
    """Deposit `amount` (whole-token decimal) of `token` (symbol or address) on spoke `chain` for hub `account`."""
    plan = plan_deposit(ctx, chain, token, amount, account)
    sender = ctx.sender(key, plan.chain_id)
    lockbox = ctx.lockbox(plan.chain_id)
    explainer = plan.explainer()
    if plan.native:
        receipt = transact(sender, lockbox.functions.depositNative(plan.beneficiary), explainer, value=plan.units)
    else:
        erc20 = ctx.erc20(plan.chain_id, plan.token.address)
        transact(sender, erc20.functions.approve(lockbox.address, plan.units), explainer)
        receipt = transact(sender, lockbox.functions.deposit(plan.token.address, plan.units, plan.beneficiary),
                           explainer)
    return appended(receipt, lockbox, "Deposited")


@dataclass(frozen=True)
class WithdrawalPlan:
    """A checked withdrawal request, before the asset's decimals are read from the ledger."""

    asset: str
    asset_id: int
    dest_chain_id: ChainId
    to_chain: str
    recipient: str


def plan_withdrawal(ctx: Context, asset: str, amount: str, to_chain: str, recipient: str) -> WithdrawalPlan:
    """Check a withdrawal of `amount` of ledger asset `asset` to `recipient` on spoke `to_chain` (the
    amount's precision is checked once the asset's decimals are read)."""
    dest = spoke_of(ctx, to_chain, "withdrawal")
    asset_id = ctx.deployment.assets.get(asset)
    if asset_id is None:
        raise ActionError(f"unknown asset {asset!r}; known: {', '.join(ctx.deployment.assets)}")
    check_amount(amount)
    return WithdrawalPlan(asset=asset, asset_id=asset_id, dest_chain_id=dest, to_chain=to_chain,
                          recipient=parse_address(recipient))


def withdraw(ctx: Context, asset: str, amount: str, to_chain: str, recipient: str, key: str) -> TxResult:
    """Request a withdrawal of `amount` of ledger asset `asset` to `recipient` on spoke `to_chain`."""
    plan = plan_withdrawal(ctx, asset, amount, to_chain, recipient)
    ledger = ctx.ledger()
    _, decimals, *_ = ctx.hub.call(ledger.functions.assetInfo(plan.asset_id))
    units = to_units(amount, int(decimals))
    fn = ledger.functions.requestWithdrawal(plan.asset_id, units, plan.dest_chain_id, plan.recipient)
    refusal = WithdrawalRefusal(ctx, asset, int(decimals), to_chain)
    receipt = transact(ctx.sender(key, ctx.deployment.hub.chain_id), fn, refusal)
    return appended(receipt, ledger, "WithdrawalQueued")


class WithdrawalRefusal(Explainer):
    """A refused withdrawal in the user's units, with what to do about it."""

    def __init__(self, ctx: Context | None, asset: str, decimals: int, to_chain: str) -> None:
        self.ctx, self.asset, self.decimals, self.to_chain = ctx, asset, decimals, to_chain

    def _amount(self, ledger_units: int) -> str:
        return f"{fmt_amount(ledger_units, self.decimals)} {self.asset}"

    def _ledger_units(self, chain_id: int, token_units: int) -> int:
        """Token units on `chain_id` as ledger units of the asset (the ledger's scale for that token)."""
        assert self.ctx is not None
        ledger, hub = self.ctx.ledger(), self.ctx.hub
        token = hub.call(ledger.functions.tokenOf(chain_id, self.ctx.deployment.assets[self.asset]))
        _, scale, _ = hub.call(ledger.functions.tokenInfo(chain_id, token))
        return token_units * int(scale)

    def __call__(self, error: DecodedError) -> str:
        a = error.args
        if error.name == "WithdrawalExceedsBalance":
            return (
                f"insufficient {self.asset}: the account holds {self._amount(int(a['balance']))}, "
                f"the withdrawal needs {self._amount(int(a['amount']))}"
            )
        if error.name == "WithdrawalExceedsLiquidity" and self.ctx is None:  # no chain reads: in token units
            return (
                f"{self.to_chain}'s lockbox can pay out only {a['liquidity']} token units of {self.asset} now, "
                f"the withdrawal needs {a['tokenAmount']}: withdraw less there, or on another spoke"
            )
        if error.name == "WithdrawalExceedsLiquidity":
            held = self._ledger_units(int(a["chainId"]), int(a["liquidity"]))
            asked = self._ledger_units(int(a["chainId"]), int(a["tokenAmount"]))
            return (
                f"{self.to_chain}'s lockbox can pay out only {self._amount(held)} of {self.asset} now, "
                f"the withdrawal needs {self._amount(asked)}: withdraw less there, or on another spoke "
                f"(`xmargin account` shows what each spoke can pay)"
            )
        return explain(error)
