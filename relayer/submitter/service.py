"""Submitter: deliver the longest quorum-signed batch of a route to its destination contract.

The destination's processed nonce is the truth. Signatures come from Redis but are re-verified
off-chain against the destination's current validator set; messages come from the submitter's own
reading of the source chain and must fold to the signed head. A batch another submitter delivered
first reverts with BatchNonceMismatch: that is reported as delivered-by-someone-else, not an error.

A tick starts from the beat, or at once when a published signature completes a quorum
(relayer.worker.kick); the route's lease keeps ticks of one route from overlapping, and a running
tick picks up a new quorum from the store's quorum mark at its next receipt poll. Its steps live
beside it: the in-flight window (window.py) and its confirmation (confirm.py), quorum selection
(quorum.py) and the destination's quorum rules (rules.py), the messages from the
source chain (source.py), batch sizing (sizing.py), what a tick reports (results.py), revert
decoding (reverts.py) and the deferred-deposit release that follows a deposit route's delivery
(release.py).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import abi_of, encode_call
from relayer.chain.client import ChainClient
from relayer.chain.routes import DEST_CONTRACT, RouteReader
from relayer.chain.sender import FeePolicy, SentTx, TxRequest, TxSender
from relayer.config import SubmitterConfig
from relayer.deployment import Deployment
from relayer.errors import (
    CallRevertedError,
    HeadMismatchError,
    LockUnavailableError,
    SimulationRevertedError,
    StoreUnavailableError,
    XmarginError,
)
from relayer.proofs.hashchain import RouteMessage, check_chain
from relayer.store.lease import lease
from relayer.store.nonces import shared_nonces
from relayer.store.redis_store import KickHook, Store
from relayer.submitter.confirm import confirm
from relayer.submitter.quorum import QuorumChoice, quorum_candidates, within_batch
from relayer.submitter.release import DeferredReleases
from relayer.submitter.results import Batch, SubmitResult, tick_result
from relayer.submitter.reverts import BATCH_NONCE_MISMATCH, describe_revert, is_batch_nonce_mismatch
from relayer.submitter.rules import RouteRules, Rules, TickRules, read_rules
from relayer.submitter.sizing import BatchSizer, quorum_window
from relayer.submitter.source import SourceMessages
from relayer.submitter.window import InFlight, Window
from relayer.types import ChainId, RouteId, RouteKind

__all__ = ["BATCH_NONCE_MISMATCH", "SubmitResult", "Submitter", "describe_revert", "is_batch_nonce_mismatch",
           "within_batch"]

log = logging.getLogger(__name__)
_H = TypeVar("_H")

ROUTE_LEASE_TTL_S = 15.0
"""A delivery holds its route's lease (renewed while it works); a killed submitter frees it this fast."""
MAX_RECOVERIES_PER_TICK = 3
"""Windows one tick may restart after a batch that did not apply; then the next tick goes on."""
NEW_CHECKPOINT_POLL_S = 0.5
"""While batches are in flight, how often Redis is asked for newly signed checkpoints when the
store's quorum mark says nothing (the mark, raised by the publish that completes a quorum, is
looked at every receipt poll)."""


