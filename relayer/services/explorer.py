"""Where every deposit and withdrawal stands, read from the chains and the signature store: the message
explorer, an account's pending deposits and withdrawals, and each route's history.

A route message moves through: awaiting finality (the source block is not yet `confirmations` deep),
awaiting quorum (final; fewer than the threshold of validators signed a checkpoint covering it),
awaiting delivery (a quorum signed; no submitter has delivered it yet), then applied (a deposit
credited on the hub) or, for a withdrawal, released (paid on the spoke) or parked (delayed by the
outflow limit, or the payout failed) with the batch's transaction and gas. A recovery message on a
withdrawal route (a redirect or refund of a parked release, asked on the hub) shows the release it
targets and, once applied, what the lockbox did with it; the parked withdrawal it redirected or
refunded is then `recovered`, with the same sentence.

Messages and batches come from the explorer index (relayer.services.explorer_index): each lookup
reads only the blocks since the last one, and the not-yet-final blocks afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hexbytes import HexBytes
from pydantic import BaseModel
from web3.exceptions import TransactionNotFound, Web3Exception
from web3.logs import DISCARD

from relayer.chain.abi import decode_error, explain
from relayer.context import Context
from relayer.errors import ActionError
from relayer.proofs.hashchain import DepositMessage, RouteMessage, WithdrawalMessage
from relayer.services.explorer_index import RouteSnapshot, route_snapshot
from relayer.services.units import fmt_amount, parse_address
from relayer.types import ChainId, RouteId, RouteKind

State = Literal["awaiting_finality", "awaiting_quorum", "awaiting_delivery", "applied", "released", "parked",
                "recovered"]
PARK_REASONS = {1: "delayed", 2: "failed"}
"""IReleaseQueue.ParkReason: delayed (above the outflow limit; retried as it refills), failed (payout refused)."""
MAX_PAGE = 100


class MessageView(BaseModel):
    """One route message (a deposit or a withdrawal) and where it stands."""

    route: str
    kind: str
    """deposit or withdrawal."""
    nonce: int
    source_chain: str
    dest_chain: str
    account: str
    """The hub account credited (deposit) or debited (withdrawal)."""
    counterparty: str
    """The depositor (deposit) or the recipient on the spoke (withdrawal)."""
    token: str
    symbol: str
    amount: int
    """Token units on the spoke."""
    amount_text: str
    block_number: int
    tx_hash: str
    state: State
    detail: str
    """The state in one sentence."""
    confirmations_left: int
    """Source blocks still to come before the message is final (0 once final)."""
    signers: list[str]
    """Validators that signed a checkpoint covering this message (while not yet delivered)."""
    threshold: int
    processed_tx: str | None = None
    """The destination transaction that applied the batch holding this message."""
    processed_gas: int | None = None
    """Gas used by that transaction (the whole batch)."""
    park_reason: str | None = None
    """delayed or failed, for a parked withdrawal."""
    recovery_target: int | None = None
    """For a recovery message: the nonce of the parked withdrawal it redirects (to `counterparty`)
    or refunds (counterparty zero); `amount` is then that nonce, not tokens."""


class RouteHistory(BaseModel):
    """A page of a route's messages, newest first."""

    route: str
    total: int
    offset: int
    limit: int
    items: list[MessageView]


class PendingView(BaseModel):
    """An account's deposits not yet credited and its recent withdrawals with their state."""

    address: str
    deposits: list[MessageView]
    withdrawals: list[MessageView]


class RefusedTx(BaseModel):
    """A transaction that reverted, with the contracts' reason."""

    tx_hash: str
    chain: str
    block_number: int
    state: Literal["refused"] = "refused"
    reason: str


class LookupResult(BaseModel):
    """What the explorer found for a query."""

    query: str
    messages: list[MessageView]
    refused: list[RefusedTx]


class ValidatorSignature(BaseModel):
    """The last checkpoint a validator signed on one route (from the signature store)."""

    route: str
    validator: str
    nonce: int


