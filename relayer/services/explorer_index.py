"""The explorer's index of route messages and processed batches, kept up to date instead of re-read
from block 0 on every lookup (docs/decisions.md, "explorer index").

Per route, two `LogTail`s: the source contract's messages (Deposited / WithdrawalQueued) and the
destination's processed batches (DepositsProcessed / WithdrawalsProcessed). Each keeps what it read
up to its chain's final block (the chain's finality policy) and a cursor past it; a refresh scans only
the blocks after the cursor (in `log_chunk` ranges), and reads the blocks above the final block afresh
every time, since those may still be reorged. Before it moves, a refresh compares the cursor block's
hash with the one recorded: a reorg deeper than the finality policy assumed rewinds to the newest
recorded cursor still on the chain (or to the deployment block) and rescans from there.

The index lives in the process (one per Context, a lock per route): it is a cache of chain data,
rebuilt by one chunked scan after a restart.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from hexbytes import HexBytes

from relayer.chain.client import ChainClient
from relayer.chain.routes import ProcessedBatch, RouteReader
from relayer.context import Context
from relayer.deployment import Deployment
from relayer.errors import ChainCallError
from relayer.proofs.hashchain import RouteMessage
from relayer.types import RouteId, RouteKind

T = TypeVar("T")
MAX_CHECKPOINTS = 64
"""Cursor positions (block, hash) remembered per LogTail: how far a rewind can step back before it
rebuilds from the deployment block."""


@dataclass(frozen=True)
class Refresh(Generic[T]):
    """What one LogTail refresh found."""

    added: list[T]
    """Items of blocks that became final since the last refresh (appended to `final`)."""
    rewound: bool
    """A reorg below the cursor was detected: `final` was cut back (and rescanned)."""
    tail: list[T]
    """Items of the blocks above the final block, read afresh."""
    head: int


class LogTail(Generic[T]):
    """Items decoded from one contract's logs on one chain, blocks up to the final block read once.

    `final` is only ever appended to; a rewind replaces it with a new list, so a reader holding the
    old list and its length sees a consistent prefix without the lock."""

    def __init__(
        self, client: ChainClient, scan: Callable[[int, int], list[T]], start_block: int,
        block_of: Callable[[T], int],
    ) -> None:
        self.client, self.scan, self.start, self.block_of = client, scan, start_block, block_of
        self.final: list[T] = []
        self.cursor = start_block - 1
        """Last block whose items are in `final`."""
        self.checkpoints: list[tuple[int, bytes]] = []
        """(block, hash) of past cursors, oldest first."""

    def _final_block(self, head: int) -> int:
        """The chain's final block by its policy, at most `head`."""
        return min(head, int(self.client.finalized_block()))

    def _hash_at(self, block: int, head: int) -> bytes | None:
        """Hash of block `block` on the chain now (None past the head)."""
        if block > head:
            return None
        try:
            return bytes(self.client.get_block(block)["hash"])
        except ChainCallError:
            if block > int(self.client.block_number()):
                return None  # the chain got shorter
            raise

    def _rewind(self, head: int) -> bool:
        """Cut `final` back to the newest checkpoint still on the chain; True if anything moved."""
        def on_chain(checkpoint: tuple[int, bytes]) -> bool:
            return self._hash_at(checkpoint[0], head) == checkpoint[1]

        if not self.checkpoints or on_chain(self.checkpoints[-1]):
            return False
        self.checkpoints.pop()
        while self.checkpoints and not on_chain(self.checkpoints[-1]):
            self.checkpoints.pop()
        self.cursor = self.checkpoints[-1][0] if self.checkpoints else self.start - 1
        self.final = [item for item in self.final if self.block_of(item) <= self.cursor]
        return True

    def refresh(self) -> Refresh[T]:
        """Rewind after a reorg, scan the blocks that became final, read the blocks above them."""
        head = int(self.client.block_number())
        rewound = self._rewind(head)
        final = self._final_block(head)
        added: list[T] = []
        if final > self.cursor:
            # the hash first: a reorg during the scan then shows as a mismatch at the next refresh
            final_hash = bytes(self.client.get_block(final)["hash"])
            added = self.scan(self.cursor + 1, final)
            self.final.extend(added)  # nothing changes before every read succeeded
            self.cursor = final
            self.checkpoints.append((final, final_hash))
            del self.checkpoints[:-MAX_CHECKPOINTS]
        tail = self.scan(self.cursor + 1, head) if head > self.cursor else []
        return Refresh(added=added, rewound=rewound, tail=tail, head=head)


