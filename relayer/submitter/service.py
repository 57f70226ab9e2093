"""Submitter: deliver the longest quorum-signed batch of a route to its destination contract.

The destination's processed nonce is the truth. Signatures come from Redis but are re-verified
off-chain against the destination's current validator set; messages come from the submitter's own
reading of the source chain and must fold to the signed head. A batch another submitter delivered
first reverts with BatchNonceMismatch: that is reported as delivered-by-someone-else, not an error.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector
from pydantic import BaseModel, ConfigDict, SecretStr
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.client import ChainClient
from relayer.chain.routes import RouteReader
from relayer.config import Deployment, SubmitterConfig
from relayer.errors import (
    ChainCallError,
    HeadMismatchError,
    LockUnavailableError,
    NonceGapError,
    SimulationRevertedError,
    SubmitError,
)
from relayer.proofs.hashchain import RouteMessage, check_chain
from relayer.store.redis_store import Store
from relayer.submitter.lease import lease
from relayer.submitter.nonce import NonceManager
from relayer.submitter.quorum import QuorumChoice, quorum_candidates
from relayer.submitter.tx import FeePolicy, SentTx, TxSender
from relayer.types import MAX_BATCH, RouteId, RouteKind

log = logging.getLogger(__name__)

ROUTE_LEASE_TTL_S = 15.0
"""A delivery holds its route's lease (renewed while it works); a killed submitter frees it this fast."""


def _tuple_type(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "tuple", "name": "", "components": [{"type": t, "name": n} for t, n in fields]}


_CHECKPOINT = [("uint64", "sourceChainId"), ("address", "source"), ("uint64", "nonce"), ("bytes32", "head")]
_DEPOSIT = [("address", "depositor"), ("address", "account"), ("address", "token"), ("uint256", "amount")]
_WITHDRAWAL = [("address", "account"), ("address", "recipient"), ("address", "token"), ("uint256", "amount")]