class Submitter:
    """Delivers quorum-signed batches from one sending account, on any destination chain."""

    def __init__(
        self,
        config: SubmitterConfig,
        store: Store,
        deployment: Deployment,
        clients: Mapping[int, ChainClient],
        fee_policy: FeePolicy | None = None,
        on_quorum: KickHook | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.deployment = deployment
        self.clients = clients
        key: SecretStr = config.key
        self.account: LocalAccount = Account.from_key(key.get_secret_value())
        self.fee_policy = fee_policy or FeePolicy(stuck_after_s=config.stuck_after_s, bump_pct=config.fee_bump_pct)
        self._readers: dict[RouteId, RouteReader] = {}
        self._dests: dict[RouteId, Contract] = {}
        self._senders: dict[ChainId, TxSender] = {}
        self.source = SourceMessages(deployment, self.reader)
        self._gas_limits: dict[ChainId, int] = {}
        self.sizer = BatchSizer(block_gas_share=config.block_gas_share, ceiling=config.max_batch)
        self._last_alarm: dict[RouteId, str] = {}
        self.releases = DeferredReleases(deployment, clients, self.sender, self.dest_contract)
        self.on_quorum = on_quorum
        """Kicks the next tick of a route whose quorum mark is above what a tick ended with."""
        self._seen: dict[RouteId, int] = {}
        self.rules = RouteRules(self._quorum_rules)

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
                client.w3, self.account, chain_id, nonces, self.fee_policy, chain=client.name, raw_receipts=True
            )
        return self._senders[chain_id]

    def dest_contract(self, route: RouteId) -> Contract:
        """The destination contract (process functions, validator set) with its compiled ABI
        (cached: building it parses the whole ABI, ~50 ms, and every tick needs it)."""
        if route not in self._dests:
            reader = self.reader(route)
            address = Web3.to_checksum_address(reader.dest_address)
            self._dests[route] = reader.dest_client.w3.eth.contract(address=address,
                                                                    abi=abi_of(DEST_CONTRACT[route.kind]))
        return self._dests[route]

    def _block_gas_limit(self, chain_id: ChainId) -> int:
        """The destination's block gas limit (read once: it moves slowly if at all)."""
        if chain_id not in self._gas_limits:
            self._gas_limits[chain_id] = int(self.clients[chain_id].get_block("latest")["gasLimit"])
        return self._gas_limits[chain_id]

    # the tick ----------------------------------------------------------------------------

    def tick(self, route: RouteId, kicked: bool = False) -> SubmitResult:
        """Deliver the highest quorum-signed checkpoint above the destination's processed nonce.
        `kicked`: started by a completed quorum (relayer.worker.kick) rather than the beat; if a
        tick of the route is running it returns "busy" without reading the chain (the running
        one sees the quorum mark)."""
        try:
            with lease(self.store, f"submit:{route}", ttl_s=ROUTE_LEASE_TTL_S):
                result = self._deliver(route)
                if route.kind is RouteKind.DEPOSIT and self.releases.due(route):
                    released = self.releases.release(route)
                    if released:
                        result = result.model_copy(update={"released": released})
        except LockUnavailableError:
            processed = -1 if kicked else self.reader(route).dest_state().nonce
            return SubmitResult(route=str(route), processed_nonce=processed, reason="busy")
        self._kick_if_behind(route, result)
        return result

    def _kick_if_behind(self, route: RouteId, result: SubmitResult) -> None:
        """A quorum completed after the tick's last look (while it only confirmed, its
        `pipeline_s` over, or just as it ended, a kick meeting its lease): start the next tick at
        once rather than at the next beat. A mark the tick looked at and could not deliver kicks
        nothing (no loop of ticks over a refused checkpoint)."""
        if self.on_quorum is None:
            return
        mark = self._mark(route)
        if mark > max(result.processed_nonce, result.last_nonce or 0, self._seen.get(route, -1)):
            self.on_quorum(route, mark)

    def _mark(self, route: RouteId) -> int:
        """The store's quorum mark of the route (-1: none, or Redis away)."""
        mark = self._hint(self.store.quorum_mark, route)
        return -1 if mark is None else mark

    def _hint(self, fn: Callable[..., _H], route: RouteId, *args: int) -> _H | None:
        """Read or write a quorum hint (relayer.store.redis_store): None if Redis is away (the
        hints only speed deliveries up; the beat's ticks deliver without them)."""
        try:
            return fn(route, *args)
        except StoreUnavailableError as err:
            log.debug("route %s: quorum hint skipped: %s", route, err)
            return None

    def _deliver(self, route: RouteId) -> SubmitResult:
        """The body of `tick`, under the route's lock: keep up to `max_in_flight` batches in flight
        for `pipeline_s` (each sent without waiting for the one before it: consecutive transaction
        nonces land in order), confirm them in order, recover from a batch that did not apply by
        sending again from the chain's processed nonce, and end once every batch is confirmed."""
        reader = self.reader(route)
        dest = self.dest_contract(route)
        processed, stored_head = reader.dest_state()
        window: Window[Batch] = Window(base=processed, size=self.config.max_in_flight)
        quorum = self.rules.for_tick(route)
        head = stored_head
        reason = "up-to-date"
        deadline = time.monotonic() + self.config.pipeline_s
        next_look = 0.0
        started = False
        seen = -1  # the highest quorum mark a plan of this tick has looked at
        self._hint(self.store.note_sent, route, processed)
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
                sending = window.can_send() and (not started or now < deadline)
                if sending:
                    mark = self._mark(route)
                    if mark > max(seen, window.next_first - 1):
                        next_look = now  # a quorum completed above the window since the last look
                if sending and now >= next_look:
                    seen = max(seen, mark)
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
            self._seen[route] = seen
            self._hint(self.store.note_sent, route, window.base)
            lost = window.abandon()
            if lost:  # an error ends the tick: their transactions may still land, the chain decides
                log.warning("route %s: %d batches left unconfirmed (the next tick reads the chain)", route,
                            len(lost), extra={"route": str(route)})
        return tick_result(route, processed, window, reason)

    def _quorum_rules(self, route: RouteId) -> Rules:
        """The destination's current validators and threshold for the route's source (at most
        once a tick, relayer.submitter.rules); the threshold is noted as the publish script's hint."""
        reader = self.reader(route)
        validators, threshold = read_rules(reader.dest_client, self.dest_contract(route).address, route)
        self._hint(self.store.note_threshold, route, threshold)  # lets the publish of a quorum's last signature kick
        return validators, threshold

    def _plan(
        self, route: RouteId, dest: Contract, after: int, head: bytes, quorum: TickRules
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
        validators, threshold = quorum.get()
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
        window: Window[Batch],
        choice: QuorumChoice,
        batch: Sequence[RouteMessage],
    ) -> str | None:
        """Broadcast the batch without waiting for it. The first of a window (the chain's state is
        its base) is simulated and its gas estimated; one behind an unconfirmed batch cannot be
        simulated (the chain has not reached its start yet), so its gas comes from the sizer's
        per-message budget. Returns "delivered-by-other" if the simulation says someone else
        delivered it, None once sent."""
        fn_name = "processDeposits" if route.kind is RouteKind.DEPOSIT else "processWithdrawals"
        data = encode_call(DEST_CONTRACT[route.kind], fn_name, [
            [m.message.as_tuple() for m in batch], choice.checkpoint.as_tuple(), choice.signatures
        ])
        first, last = batch[0].nonce, batch[-1].nonce
        fields = {"route": str(route), "chain": route.dest_chain_id, "nonce_first": first, "nonce_last": last}
        sender = self.sender(ChainId(route.dest_chain_id))
        request = TxRequest(to=dest.address, data=data, what=fn_name)
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
        window.sent(first, last, Batch(pending, len(batch), batch[-1].block_number, simulated), simulated)
        self._hint(self.store.note_sent, route, last)  # quorums up to here need no kick
        log.info("route %s: sent nonces %d..%d (%d in flight)", route, first, last, len(window.batches),
                 extra={**fields, "tx_hash": pending.attempts[-1]})
        return None

    def _confirm(self, route: RouteId, window: Window[Batch]) -> bool:
        """Confirm the window's mined batches, oldest first (relayer.submitter.confirm)."""
        sender = self.sender(ChainId(route.dest_chain_id))
        return confirm(route, window, sender, partial(self._delivered, route),
                       lambda: self.reader(route).dest_state().nonce)

    def _delivered(self, route: RouteId, item: InFlight[Batch], sent: SentTx) -> None:
        """Bookkeeping of a batch that applied: where the next fetch starts, the per-message gas,
        and the signatures no longer needed (below `last`: `last` stays as the proof of the latest
        delivery, the API reports it as the attested nonce)."""
        self.source.remember(route, item.last, item.data.last_block)
        self.sizer.observe(route, sent.gas_used, item.data.size)
        self.store.forget_below(route, item.last)