def _tx(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass
class RouteSnapshot:
    """One route as of one refresh: its messages (final ones from the index, the rest fresh), the
    destination's batches, and the heads. Reads need no lock."""

    route: RouteId
    reader: RouteReader
    source_head: int
    processed: int
    """Nonce the destination has processed (at its latest block)."""
    final: list[RouteMessage]
    count: int
    """`final[:count]` belongs to this snapshot (the index may append more meanwhile)."""
    tail: list[RouteMessage]
    by_account: dict[str, list[int]]
    by_tx: dict[str, list[int]]
    batches: list[ProcessedBatch]
    """Sorted by last_nonce."""
    gas: dict[bytes, int]
    """Gas used per batch transaction already looked up (final batches only)."""
    dest_cursor: int

    def messages(self) -> list[RouteMessage]:
        """Every message, in nonce order."""
        return self.final[: self.count] + self.tail

    def __len__(self) -> int:
        return self.count + len(self.tail)

    def newest(self, offset: int, limit: int) -> list[RouteMessage]:
        """Messages newest first, `limit` from `offset`."""
        everything = self.messages()
        end = len(everything) - offset
        return list(reversed(everything[max(0, end - limit): max(0, end)]))

    def _picked(self, positions: Sequence[int], keep: Callable[[RouteMessage], bool]) -> list[RouteMessage]:
        return [self.final[i] for i in positions if i < self.count] + [m for m in self.tail if keep(m)]

    def of_account(self, account: str) -> list[RouteMessage]:
        """Messages of a hub account (checksummed address)."""
        return self._picked(self.by_account.get(account, []), lambda m: m.message.account == account)

    def of_tx(self, tx_hash: str) -> list[RouteMessage]:
        """Messages appended by a transaction (0x + 64 lowercase hex)."""
        return self._picked(self.by_tx.get(tx_hash, []), lambda m: _tx(m.tx_hash) == tx_hash)

    def of_nonce(self, nonce: int) -> list[RouteMessage]:
        """The message with this nonce (nonces count from 1 and the final ones are in order)."""
        if 1 <= nonce <= self.count and self.final[nonce - 1].nonce == nonce:
            return [self.final[nonce - 1]]
        return [m for m in self.final[: self.count] + self.tail if m.nonce == nonce][:1]

    def batch_of(self, nonce: int) -> ProcessedBatch | None:
        """The batch that delivered `nonce` (None if not seen)."""
        i = bisect.bisect_left([b.last_nonce for b in self.batches], nonce)
        if i < len(self.batches) and self.batches[i].last_nonce - self.batches[i].count < nonce:
            return self.batches[i]
        return None

    def gas_of(self, batch: ProcessedBatch) -> int:
        """Gas used by a batch's transaction (its receipt, looked up once for a final batch)."""
        if batch.tx_hash in self.gas:
            return self.gas[batch.tx_hash]
        receipt = self.reader.dest_client.w3.eth.get_transaction_receipt(HexBytes(batch.tx_hash))
        used = int(receipt["gasUsed"])
        if batch.block_number <= self.dest_cursor:
            self.gas[batch.tx_hash] = used
        return used


def dest_deploy_block(deployment: Deployment, route: RouteId) -> int:
    """Block the route's destination contract was deployed in (0 when the record does not say)."""
    if route.kind is RouteKind.DEPOSIT:
        return deployment.hub.deploy_block
    return deployment.spokes[route.spoke_chain_id].deploy_block


@dataclass
class RouteIndex:
    """A route's messages and batches, indexed by account and transaction."""

    reader: RouteReader
    messages: LogTail[RouteMessage]
    batches: LogTail[ProcessedBatch]
    by_account: dict[str, list[int]] = field(default_factory=dict)
    by_tx: dict[str, list[int]] = field(default_factory=dict)
    gas: dict[bytes, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, reader: RouteReader, deployment: Deployment) -> RouteIndex:
        """An empty index of `reader`'s route, to be filled from the contracts' deployment blocks."""
        route = reader.route
        return cls(
            reader=reader,
            messages=LogTail(reader.source_client, reader.scan_messages, deployment.source_deploy_block(route),
                             lambda m: m.block_number),
            batches=LogTail(reader.dest_client, reader.scan_processed, dest_deploy_block(deployment, route),
                            lambda b: b.block_number),
        )

    indexed: tuple[list[RouteMessage] | None, int] = (None, 0)
    """(the list of final messages the maps index, how many of it they hold)."""
    gas_of_batches: list[ProcessedBatch] | None = None
    """The list of final batches `gas` belongs to."""

    def _index_messages(self) -> None:
        """Bring the account and transaction maps up to `messages.final`; a rewound list (a new object,
        even after a refresh that failed half way) is indexed anew, in new dicts: snapshots keep theirs."""
        final = self.messages.final
        indexed, count = self.indexed
        if indexed is not final:
            self.by_account, self.by_tx, count = {}, {}, 0
        for i in range(count, len(final)):
            msg = final[i]
            self.by_account.setdefault(msg.message.account, []).append(i)
            self.by_tx.setdefault(_tx(msg.tx_hash), []).append(i)
        self.indexed = (final, len(final))

    def refresh(self) -> RouteSnapshot:
        """Bring the index up to the chains' heads and return a snapshot of the route."""
        with self.lock:
            found = self.messages.refresh()
            self._index_messages()
            batches = self.batches.refresh()
            if self.gas_of_batches is not self.batches.final:
                self.gas, self.gas_of_batches = {}, self.batches.final
            processed = self.reader.dest_state().nonce
            return RouteSnapshot(
                route=self.reader.route, reader=self.reader, source_head=found.head, processed=processed,
                final=self.messages.final, count=len(self.messages.final), tail=found.tail,
                by_account=self.by_account, by_tx=self.by_tx,
                batches=sorted([*self.batches.final, *batches.tail], key=lambda b: b.last_nonce),
                gas=self.gas, dest_cursor=self.batches.cursor,
            )


_INDEXES: weakref.WeakKeyDictionary[Context, dict[tuple[RouteId, str, str], RouteIndex]] = (
    weakref.WeakKeyDictionary()
)
_INDEXES_LOCK = threading.Lock()


def route_snapshot(ctx: Context, route: RouteId) -> RouteSnapshot:
    """`route` as of now, from this Context's index (created on first use; a redeployed contract
    gets a new index, its key being the route and both contracts' addresses)."""
    deployment = ctx.deployment
    key = (route, deployment.source_contract(route), deployment.dest_contract(route))
    with _INDEXES_LOCK:
        indexes = _INDEXES.setdefault(ctx, {})
        index = indexes.get(key)
        if index is None:
            index = indexes[key] = RouteIndex.build(ctx.route_reader(route), deployment)
    return index.refresh()


def forget(ctx: Context) -> None:
    """Drop this Context's index (the next lookup rebuilds it from the deployment blocks)."""
    with _INDEXES_LOCK:
        _INDEXES.pop(ctx, None)