def _process_abi(name: str, message_fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    messages = {**_tuple_type(message_fields), "type": "tuple[]", "name": "messages"}
    return {
        "type": "function", "name": name, "stateMutability": "nonpayable", "outputs": [],
        "inputs": [
            messages,
            {**_tuple_type(_CHECKPOINT), "name": "checkpoint"},
            {"type": "bytes", "name": "signatures"},
        ],
    }


def _error(name: str, inputs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "error", "name": name, "inputs": [{"type": t, "name": n} for t, n in inputs]}


BATCH_NONCE_MISMATCH = _error(
    "BatchNonceMismatch",
    [("uint64", "processedNonce"), ("uint256", "messageCount"), ("uint64", "checkpointNonce")],
)
_BATCH_NONCE_MISMATCH_SELECTOR = function_abi_to_4byte_selector(BATCH_NONCE_MISMATCH)
DEST_ABI = [
    _process_abi("processDeposits", _DEPOSIT),
    _process_abi("processWithdrawals", _WITHDRAWAL),
    {"type": "function", "name": "validatorsOf", "stateMutability": "view",
     "inputs": [{"type": "uint64", "name": "sourceChainId"}], "outputs": [{"type": "address[]", "name": ""}]},
    {"type": "function", "name": "thresholdOf", "stateMutability": "view",
     "inputs": [{"type": "uint64", "name": "sourceChainId"}], "outputs": [{"type": "uint8", "name": ""}]},
    BATCH_NONCE_MISMATCH,
]
"""What the submitter calls on a destination, exactly as docs/protocol.md states it."""


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


def _revert_data(err: Exception) -> bytes | None:
    """Raw revert data of a failed eth_call, if the node returned any."""
    data = getattr(err, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    return None


def is_batch_nonce_mismatch(err: Exception) -> bool:
    """True if a revert is BatchNonceMismatch (the batch was already delivered, or overlaps)."""
    data = _revert_data(err)
    return data is not None and data[:4] == _BATCH_NONCE_MISMATCH_SELECTOR


def describe_revert(err: Exception) -> str:
    """Short text of a revert: the decoded BatchNonceMismatch, or the node's message."""
    data = _revert_data(err)
    if data is not None and data[:4] == _BATCH_NONCE_MISMATCH_SELECTOR:
        processed, count, nonce = decode(["uint64", "uint256", "uint64"], data[4:])
        return f"BatchNonceMismatch(processedNonce={processed}, messageCount={count}, checkpointNonce={nonce})"
    return str(err)


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
        self._senders: dict[int, TxSender] = {}
        self._hints: dict[RouteId, tuple[int, int]] = {}
        """route -> (nonce, block) known to hold that nonce's message: a lower bound for bisection."""
        self._deploy_blocks: dict[RouteId, int] = {}
        self._last_alarm: dict[RouteId, str] = {}

    # wiring ------------------------------------------------------------------------------

    def reader(self, route: RouteId) -> RouteReader:
        """The route's reader (cached)."""
        if route not in self._readers:
            self._readers[route] = RouteReader(route, self.deployment, self.clients)
        return self._readers[route]

    def sender(self, chain_id: int) -> TxSender:
        """The transaction sender of this account on `chain_id` (one NonceManager per chain)."""
        if chain_id not in self._senders:
            client = self.clients[chain_id]
            address = self.account.address
            nonces = NonceManager(
                self.store, chain_id, address,
                lambda: client.w3.eth.get_transaction_count(address, "pending"),
            )
            self._senders[chain_id] = TxSender(client.w3, self.account, chain_id, nonces, self.fee_policy)
        return self._senders[chain_id]

    def dest_contract(self, route: RouteId) -> Contract:
        """The destination contract with the submitter's ABI (process functions, validator set)."""
        reader = self.reader(route)
        return reader.dest_client.w3.eth.contract(address=reader.dest_address, abi=DEST_ABI)

    # the tick ----------------------------------------------------------------------------

    def tick(self, route: RouteId) -> SubmitResult:
        """Deliver the highest quorum-signed checkpoint above the destination's processed nonce."""
        try:
            with lease(self.store, f"submit:{route}", ttl_s=ROUTE_LEASE_TTL_S):
                return self._deliver(route)
        except LockUnavailableError:
            processed = self.reader(route).dest_state().nonce
            return SubmitResult(route=str(route), processed_nonce=processed, reason="busy")

    def _deliver(self, route: RouteId) -> SubmitResult:
        """The body of `tick`, under the route's lock."""
        reader = self.reader(route)
        dest = self.dest_contract(route)
        processed, stored_head = reader.dest_state()
        result = {"route": str(route), "processed_nonce": processed}
        window = range(processed + 1, processed + MAX_BATCH + 1)
        nonces = [n for n in self.store.signed_nonces(route) if n in window]
        if not nonces:
            return SubmitResult(**result, reason="up-to-date")
        book = {n: self.store.signatures_for(route, n) for n in nonces}
        validators = reader.dest_client.call(dest.functions.validatorsOf(route.source_chain_id))
        threshold = int(reader.dest_client.call(dest.functions.thresholdOf(route.source_chain_id)))
        candidates = within_batch(
            quorum_candidates(
                book, processed_nonce=processed, max_batch=MAX_BATCH, validators=validators,
                threshold=threshold, source_chain_id=route.source_chain_id, source=reader.source_address,
                dest_chain_id=route.dest_chain_id, dest_contract=reader.dest_address,
            ),
            processed,
            self.config.max_batch,
        )
        top = next(candidates, None)
        if top is None:
            return SubmitResult(**result, reason="no-quorum")
        messages = self.fetch_messages(route, processed + 1, top.nonce)
        choice = self._matching(route, itertools.chain([top], candidates), stored_head, messages)
        batch = messages[: choice.nonce - processed]
        return self._send(route, dest, choice, batch, result)

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
        result: dict[str, Any],
    ) -> SubmitResult:
        """Simulate, then send the batch; a BatchNonceMismatch means someone else delivered it."""
        fn_name = "processDeposits" if route.kind is RouteKind.DEPOSIT else "processWithdrawals"
        fn = getattr(dest.functions, fn_name)(
            [m.message.as_tuple() for m in batch], choice.checkpoint.as_tuple(), choice.signatures
        )
        first, last = batch[0].nonce, batch[-1].nonce
        sender = self.sender(route.dest_chain_id)
        try:
            fn.call({"from": self.account.address})
            gas = sender.estimate_gas({"to": dest.address, "data": fn._encode_transaction_data()})
        except (ContractCustomError, ContractLogicError) as err:
            if is_batch_nonce_mismatch(err):
                return SubmitResult(**result, first_nonce=first, last_nonce=last, reason="delivered-by-other")
            raise SimulationRevertedError(route, describe_revert(err)) from err
        sent: SentTx = sender.send({"to": dest.address, "data": fn._encode_transaction_data(), "gas": gas})
        if sent.status != 1:
            try:
                fn.call({"from": self.account.address})  # replays the batch on today's state
            except (ContractCustomError, ContractLogicError) as err:
                if is_batch_nonce_mismatch(err):
                    return SubmitResult(
                        **result, first_nonce=first, last_nonce=last, tx_hash=sent.tx_hash,
                        gas_used=sent.gas_used, reason="delivered-by-other",
                    )
                reason = describe_revert(err)
                raise SubmitError(f"route {route}: batch tx {sent.tx_hash} reverted: {reason}") from err
            raise SubmitError(f"route {route}: batch tx {sent.tx_hash} reverted")
        self._hints[route] = (last, batch[-1].block_number)
        # processed nonces below `last` need no signatures any more; `last` stays as the proof
        # of the latest delivery (the API reports it as the attested nonce)
        self.store.forget_below(route, last)
        log.info("route %s: delivered nonces %d..%d in %s", route, first, last, sent.tx_hash)
        return SubmitResult(
            **result, delivered=True, first_nonce=first, last_nonce=last, tx_hash=sent.tx_hash,
            gas_used=sent.gas_used, reason="delivered",
        )

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
            has_code: Callable[[int], bool] = lambda b: len(w3.eth.get_code(reader.source_address, b)) > 0
            low, high = 0, reader.source_client.block_number()
            while low < high:
                mid = (low + high) // 2
                if has_code(mid):
                    high = mid
                else:
                    low = mid + 1
            self._deploy_blocks[route] = low
        return self._deploy_blocks[route]
