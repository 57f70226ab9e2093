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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

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
from relayer.chain.sender import FeePolicy, SentTx, TxRequest, TxSender
from relayer.config import SubmitterConfig
from relayer.deployment import Deployment
from relayer.errors import (
    CallRevertedError,
    ChainCallError,
    HeadMismatchError,
    LockUnavailableError,
    NonceGapError,
    SimulationRevertedError,
    SubmitError,
)
from relayer.proofs.hashchain import RouteMessage, check_chain
from relayer.store.lease import lease
from relayer.store.nonces import shared_nonces
from relayer.store.redis_store import Store
from relayer.submitter.quorum import QuorumChoice, quorum_candidates
from relayer.submitter.sizing import BatchSizer, quorum_window
from relayer.types import ChainId, RouteId, RouteKind

log = logging.getLogger(__name__)

RELEASE_CHECK_S = 3.0
"""How often a deposit route's tick looks for deferred deposits to release (a few hub calls)."""
RELEASE_MAX_ENTRIES = 100
"""Most queued deposits one `releaseDeferred` credits (at most ~65k gas each: well inside a hub block)."""

ROUTE_LEASE_TTL_S = 15.0
"""A delivery holds its route's lease (renewed while it works); a killed submitter frees it this fast."""


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
    reason: str
    """delivered | up-to-date | no-quorum | busy | delivered-by-other"""
    released: dict[str, str] = {}
    """Deposit routes: asset -> tx hash of a `releaseDeferred` this tick sent (queued deposits credited)."""


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
        self._hints: dict[RouteId, tuple[int, int]] = {}
        """route -> (nonce, block) known to hold that nonce's message: a lower bound for bisection."""
        self._deploy_blocks: dict[RouteId, int] = {}
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
        """The body of `tick`, under the route's lock."""
        reader = self.reader(route)
        dest = self.dest_contract(route)
        processed, stored_head = reader.dest_state()
        cap = self.sizer.cap(route, self._block_gas_limit(ChainId(route.dest_chain_id)))
        look = quorum_window(cap)
        window = range(processed + 1, processed + look + 1)
        nonces = [n for n in self.store.signed_nonces(route) if n in window]
        if not nonces:
            return SubmitResult(route=str(route), processed_nonce=processed, reason="up-to-date")
        book = self.store.signatures_for_many(route, nonces)
        validators = reader.dest_client.call(dest.functions.validatorsOf(route.source_chain_id))
        threshold = int(reader.dest_client.call(dest.functions.thresholdOf(route.source_chain_id)))
        candidates = within_batch(
            quorum_candidates(
                book, processed_nonce=processed, max_batch=look, validators=validators,
                threshold=threshold, source_chain_id=route.source_chain_id, source=reader.source_address,
                dest_chain_id=route.dest_chain_id, dest_contract=reader.dest_address,
            ),
            processed,
            cap,
        )
        top = next(candidates, None)
        if top is None:
            return SubmitResult(route=str(route), processed_nonce=processed, reason="no-quorum")
        messages = self.fetch_messages(route, processed + 1, top.nonce)
        choice = self._matching(route, itertools.chain([top], candidates), stored_head, messages)
        batch = messages[: choice.nonce - processed]
        return self._send(route, dest, choice, batch, processed)

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
        choice: QuorumChoice,
        batch: Sequence[RouteMessage],
        processed: int,
    ) -> SubmitResult:
        """Simulate, then send the batch; a BatchNonceMismatch means someone else delivered it."""
        fn_name = "processDeposits" if route.kind is RouteKind.DEPOSIT else "processWithdrawals"
        fn = getattr(dest.functions, fn_name)(
            [m.message.as_tuple() for m in batch], choice.checkpoint.as_tuple(), choice.signatures
        )
        first, last = batch[0].nonce, batch[-1].nonce
        fields = {"route": str(route), "chain": route.dest_chain_id, "nonce_first": first, "nonce_last": last}
        sender = self.sender(ChainId(route.dest_chain_id))
        request = TxRequest.call(fn)
        try:
            fn.call({"from": self.account.address})
            request = replace(request, gas=sender.estimate_gas(request))
        except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
            if is_batch_nonce_mismatch(err):
                log.info("route %s: nonces %d..%d already delivered", route, first, last, extra=fields)
                return SubmitResult(
                    route=str(route), processed_nonce=processed, first_nonce=first, last_nonce=last,
                    reason="delivered-by-other",
                )
            raise SimulationRevertedError(route, describe_revert(err)) from err
        sent: SentTx = sender.send(request)
        if sent.status != 1:
            try:
                fn.call({"from": self.account.address})  # replays the batch on today's state
            except (ContractCustomError, ContractLogicError) as err:
                if is_batch_nonce_mismatch(err):
                    log.info("route %s: nonces %d..%d delivered by another submitter first", route, first, last,
                             extra={**fields, "tx_hash": sent.tx_hash})
                    return SubmitResult(
                        route=str(route), processed_nonce=processed, first_nonce=first, last_nonce=last,
                        tx_hash=sent.tx_hash, gas_used=sent.gas_used, reason="delivered-by-other",
                    )
                reason = describe_revert(err)
                raise SubmitError(f"route {route}: batch tx {sent.tx_hash} reverted: {reason}") from err
            raise SubmitError(f"route {route}: batch tx {sent.tx_hash} reverted")
        self._hints[route] = (last, batch[-1].block_number)
        self.sizer.observe(route, sent.gas_used, len(batch))
        # processed nonces below `last` need no signatures any more; `last` stays as the proof
        # of the latest delivery (the API reports it as the attested nonce)
        self.store.forget_below(route, last)
        log.info("route %s: delivered nonces %d..%d in %s", route, first, last, sent.tx_hash,
                 extra={**fields, "tx_hash": sent.tx_hash})
        return SubmitResult(
            route=str(route), processed_nonce=processed, delivered=True, first_nonce=first, last_nonce=last,
            tx_hash=sent.tx_hash, gas_used=sent.gas_used, reason="delivered",
        )

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

    # source messages ---------------------------------------------------------------------

    def fetch_messages(self, route: RouteId, first: int, last: int) -> list[RouteMessage]:
        """Messages `first..last` of the route, read from the source chain's logs (contiguous)."""
        reader = self.reader(route)
        latest = reader.source_client.block_number()
        low = self._lower_bound(route, first)
        from_block = self._block_of(reader, first, low, latest)
        to_block = self._block_of(reader, last, from_block, latest)
        found = [m for m in reader.scan_messages(from_block, to_block) if first <= m.nonce <= last]
        for k, item in enumerate(found):
            if item.nonce != first + k:
                raise NonceGapError(first + k, item.nonce, route)
        if len(found) != last - first + 1:
            raise NonceGapError(first + len(found), last, route)
        return found

    def _block_of(self, reader: RouteReader, nonce: int, low: int, high: int) -> int:
        """First block whose source state includes `nonce` (bisection over eth_call at past blocks)."""
        block = reader.block_of_nonce(nonce, low, high)
        if block is None:
            raise ChainCallError(reader.source_client.name, "block_of_nonce", f"nonce {nonce} not on chain yet")
        return block

    def _lower_bound(self, route: RouteId, nonce: int) -> int:
        """A block at or below the one holding `nonce` where the source contract exists."""
        hint = self._hints.get(route)
        if hint is not None and hint[0] < nonce:
            return hint[1]
        return self._deploy_block(route)

    def _deploy_block(self, route: RouteId) -> int:
        """First block where the source contract has code (bisection over eth_getCode, cached)."""
        if route not in self._deploy_blocks:
            reader = self.reader(route)
            w3 = reader.source_client.w3
            source = Web3.to_checksum_address(reader.source_address)
            has_code: Callable[[int], bool] = lambda b: len(w3.eth.get_code(source, b)) > 0
            low, high = 0, int(reader.source_client.block_number())
            while low < high:
                mid = (low + high) // 2
                if has_code(mid):
                    high = mid
                else:
                    low = mid + 1
            self._deploy_blocks[route] = low
        return self._deploy_blocks[route]
