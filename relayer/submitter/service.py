"""Submitter: deliver the longest quorum-signed batch of a route to its destination contract.

The destination's processed nonce is the truth. Signatures come from Redis but are re-verified
off-chain against the destination's current validator set; messages come from the submitter's own
reading of the source chain and must fold to the signed head. A batch another submitter delivered
first reverts with BatchNonceMismatch: that is reported as delivered-by-someone-else, not an error.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, SecretStr
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import DecodedError, abi_of, decode_error, revert_data
from relayer.chain.client import ChainClient
from relayer.chain.deferred import spoke_queues
from relayer.chain.routes import DEST_CONTRACT, RouteReader
from relayer.chain.sender import FeePolicy, PendingTx, TxRequest, TxSender
from relayer.config import SubmitterConfig
from relayer.deployment import Deployment
from relayer.errors import (
    CallRevertedError,
    HeadMismatchError,
    LockUnavailableError,
    NonceTakenError,
    SimulationRevertedError,
    SubmitError,
    XmarginError,
)
from relayer.proofs.hashchain import RouteMessage, check_chain
from relayer.store.lease import lease
from relayer.store.nonces import shared_nonces
from relayer.store.redis_store import Store
from relayer.submitter.quorum import QuorumChoice, quorum_candidates
from relayer.submitter.sizing import BatchSizer, quorum_window
from relayer.submitter.source import SourceMessages
from relayer.submitter.window import Outcome, Window, classify
from relayer.types import ChainId, RouteId, RouteKind

log = logging.getLogger(__name__)

RELEASE_CHECK_S = 3.0
"""How often a deposit route's tick looks for deferred deposits to release (a few hub calls)."""
RELEASE_MAX_ENTRIES = 100
"""Most queued deposits one `releaseDeferred` credits (at most ~65k gas each: well inside a hub block)."""

ROUTE_LEASE_TTL_S = 15.0
"""A delivery holds its route's lease (renewed while it works); a killed submitter frees it this fast."""


MAX_RECOVERIES_PER_TICK = 3
"""Windows one tick may restart after a batch that did not apply; then the next tick goes on."""
NEW_CHECKPOINT_POLL_S = 0.5
"""While batches are in flight, how often Redis is asked for newly signed checkpoints."""

BATCH_NONCE_MISMATCH = "BatchNonceMismatch"
"""The destination's answer to a batch that does not continue the route (already delivered)."""


class SubmitResult(BaseModel):
    """What one submitter tick of one route did."""

    model_config = ConfigDict(frozen=True)

    route: str
    processed_nonce: int
    """Destination's processed nonce when the tick started."""
    delivered: bool = False
    first_nonce: int | None = None
    last_nonce: int | None = None
    tx_hash: str | None = None
    gas_used: int | None = None
    batches: int = 0
    """Batches this tick delivered (several may be in flight at once)."""
    not_applied: int = 0
    """Batches this tick sent that reverted (delivered by someone else first, or behind one that failed)."""
    recoveries: int = 0
    """Times the tick resent from the destination's processed nonce after a batch did not apply."""
    reason: str
    """delivered | up-to-date | no-quorum | busy | delivered-by-other"""
    released: dict[str, str] = {}
    """Deposit routes: asset -> tx hash of a `releaseDeferred` this tick sent (queued deposits credited)."""


@dataclass
class _Batch:
    """What the submitter keeps about one batch in flight."""

    pending: PendingTx
    size: int
    last_block: int
    """Source block of the batch's last message (a lower bound for the next fetch)."""
    simulated: bool
    tx_hash: str = ""
    gas_used: int = 0
    why: str = ""
    """Why it did not apply, when it did not."""
    simulated_failure: bool = False


def _dest_error(err: BaseException) -> DecodedError | None:
    """The destination's custom error in a revert, if any."""
    return decode_error(revert_data(err))


def is_batch_nonce_mismatch(err: BaseException) -> bool:
    """True if a revert is BatchNonceMismatch (the batch was already delivered, or overlaps)."""
    error = _dest_error(err)
    return error is not None and error.name == BATCH_NONCE_MISMATCH


def describe_revert(err: BaseException) -> str:
    """Short text of a revert: the decoded custom error, or the node's message."""
    error = _dest_error(err)
    return str(error) if error is not None else str(err)