@dataclass
class _RouteFacts:
    """One route read once (messages from the explorer index) and how far each stage went."""

    snap: RouteSnapshot
    confirmations: int
    signers_from: dict[int, dict[bytes, set[str]]]
    """signed nonce -> head -> validators."""
    threshold: int

    @property
    def route(self) -> RouteId:
        return self.snap.route


def _facts(ctx: Context, route: RouteId) -> _RouteFacts:
    snap = route_snapshot(ctx, route)
    signed = {
        n: {h: set(sigs) for h, sigs in ctx.store.signatures_for(route, n).items()}
        for n in ctx.store.signed_nonces(route)
        if n > snap.processed
    }
    confirmations = next(c.confirmations for c in ctx.settings.chains.values() if c.chain_id == route.source_chain_id)
    return _RouteFacts(snap=snap, confirmations=confirmations, signers_from=signed, threshold=ctx.deployment.threshold)


def _symbol(ctx: Context, chain_id: int, token: str) -> tuple[str, int]:
    """(symbol, decimals) of a deployment token (the address and 18 if unknown)."""
    for symbol, info in ctx.deployment.tokens.get(ChainId(chain_id), {}).items():
        if info.address.lower() == token.lower():
            return symbol, info.decimals
    return token, 18


def _view(ctx: Context, facts: _RouteFacts, msg: RouteMessage) -> MessageView:
    route = facts.route
    deposit = route.kind is RouteKind.DEPOSIT
    body = msg.message
    spoke = route.source_chain_id if deposit else route.dest_chain_id
    symbol, decimals = _symbol(ctx, spoke, body.token)
    counterparty = body.depositor if isinstance(body, DepositMessage) else body.recipient
    left = max(0, msg.block_number + facts.confirmations - facts.snap.source_head)
    """Final once the block is `confirmations` below the head."""
    view = MessageView(
        route=str(route), kind=route.kind.value, nonce=msg.nonce, source_chain=ctx.chain_name(route.source_chain_id),
        dest_chain=ctx.chain_name(route.dest_chain_id), account=body.account, counterparty=counterparty,
        token=body.token, symbol=symbol, amount=body.amount, amount_text=fmt_amount(body.amount, decimals),
        block_number=msg.block_number, tx_hash="0x" + msg.tx_hash.hex(), state="awaiting_finality", detail="",
        confirmations_left=left, signers=[], threshold=facts.threshold,
    )
    if isinstance(body, WithdrawalMessage) and body.is_recovery:
        view.recovery_target = int(body.amount)
        view.symbol = "(recovery)"
        what = "refund to the hub balance" if body.is_refund else f"redirect to {body.recipient}"
        view.amount_text = f"{what} of withdrawal {body.amount}"
    if msg.nonce <= facts.snap.processed:
        return _delivered(ctx, facts, view)
    covering = {n: heads for n, heads in facts.signers_from.items() if n >= msg.nonce}
    signers = sorted({v for heads in covering.values() for vs in heads.values() for v in vs})
    view.signers = signers
    if left > 0:
        view.detail = f"awaiting finality: {left} more block(s) on {view.source_chain}"
        return view
    if any(len(vs) >= facts.threshold for heads in covering.values() for vs in heads.values()):
        view.state = "awaiting_delivery"
        view.detail = f"quorum reached ({len(signers)} of {facts.threshold} needed); awaiting a submitter"
    else:
        view.state = "awaiting_quorum"
        view.detail = f"awaiting quorum: {len(signers)} of {facts.threshold} validators signed"
    return view


