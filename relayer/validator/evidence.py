"""Source-chain evidence of one validator scan range, fetched concurrently and checked as strictly
as when it was read one request at a time.

Through a remote or faulty RPC a tick is bound by latency, not CPU: the soak under faults (10 % of
requests dropped, delayed 0.3-2 s or failed) showed a validator reading ~0.5 s per block one
request after the other, slower than the chain grew. So the reads of a range are put on a small
thread pool at once and consumed in order:

- headers of [start, to] by number; each one's hash is recomputed from its fields
  (`ChainClient.get_block`), then the range must link up: block n's parentHash is block n-1's hash
  and block `start`'s parent is the last scanned block. A node answering another height, or one
  header that does not link, refuses the whole range (HeaderMismatchError);
- receipts (eth_getBlockReceipts) and the source contract's stored (nonce, head) of each block
  holding messages, as soon as the logs name those blocks; the validator waits for one block's
  evidence at a time, so the first block is proven and signed while later ones are still in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from eth_utils import event_abi_to_log_topic
from web3.types import BlockData

from relayer.chain.client import ChainClient
from relayer.chain.routes import DEPOSITED, WITHDRAWAL_QUEUED
from relayer.errors import HeaderMismatchError, ReceiptProofError, SourceReorgedError
from relayer.proofs import words
from relayer.proofs.hashchain import ZERO_HEAD, DepositMessage, RouteMessage, WithdrawalMessage
from relayer.proofs.receipts import receipt_logs, receipts_root
from relayer.types import RouteId, RouteKind, to_bytes32

DEFAULT_FETCH_THREADS = 8
"""Reads of one validator in flight at once (all its routes share them)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _topic(event_abi: Any) -> bytes:
    """Topic 0 of an event; `Any` because chain.routes writes its event ABIs as plain dicts."""
    return event_abi_to_log_topic(event_abi)


_DEPOSITED_TOPIC = _topic(DEPOSITED)
_WITHDRAWAL_QUEUED_TOPIC = _topic(WITHDRAWAL_QUEUED)


class Prefetch(Generic[K, V]):
    """One read per key, all started at once on `pool`; `get` waits for one (its error raised
    there), `cancel` drops the ones not started yet (a failed tick leaves no queue behind)."""

    def __init__(self, pool: ThreadPoolExecutor, read: Callable[[K], V], keys: Iterable[K]) -> None:
        self._futures: dict[K, Future[V]] = {}
        for key in keys:
            if key not in self._futures:
                self._futures[key] = pool.submit(read, key)

    def get(self, key: K) -> V:
        """The read of `key` (waits for it)."""
        return self._futures[key].result()

    def cancel(self) -> None:
        """Cancel the reads still queued."""
        for future in self._futures.values():
            future.cancel()


def linked_headers(
    client: ChainClient, reads: Prefetch[int, BlockData], prev_block: int, prev_hash: bytes, start: int, to: int
) -> dict[int, BlockData]:
    """Headers of blocks [start, to] from `reads` (by number, each hash recomputed from its fields
    by the client), linked by parent hash among themselves and to the last scanned block
    `prev_block` (hash `prev_hash`; ZERO_HEAD: a first scan, nothing to link to).
    HeaderMismatchError if they do not link up."""
    headers = {number: reads.get(number) for number in range(start, to + 1)}
    for number, header in headers.items():
        if int(header["number"]) != number:
            got = int(header["number"])
            raise HeaderMismatchError(client.name, number, f"asked for block {number}, got block {got}")
    for number in range(start + 1, to + 1):
        parent, below = bytes(headers[number]["parentHash"]), bytes(headers[number - 1]["hash"])
        if parent != below:
            raise HeaderMismatchError(
                client.name, number, f"parent 0x{parent.hex()} is not block {number - 1} (0x{below.hex()})"
            )
    anchor = bytes(headers[start]["parentHash"])
    if prev_hash != ZERO_HEAD and anchor != prev_hash:
        raise HeaderMismatchError(
            client.name, start,
            f"parent 0x{anchor.hex()} is not the last scanned block {prev_block} (0x{prev_hash.hex()})",
        )
    return headers


def expected_log(route: RouteId, source: str, item: RouteMessage) -> tuple[str, list[bytes], bytes]:
    """The (address, topics, data) a message's source event must have in its receipt
    (docs/protocol.md), ABI words built directly (relayer.proofs.words: eth_abi's bytes)."""
    msg = item.message
    if route.kind is RouteKind.DEPOSIT and isinstance(msg, DepositMessage):
        topics = [_DEPOSITED_TOPIC, words.uint(item.nonce, 64), words.address(msg.depositor),
                  words.address(msg.account)]
        data = words.address(msg.token) + words.uint(msg.amount) + words.bytes32(item.head)
    elif route.kind is RouteKind.WITHDRAWAL and isinstance(msg, WithdrawalMessage):
        topics = [_WITHDRAWAL_QUEUED_TOPIC, words.uint(route.dest_chain_id, 64), words.uint(item.nonce, 64),
                  words.address(msg.account)]
        data = words.address(msg.recipient) + words.address(msg.token) + words.uint(msg.amount) \
            + words.bytes32(item.head)
    else:
        raise ReceiptProofError(item.tx_index, f"a {type(msg).__name__} on a {route.kind.value} route")
    return source, topics, data


def prove_block(
    chain: str, route: RouteId, source: str, header: BlockData, receipts: Sequence[Mapping[str, Any]],
    items: Sequence[RouteMessage],
) -> None:
    """One block's messages proven: its receipts rebuild the (linked) header's receiptsRoot, which
    authenticates every one of them at its index, and each message's event is among the logs of
    its transaction's receipt. No per-message trie proof: the rebuilt root covers every receipt."""
    number = int(header["number"])
    block_hash, root = bytes(header["hash"]), bytes(header["receiptsRoot"])
    for item in items:
        if item.block_hash != block_hash:
            raise SourceReorgedError(chain, number, item.block_hash, block_hash)
    rebuilt = receipts_root(receipts)
    if rebuilt != root:
        raise ReceiptProofError(
            -1, f"block {number}: receipts rebuild root 0x{rebuilt.hex()}, header says 0x{root.hex()}"
        )
    for item in items:
        if item.tx_index >= len(receipts):
            raise ReceiptProofError(item.tx_index, f"block {number} has {len(receipts)} receipts")
        receipt = receipts[item.tx_index]
        if to_bytes32(receipt["transactionHash"]) != item.tx_hash:
            raise ReceiptProofError(item.tx_index, f"block {number}: receipt is not of tx 0x{item.tx_hash.hex()}")
        address, topics, data = expected_log(route, source, item)
        logs = receipt_logs(receipt)
        if not any(lg.address == address and lg.topics == topics and lg.data == data for lg in logs):
            raise ReceiptProofError(item.tx_index, f"block {number}: nonce {item.nonce} event not in its receipt")