def within_batch(candidates: Iterable[QuorumChoice], processed: int, max_batch: int) -> Iterator[QuorumChoice]:
    """The candidates (highest first) that keep the batch within `max_batch`; if none does, the
    smallest one: validators only promise a checkpoint every MAX_BATCH nonces and at block ends, so
    a smaller configured batch must give way rather than stall the route. Lazy: signatures of
    nonces below the first fitting candidate are only recovered if that one is refused."""
    smallest_too_big: QuorumChoice | None = None
    fitted = False
    for choice in candidates:
        if choice.nonce - processed <= max_batch:
            fitted = True
            yield choice
        else:
            smallest_too_big = choice
    if not fitted and smallest_too_big is not None:
        yield smallest_too_big


class Submitter:
    """Delivers quorum-signed batches from one sending account, on any destination chain."""

    def __init__(
        self,
        config: SubmitterConfig,
        store: Store,
        deployment: Deployment,
        clients: Mapping[int, ChainClient],
        fee_policy: FeePolicy | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.deployment = deployment
        self.clients = clients
        key: SecretStr = config.key
        self.account: LocalAccount = Account.from_key(key.get_secret_value())
        self.fee_policy = fee_policy or FeePolicy(stuck_after_s=config.stuck_after_s, bump_pct=config.fee_bump_pct)
        self._readers: dict[RouteId, RouteReader] = {}
        self._senders: dict[ChainId, TxSender] = {}
        self.source = SourceMessages(deployment, self.reader)
        self._gas_limits: dict[ChainId, int] = {}
        self.sizer = BatchSizer(block_gas_share=config.block_gas_share, ceiling=config.max_batch)
        self._last_alarm: dict[RouteId, str] = {}
        self._release_checked: dict[RouteId, float] = {}

    # wiring ------------------------------------------------------------------------------

    def reader(self, route: RouteId) -> RouteReader:
        """The route's reader (cached)."""
        if route not in self._readers:
            self._readers[route] = RouteReader(route, self.deployment, self.clients)
        return self._readers[route]

    def sender(self, chain_id: ChainId) -> TxSender:
        """The transaction sender of this account on `chain_id` (nonces under the shared Redis lock)."""
        if chain_id not in self._senders:
            client = self.clients[chain_id]
            address = self.account.address
            nonces = shared_nonces(
                self.store, chain_id, address, lambda: client.w3.eth.get_transaction_count(address, "pending")
            )
            self._senders[chain_id] = TxSender(
                client.w3, self.account, chain_id, nonces, self.fee_policy, chain=client.name
            )
        return self._senders[chain_id]

    def dest_contract(self, route: RouteId) -> Contract:
        """The destination contract (process functions, validator set) with its compiled ABI."""
        reader = self.reader(route)
        address = Web3.to_checksum_address(reader.dest_address)
        return reader.dest_client.w3.eth.contract(address=address, abi=abi_of(DEST_CONTRACT[route.kind]))

    def _block_gas_limit(self, chain_id: ChainId) -> int:
        """The destination's block gas limit (read once: it moves slowly if at all)."""
        if chain_id not in self._gas_limits:
            self._gas_limits[chain_id] = int(self.clients[chain_id].get_block("latest")["gasLimit"])
        return self._gas_limits[chain_id]

    # the tick ----------------------------------------------------------------------------

    def tick(self, route: RouteId) -> SubmitResult:
        """Deliver the highest quorum-signed checkpoint above the destination's processed nonce."""
        try:
            with lease(self.store, f"submit:{route}", ttl_s=ROUTE_LEASE_TTL_S):
                result = self._deliver(route)
                if route.kind is RouteKind.DEPOSIT and self._release_due(route):
                    released = self._release_deferred(route)
                    if released:
                        result = result.model_copy(update={"released": released})
                return result
        except LockUnavailableError:
            processed = self.reader(route).dest_state().nonce
            return SubmitResult(route=str(route), processed_nonce=processed, reason="busy")

    def _deliver(self, route: RouteId) -> SubmitResult:
        """The body of `tick`, under the route's lock: keep up to `max_in_flight` batches in flight
        for `pipeline_s` (each sent without waiting for the one before it: consecutive transaction
        nonces land in order), confirm them in order, recover from a batch that did not apply by
        sending again from the chain's processed nonce, and end once every batch is confirmed."""
        reader = self.reader(route)
        dest = self.dest_contract(route)
        processed, stored_head = reader.dest_state()
        window: Window[_Batch] = Window(base=processed, size=self.config.max_in_flight)
        quorum = self._quorum_rules(route, dest)
        head = stored_head
        reason = "up-to-date"
        deadline = time.monotonic() + self.config.pipeline_s
        next_look = 0.0
        started = False
        try:
            while True:
                progressed = self._confirm(route, window)
                if window.needs_resume():
                    if window.recoveries >= MAX_RECOVERIES_PER_TICK:
                        break
                    now_processed, head = reader.dest_state()
                    window.resume(now_processed)
                    # what was refused before the resume ("nothing signed above the window") is
                    # stale: the batches to send again are signed, so plan them now
                    next_look = 0.0
                    log.info("route %s: sending again from the destination's processed nonce %d", route,
                             now_processed, extra={"route": str(route), "nonce": now_processed})
                now = time.monotonic()
                if window.can_send() and now >= next_look and (not started or now < deadline):
                    try:
                        planned = self._plan(route, dest, window.next_first - 1, head, quorum)
                        refused = planned if isinstance(planned, str) else self._send(route, dest, window, *planned)
                    except XmarginError as err:
                        if window.empty:
                            raise
                        # batches are in flight: confirm them (they may well land); the next tick
                        # meets the error again if it lasts
                        log.warning("route %s: sending stopped (%s); confirming the %d in flight", route, err,
                                    len(window.batches), extra={"route": str(route)})
                        deadline = now
                        continue
                    if refused is None:
                        assert not isinstance(planned, str)
                        head, started = planned[0].head, True
                        continue  # fill the window before looking at receipts again
                    reason, next_look = refused, now + NEW_CHECKPOINT_POLL_S
                if window.empty:
                    break  # nothing in flight and nothing more to send now (or the tick's time is up)
                if not progressed:
                    time.sleep(self.fee_policy.poll_s)
        finally:
            lost = window.abandon()
            if lost:  # an error ends the tick: their transactions may still land, the chain decides
                log.warning("route %s: %d batches left unconfirmed (the next tick reads the chain)", route,
                            len(lost), extra={"route": str(route)})
        return self._result(route, processed, window, reason)

    def _result(self, route: RouteId, processed: int, window: Window[_Batch], reason: str) -> SubmitResult:
        """What the tick did, from its window's confirmations."""
        failed = [b for b in window.failed if b.data.simulated_failure]
        if failed:  # a simulated batch reverted on chain for a reason other than the route's nonce
            item = failed[-1]
            raise SubmitError(f"route {route}: batch tx {item.data.tx_hash} reverted: {item.data.why}")
        delivered = window.delivered
        if delivered:
            return SubmitResult(
                route=str(route), processed_nonce=processed, delivered=True, first_nonce=delivered[0].first,
                last_nonce=delivered[-1].last, tx_hash=delivered[-1].data.tx_hash,
                gas_used=sum(b.data.gas_used for b in delivered), batches=len(delivered),
                not_applied=len(window.by_other) + len(window.failed), recoveries=window.recoveries,
                reason="delivered",
            )
        if window.by_other:
            other = window.by_other
            return SubmitResult(
                route=str(route), processed_nonce=processed, first_nonce=other[0].first, last_nonce=other[-1].last,
                tx_hash=other[-1].data.tx_hash, not_applied=len(other) + len(window.failed),
                recoveries=window.recoveries, reason="delivered-by-other",
            )
        return SubmitResult(route=str(route), processed_nonce=processed, not_applied=len(window.failed),
                            recoveries=window.recoveries, reason=reason)

    def _quorum_rules(self, route: RouteId, dest: Contract) -> tuple[list[str], int]:
        """The destination's current validators and threshold for the route's source (read once a tick)."""
        client = self.reader(route).dest_client
        validators = list(client.call(dest.functions.validatorsOf(route.source_chain_id)))
        threshold = int(client.call(dest.functions.thresholdOf(route.source_chain_id)))
        return validators, threshold

    def _plan(
        self, route: RouteId, dest: Contract, after: int, head: bytes, quorum: tuple[list[str], int]
    ) -> tuple[QuorumChoice, list[RouteMessage]] | str:
        """The next batch after nonce `after` (whose head is `head`): the highest quorum-signed
        checkpoint within the cap, with its messages from the source chain; or why there is none
        (up-to-date | no-quorum)."""
        reader = self.reader(route)
        cap = self.sizer.cap(route, self._block_gas_limit(ChainId(route.dest_chain_id)))
        look = quorum_window(cap)
        window = range(after + 1, after + look + 1)
        nonces = [n for n in self.store.signed_nonces(route) if n in window]
        if not nonces:
            return "up-to-date"
        book = self.store.signatures_for_many(route, nonces)
        validators, threshold = quorum
        candidates = within_batch(
            quorum_candidates(
                book, processed_nonce=after, max_batch=look, validators=validators,
                threshold=threshold, source_chain_id=route.source_chain_id, source=reader.source_address,
                dest_chain_id=route.dest_chain_id, dest_contract=reader.dest_address,
            ),
            after,
            cap,
        )
        top = next(candidates, None)
        if top is None:
            return "no-quorum"
        messages = self.source.fetch(route, after + 1, top.nonce)
        choice = self._matching(route, itertools.chain([top], candidates), head, messages)
        return choice, messages[: choice.nonce - after]

    def _matching(
        self,
        route: RouteId,
        candidates: Iterator[QuorumChoice],
        stored_head: bytes,
        messages: Sequence[RouteMessage],
    ) -> QuorumChoice:
        """The first candidate (highest first) whose head the source chain's messages reproduce. A
        quorum over a head the chain does not show means validators (or this node) disagree with
        the chain: alarm and refuse."""
        heads: dict[int, bytes] = {}
        head = stored_head
        for item in messages:
            head = check_chain(head, item.nonce - 1, [item])
            heads[item.nonce] = head
        first: QuorumChoice | None = None
        for choice in candidates:
            first = first or choice
            if heads.get(choice.nonce) == choice.head:
                return choice
        assert first is not None
        err = HeadMismatchError(first.nonce, heads.get(first.nonce, bytes(32)), first.head, route)
        text = f"submitter: quorum-signed head differs from the source chain: {err}"
        if self._last_alarm.get(route) != text:  # ticks repeat: one alarm per distinct problem
            self._last_alarm[route] = text
            self.store.raise_alarm(route, text)
        raise err

    def _send(
        self,
        route: RouteId,
        dest: Contract,
        window: Window[_Batch],
        choice: QuorumChoice,
        batch: Sequence[RouteMessage],
    ) -> str | None:
        """Broadcast the batch without waiting for it. The first of a window (the chain's state is
        its base) is simulated and its gas estimated; one behind an unconfirmed batch cannot be
        simulated (the chain has not reached its start yet), so its gas comes from the sizer's
        per-message budget. Returns "delivered-by-other" if the simulation says someone else
        delivered it, None once sent."""
        fn_name = "processDeposits" if route.kind is RouteKind.DEPOSIT else "processWithdrawals"
        fn = getattr(dest.functions, fn_name)(
            [m.message.as_tuple() for m in batch], choice.checkpoint.as_tuple(), choice.signatures
        )
        first, last = batch[0].nonce, batch[-1].nonce
        fields = {"route": str(route), "chain": route.dest_chain_id, "nonce_first": first, "nonce_last": last}
        sender = self.sender(ChainId(route.dest_chain_id))
        request = TxRequest.call(fn)
        simulated = window.empty
        if simulated:
            try:
                request = replace(request, gas=sender.estimate_gas(request))
            except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
                if is_batch_nonce_mismatch(err):
                    log.info("route %s: nonces %d..%d already delivered", route, first, last, extra=fields)
                    return "delivered-by-other"
                raise SimulationRevertedError(route, describe_revert(err)) from err
        else:
            request = replace(request, gas=self.sizer.gas_limit(route, len(batch)))
        pending = sender.submit(request)
        window.sent(first, last, _Batch(pending, len(batch), batch[-1].block_number, simulated), simulated)
        log.info("route %s: sent nonces %d..%d (%d in flight)", route, first, last, len(window.batches),
                 extra={**fields, "tx_hash": pending.attempts[-1]})
        return None

    def _confirm(self, route: RouteId, window: Window[_Batch]) -> bool:
        """Confirm the window's mined batches, oldest first (one look each, no waiting); True if
        any was confirmed."""
        sender = self.sender(ChainId(route.dest_chain_id))
        progressed = False
        while (item := window.oldest()) is not None:
            try:
                sent = sender.poll(item.data.pending)
            except NonceTakenError as err:  # its nonce was mined with another transaction: never lands
                window.confirmed(Outcome.FAILED)
                item.data.why = str(err)
                log.warning("route %s: batch %d..%d lost (%s); %d behind it are only confirmed", route,
                            item.first, item.last, err, len(window.batches),
                            extra={"route": str(route), "nonce_first": item.first, "nonce_last": item.last})
                progressed = True
                continue
            if sent is None:
                return progressed
            progressed = True
            item.data.tx_hash, item.data.gas_used = sent.tx_hash, sent.gas_used
            fields = {"route": str(route), "chain": route.dest_chain_id, "nonce_first": item.first,
                      "nonce_last": item.last, "tx_hash": sent.tx_hash}
            if sent.status == 1:
                window.confirmed(Outcome.DELIVERED)
                self.source.remember(route, item.last, item.data.last_block)
                self.sizer.observe(route, sent.gas_used, item.data.size)
                # processed nonces below `last` need no signatures any more; `last` stays as the proof
                # of the latest delivery (the API reports it as the attested nonce)
                self.store.forget_below(route, item.last)
                log.info("route %s: delivered nonces %d..%d in %s", route, item.first, item.last, sent.tx_hash,
                         extra=fields)
                continue
            mismatch, why = self._replay(item.data.pending.request, sender)
            outcome = classify(sent.status, mismatch, self.reader(route).dest_state().nonce, item.last)
            item.data.why = why
            item.data.simulated_failure = outcome is Outcome.FAILED and item.simulated and not mismatch
            window.confirmed(outcome)
            level = logging.INFO if outcome is Outcome.DELIVERED_BY_OTHER else logging.WARNING
            log.log(level, "route %s: batch %d..%d did not apply (%s: %s); %d behind it are only confirmed",
                    route, item.first, item.last, outcome.value, why, len(window.batches), extra=fields)
        return progressed

    def _replay(self, request: TxRequest, sender: TxSender) -> tuple[bool, str]:
        """Why a mined batch reverted, from replaying it on today's state: (BatchNonceMismatch?, text)."""
        try:
            sender.estimate_gas(request)
        except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
            return is_batch_nonce_mismatch(err), describe_revert(err)
        return False, "reverted on chain (out of gas?), applies now"

    # deferred deposits -------------------------------------------------------------------

    def _release_due(self, route: RouteId) -> bool:
        """Whether to look at the route's deferred deposits this tick (at most every RELEASE_CHECK_S)."""
        now = time.monotonic()
        if now - self._release_checked.get(route, float("-inf")) < RELEASE_CHECK_S:
            return False
        self._release_checked[route] = now
        return True

    def _release_deferred(self, route: RouteId) -> dict[str, str]:
        """Credits deposits the hub's inflow limit queued from this route's spoke, per asset, when
        the bucket allows (permissionless; any submitter may do it, competing ones are harmless:
        a release with nothing left to credit is refused by simulation and skipped)."""
        hub = self.clients[route.dest_chain_id]
        dest = self.dest_contract(route)
        out: dict[str, str] = {}
        for queue in spoke_queues(hub, self.deployment, route.source_chain_id, waiting_only=True):
            if not queue.releasable:
                continue
            fn = dest.functions.releaseDeferred(route.source_chain_id, queue.asset_id, RELEASE_MAX_ENTRIES)
            sender = self.sender(ChainId(route.dest_chain_id))
            request = TxRequest.call(fn)
            try:
                fn.call({"from": self.account.address})
                request = replace(request, gas=sender.estimate_gas(request))
            except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
                log.info("route %s: release of deferred %s skipped: %s", route, queue.asset, describe_revert(err))
                continue
            sent = sender.send(request)
            if sent.status != 1:  # raced by another releaser: the next check sees the new state
                log.warning("route %s: release of deferred %s reverted in %s", route, queue.asset, sent.tx_hash)
                continue
            log.info("route %s: released deferred %s deposits in %s", route, queue.asset, sent.tx_hash,
                     extra={"route": str(route), "tx_hash": sent.tx_hash})
            out[queue.asset] = sent.tx_hash
        return out