def _delivered(ctx: Context, facts: _RouteFacts, view: MessageView) -> MessageView:
    """An applied message: the batch transaction and its gas; a withdrawal released or parked."""
    batch = facts.snap.batch_of(view.nonce)
    if batch is not None:
        view.processed_tx = "0x" + batch.tx_hash.hex()
        view.processed_gas = facts.snap.gas_of(batch)
    if facts.route.kind is RouteKind.DEPOSIT:
        view.state = "applied"
        view.detail = f"credited on {view.dest_chain}"
        return view
    if view.recovery_target is not None:
        return _recovery_outcome(ctx, facts, view)
    lockbox = ctx.lockbox(facts.route.dest_chain_id)
    pending = ctx.client(facts.route.dest_chain_id).call(lockbox.functions.pendingRelease(view.nonce))
    reason = int(pending[1])
    if reason:
        view.state = "parked"
        view.park_reason = PARK_REASONS.get(reason, str(reason))
        why = "above the outflow rate limit (retry as it refills)" if reason == 1 else "the payout failed"
        view.detail = (
            f"parked on {view.dest_chain}: {why}; anyone may retry it once the cause is gone "
            "(`xmargin withdrawals retry`), the account may redirect or refund it from the hub "
            "(`xmargin withdrawals redirect|refund`)"
        )
    else:
        view.state = "released"
        view.detail = f"released to {view.counterparty} on {view.dest_chain}"
        recovered = _recovered_by(ctx, facts, view.nonce)
        if recovered is not None:
            view.state = "recovered"
            view.detail = recovered
    return view


def _recovered_by(ctx: Context, facts: _RouteFacts, nonce: int) -> str | None:
    """What a delivered recovery message did to release `nonce` (redirected or refunded), if one did."""
    for msg in facts.snap.messages():
        body = msg.message
        if not (isinstance(body, WithdrawalMessage) and body.is_recovery and int(body.amount) == nonce):
            continue
        if msg.nonce > facts.snap.processed:
            continue
        outcome = _view(ctx, facts, msg).detail
        if outcome.startswith(f"withdrawal {nonce} "):  # redirected / refunded, not rejected
            return outcome
    return None


RECOVERY_REJECTIONS = {1: "the release was not parked (paid, refunded or never parked)",
                       2: "the release belongs to another hub account", 3: "the new recipient cannot be paid"}
"""IReleaseRecovery.RecoveryRejection."""


def _recovery_outcome(ctx: Context, facts: _RouteFacts, view: MessageView) -> MessageView:
    """What the lockbox did with an applied recovery message, from its batch's receipt."""
    view.state = "applied"
    view.detail = f"applied on {view.dest_chain}"
    if view.processed_tx is None:
        return view
    lockbox = ctx.lockbox(facts.route.dest_chain_id)
    receipt = facts.snap.reader.dest_client.w3.eth.get_transaction_receipt(HexBytes(view.processed_tx))
    target = view.recovery_target
    for name in ("ReleaseRedirected", "ReleaseRefunded", "ReleaseRecoveryRejected"):
        for event in getattr(lockbox.events, name)().process_receipt(receipt, errors=DISCARD):
            args = event["args"]
            if int(args["recoveryNonce"]) != view.nonce:
                continue
            if name == "ReleaseRedirected":
                view.detail = f"withdrawal {target} redirected to {args['newRecipient']} on {view.dest_chain}"
            elif name == "ReleaseRefunded":
                view.detail = (
                    f"withdrawal {target} refunded: deposit {args['depositNonce']} from the lockbox credits "
                    f"{args['account']} on the hub"
                )
            else:
                why = RECOVERY_REJECTIONS.get(int(args["reason"]), str(args["reason"]))
                view.detail = f"rejected by {view.dest_chain}: {why}"
    return view


def _routes(ctx: Context, kind: RouteKind | None = None) -> list[RouteId]:
    return [r for r in ctx.deployment.routes() if kind is None or r.kind is kind]


def route_of(ctx: Context, text: str) -> RouteId:
    """A route of the deployment from its id text; ActionError listing the routes otherwise."""
    for route in ctx.deployment.routes():
        if str(route) == text:
            return route
    raise ActionError(f"unknown route {text!r}; routes: {', '.join(str(r) for r in ctx.deployment.routes())}")


def route_history(ctx: Context, route_text: str, offset: int = 0, limit: int = 20) -> RouteHistory:
    """Messages of a route, newest first, `limit` (at most MAX_PAGE) from `offset`."""
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise ActionError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    facts = _facts(ctx, route_of(ctx, route_text))
    page = [_view(ctx, facts, m) for m in facts.snap.newest(offset, limit)]
    return RouteHistory(route=route_text, total=len(facts.snap), offset=offset, limit=limit, items=page)


def account_messages(ctx: Context, address: str) -> list[MessageView]:
    """Every deposit and withdrawal of an account, newest block first."""
    address = parse_address(address)
    out = []
    for route in _routes(ctx):
        facts = _facts(ctx, route)
        out += [_view(ctx, facts, m) for m in facts.snap.of_account(address)]
    return sorted(out, key=lambda v: (-v.block_number, v.route, -v.nonce))


def pending(ctx: Context, address: str, withdrawals: int = 20) -> PendingView:
    """Deposits not yet credited, and the last `withdrawals` withdrawals with their state."""
    address = parse_address(address)
    messages = account_messages(ctx, address)
    deps = [m for m in messages if m.kind == RouteKind.DEPOSIT.value and m.state != "applied"]
    outs = [m for m in messages if m.kind == RouteKind.WITHDRAWAL.value][:withdrawals]
    return PendingView(address=address, deposits=deps, withdrawals=outs)


def lookup(ctx: Context, query: str, route_text: str | None = None) -> LookupResult:
    """The explorer: by account (an address), by transaction hash (0x + 64 hex), or by nonce (with a route)."""
    query = query.strip()
    if route_text is not None:
        route = route_of(ctx, route_text)
        try:
            nonce = int(query)
        except ValueError:
            raise ActionError(f"nonce {query!r} is not a number") from None
        facts = _facts(ctx, route)  # input checked first: a malformed query is a 400 even with a chain down
        found = [_view(ctx, facts, m) for m in facts.snap.of_nonce(nonce)]
        return LookupResult(query=query, messages=found, refused=[])
    body = query.lower().removeprefix("0x")
    if len(body) == 64 and all(c in "0123456789abcdef" for c in body):
        return _by_tx(ctx, "0x" + body)
    if len(body) == 40:
        return LookupResult(query=query, messages=account_messages(ctx, query), refused=[])
    raise ActionError(
        f"not an account, transaction hash or nonce: {query!r} (an address is 0x + 40 hex digits, "
        f"a transaction hash 0x + 64; a nonce needs a route)"
    )


def _by_tx(ctx: Context, tx_hash: str) -> LookupResult:
    messages = []
    for route in _routes(ctx):
        facts = _facts(ctx, route)
        messages += [_view(ctx, facts, m) for m in facts.snap.of_tx(tx_hash)]
    refused = [] if messages else _refused(ctx, tx_hash)
    return LookupResult(query=tx_hash, messages=messages, refused=refused)


def _refused(ctx: Context, tx_hash: str) -> list[RefusedTx]:
    """A reverted transaction on any chain, with its reason (the call replayed at its parent block)."""
    for client in ctx.clients.values():
        w3 = client.w3
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            continue
        if receipt["status"] == 1:
            return []
        tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
        reason = "reverted (no reason given)"
        try:
            w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except Web3Exception as err:
            data = getattr(err, "data", None)
            error = decode_error(data) if isinstance(data, str | bytes) else None
            reason = explain(error) if error is not None else str(err)
        return [RefusedTx(tx_hash=tx_hash, chain=client.name, block_number=receipt["blockNumber"], reason=reason)]
    return []


def validator_signatures(ctx: Context) -> list[ValidatorSignature]:
    """Per route and validator, the highest nonce it has a signature for in the store."""
    out = []
    for route in _routes(ctx):
        last: dict[str, int] = {}
        for nonce in sorted(ctx.store.signed_nonces(route), reverse=True)[:50]:
            for sigs in ctx.store.signatures_for(route, nonce).values():
                for validator in sigs:
                    last.setdefault(validator, nonce)
        out += [ValidatorSignature(route=str(route), validator=v, nonce=n) for v, n in sorted(last.items())]
    return out
