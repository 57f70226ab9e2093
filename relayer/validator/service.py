"""Validator: verify a route's finalized messages on the source chain, sign checkpoints, publish them.

One tick of one route: scan from the cursor (in the signing-protection db) to the block final by
the source chain's policy, link every header by parent hash back to the cursor's block (each hash
recomputed from its fields, optionally compared with a second provider), prove every message's
receipt against its block's receiptsRoot, recompute the hash chain, check it against the source
contract's stored (nonce, head), then sign the deterministic checkpoint nonces: record first (never
two heads for one nonce), publish second. Block by block: a block's checkpoints are out before the
next block's receipts are fetched. A reorg that replaces a block this validator signed on
halts the route for it. Generic over deposit and withdrawal routes: RouteReader knows which
contract and event each kind uses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, SecretStr

from relayer.chain.client import ChainClient
from relayer.chain.routes import DEPOSITED, WITHDRAWAL_QUEUED, RouteReader
from relayer.deployment import Deployment
from relayer.errors import (
    HeaderMismatchError,
    HeadMismatchError,
    ProofError,
    ReceiptProofError,
    SigningConflictError,
    SourceReorgedError,
)
from relayer.proofs import checkpoint as cps
from relayer.proofs.hashchain import ZERO_HEAD, DepositMessage, RouteMessage, WithdrawalMessage, check_chain
from relayer.proofs.receipts import receipt_logs, receipts_root
from relayer.store.redis_store import Store
from relayer.types import MAX_BATCH, BlockNumber, ChainId, Nonce, RouteId, RouteKind
from relayer.validator.publish import Publisher, RedisPublisher
from relayer.validator.selection import checkpoint_nonces
from relayer.validator.signer_db import ScanCursor, SignedCheckpoint, SignerDb

log = logging.getLogger(__name__)

DEFAULT_MAX_BLOCKS_PER_TICK = 5000
"""Blocks scanned per tick at most, so one tick stays short; the next tick continues."""


def _topic(event_abi: Any) -> bytes:
    """Topic 0 of an event; `Any` because chain.routes writes its event ABIs as plain dicts."""
    return event_abi_to_log_topic(event_abi)


_DEPOSITED_TOPIC = _topic(DEPOSITED)
_WITHDRAWAL_QUEUED_TOPIC = _topic(WITHDRAWAL_QUEUED)


class ValidatorTickResult(BaseModel):
    """What one validator tick of one route did."""

    model_config = ConfigDict(frozen=True)

    route: str
    validator: str
    finalized_block: int | None = None
    """Source block treated as final this tick (None: the route is halted, nothing was read)."""
    scanned_from: int | None = None
    scanned_to: int | None = None
    """Last block verified this tick (None: nothing new was final)."""
    signed: tuple[int, ...] = ()
    """Checkpoint nonces newly recorded and published."""
    republished: int = 0
    """Recorded signatures published again for nonces the destination still needs."""
    rewound: bool = False
    """The cursor's block left the canonical chain (reorg past finality): rescanned from the start."""
    halted: str | None = None
    """Why the route is halted (nothing was signed)."""


def expected_log(route: RouteId, source: str, item: RouteMessage) -> tuple[str, list[bytes], bytes]:
    """The (address, topics, data) a message's source event must have in its receipt (docs/protocol.md)."""
    msg = item.message
    if route.kind is RouteKind.DEPOSIT and isinstance(msg, DepositMessage):
        topics = [
            _DEPOSITED_TOPIC,
            encode(["uint64"], [item.nonce]),
            encode(["address"], [msg.depositor]),
            encode(["address"], [msg.account]),
        ]
        data = encode(["address", "uint256", "bytes32"], [msg.token, msg.amount, item.head])
    elif route.kind is RouteKind.WITHDRAWAL and isinstance(msg, WithdrawalMessage):
        topics = [
            _WITHDRAWAL_QUEUED_TOPIC,
            encode(["uint64"], [route.dest_chain_id]),
            encode(["uint64"], [item.nonce]),
            encode(["address"], [msg.account]),
        ]
        fields = [msg.recipient, msg.token, msg.amount, item.head]
        data = encode(["address", "address", "uint256", "bytes32"], fields)
    else:
        raise ReceiptProofError(item.tx_index, f"a {type(msg).__name__} on a {route.kind.value} route")
    return source, topics, data


class Validator:
    """One validator identity signing every route it is asked to tick."""

    def __init__(
        self,
        name: str,
        key: SecretStr | str,
        db: SignerDb,
        publisher: Publisher | Store,
        deployment: Deployment,
        clients: Mapping[ChainId, ChainClient],
        max_batch: int = MAX_BATCH,
        max_blocks_per_tick: int = DEFAULT_MAX_BLOCKS_PER_TICK,
        start_block: int = 0,
    ) -> None:
        self.name = name
        self._key = key if isinstance(key, SecretStr) else SecretStr(key)
        self.address = Account.from_key(self._key.get_secret_value()).address
        self.db = db
        self.publisher: Publisher = RedisPublisher(publisher) if isinstance(publisher, Store) else publisher
        self.deployment = deployment
        self.clients = clients
        self.max_batch = max_batch
        self.max_blocks_per_tick = max_blocks_per_tick
        self.start_block = start_block
        self._readers: dict[RouteId, RouteReader] = {}
        self._last_alarm: dict[RouteId, str] = {}

    def reader(self, route: RouteId) -> RouteReader:
        """The route's reader (cached), given the clients of the route's two chains only."""
        if route not in self._readers:
            ends = (route.source_chain_id, route.dest_chain_id)
            self._readers[route] = RouteReader(
                route, self.deployment, {cid: self.clients[cid] for cid in ends if cid in self.clients}
            )
        return self._readers[route]

    def tick(self, route: RouteId) -> ValidatorTickResult:
        """Verify and sign what became final on `route` since the last tick; re-publish what the
        destination still needs. Idempotent. SigningConflictError (route halted, alarm raised) if
        the chain now shows another head for an already signed nonce."""
        reader = self.reader(route)
        halted = self.db.halted(route)
        if halted is not None:
            self.publisher.halt(route, self.address, halted)  # again every tick: a Redis wipe forgets it
            return ValidatorTickResult(route=str(route), validator=self.name, halted=halted)
        final = reader.source_client.finalized_block()
        cursor, rewound = self._cursor(route, reader, final)
        halted = self.db.halted(route)
        if halted is not None:
            return ValidatorTickResult(route=str(route), validator=self.name, finalized_block=final, halted=halted)
        signed: list[int] = []
        scanned: tuple[int, int] | None = None
        # A first scan starts where the source contract was deployed (deployment record), not at genesis.
        first = max(self.start_block, self.deployment.source_deploy_block(route))
        start = cursor.block + 1 if cursor is not None else first
        if start <= final:
            to = BlockNumber(min(final, start + self.max_blocks_per_tick - 1))
            prev = cursor or ScanCursor(
                block=BlockNumber(start - 1), block_hash=ZERO_HEAD, nonce=Nonce(0), head=ZERO_HEAD
            )
            try:
                signed = self._scan_and_sign(route, reader, prev, start, to)
            except ProofError as err:
                self._alarm_once(route, f"validator {self.name}: source evidence rejected, nothing signed: {err}")
                raise
            scanned = (start, to)
        republished = self._republish(route, reader)
        return ValidatorTickResult(
            route=str(route),
            validator=self.name,
            finalized_block=final,
            scanned_from=scanned[0] if scanned else None,
            scanned_to=scanned[1] if scanned else None,
            signed=tuple(signed),
            republished=republished,
            rewound=rewound,
        )

    def _alarm_once(self, route: RouteId, text: str) -> None:
        """Raise an alarm unless the same one was the last raised for this route (ticks repeat)."""
        if self._last_alarm.get(route) != text:
            self._last_alarm[route] = text
            self.publisher.alarm(route, text)

    def _halt(self, route: RouteId, reason: str) -> None:
        """Halt the route in the signing-protection record, alarm and report it."""
        self.db.halt(route, reason)
        self.publisher.alarm(route, f"validator {self.name}: {reason}; route halted")
        self.publisher.halt(route, self.address, reason)

    # scanning ----------------------------------------------------------------------------

    def _cursor(self, route: RouteId, reader: RouteReader, final: int) -> tuple[ScanCursor | None, bool]:
        """The scan cursor. If its block left the canonical chain (a reorg past finality): when a
        block this validator signed on was replaced too, the route is halted (nothing more is
        signed); otherwise the cursor is rewound to rescan from the start. A route still empty at
        the finalized block starts right there (nothing before it to scan)."""
        source = reader.source_address
        cursor = self.db.cursor(route, source)
        if cursor is not None:
            if cursor.block > final:
                return cursor, False  # the finalized block moved back (node lag): nothing to do
            block = reader.source_client.get_block(cursor.block)
            if bytes(block["hash"]) == cursor.block_hash:
                return cursor, False
            text = (
                f"validator {self.name}: block {cursor.block} of chain {route.source_chain_id} was replaced "
                f"after it was final"
            )
            self.publisher.alarm(route, text)
            last = next(iter(self.db.signed_descending(route, source, reader.dest_address)), None)
            if last is not None:
                now = bytes(reader.source_client.get_block(last.block)["hash"])
                if now != last.block_hash:
                    self._halt(route, (
                        f"reorg past a signed checkpoint: block {last.block} holding nonce {last.nonce} is now "
                        f"0x{now.hex()}, signed on 0x{bytes(last.block_hash).hex()}"
                    ))
                    return None, True
            self.db.reset_cursor(route, source)
            return None, True
        state = reader.source_state(final)
        if state.nonce == 0:
            block = reader.source_client.get_block(final)
            empty = ScanCursor(
                block=BlockNumber(final), block_hash=bytes(block["hash"]), nonce=Nonce(0), head=ZERO_HEAD
            )
            self.db.set_cursor(route, source, empty)
            return empty, False
        return None, False

    def _scan_and_sign(
        self, route: RouteId, reader: RouteReader, prev: ScanCursor, start: int, to: BlockNumber
    ) -> list[int]:
        """Verify blocks [start, to] and sign their checkpoints; returns the newly signed nonces.
        Block by block: each block holding messages is proven, checked against the source
        contract's (nonce, head) at that block, signed and made the cursor before the next one's
        receipts are fetched, so a validator that fell several blocks behind publishes the first
        block's checkpoint without waiting for the whole range (a submitter can send it while the
        rest is verified)."""
        linked = self._linked_headers(reader, prev, start, to)
        messages = reader.scan_messages(start, to)
        for item in messages:
            if linked.get(item.block_number) != item.block_hash:
                raise SourceReorgedError(
                    reader.source_client.name, item.block_number, item.block_hash, linked.get(item.block_number, b"")
                )
        check_chain(prev.head, prev.nonce, messages)  # the whole range continues the cursor, gapless
        by_block: dict[int, list[RouteMessage]] = {}
        for item in messages:
            by_block.setdefault(item.block_number, []).append(item)
        newly: list[int] = []
        nonce, head = prev.nonce, prev.head
        for number in sorted(by_block):
            items = by_block[number]
            proven = self._prove_receipts(route, reader, items)
            nonce, head = Nonce(items[-1].nonce), items[-1].head
            self._check_state(route, reader, number, nonce, head)
            reader.source_client.cross_check(number, linked[number])
            for checkpoint in checkpoint_nonces(((m.nonce, m.block_number) for m in items), self.max_batch):
                item = items[checkpoint - items[0].nonce]
                if self._sign(route, reader, item, proven[number]):
                    newly.append(checkpoint)
            if number < to:
                cursor = ScanCursor(block=BlockNumber(number), block_hash=linked[number], nonce=nonce, head=head)
                self.db.set_cursor(route, reader.source_address, cursor)
        self._check_state(route, reader, to, nonce, head)
        reader.source_client.cross_check(to, linked[to])
        self.db.set_cursor(
            route, reader.source_address, ScanCursor(block=to, block_hash=linked[to], nonce=nonce, head=head)
        )
        if newly:
            log.info("validator %s route %s: signed nonces %s", self.name, route, newly)
        return newly

    @staticmethod
    def _check_state(route: RouteId, reader: RouteReader, block: int, nonce: int, head: bytes) -> None:
        """The source contract's stored (nonce, head) at `block` must be what the messages fold to."""
        state = reader.source_state(block)
        if state.nonce != nonce or state.head != head:
            raise HeadMismatchError(nonce, head, state.head, route)

    def _linked_headers(self, reader: RouteReader, prev: ScanCursor, start: int, to: int) -> dict[int, bytes]:
        """Hashes of blocks [start, to], walked back from `to` by parent hash (each header's hash
        recomputed from its fields by the client) down to the cursor's block, whose hash must be
        the one recorded. HeaderMismatchError if the chain does not link up."""
        client = reader.source_client
        header = client.get_block(to)
        linked: dict[int, bytes] = {}
        while True:
            number = int(header["number"])
            linked[number] = bytes(header["hash"])
            if number <= start:
                break
            parent = bytes(header["parentHash"])
            header = client.get_block(HexBytes(parent))
            if int(header["number"]) != number - 1:
                raise HeaderMismatchError(client.name, number, "parent hash names a block of another height")
        if number != start:
            raise HeaderMismatchError(client.name, to, f"walk ended at block {number}, not {start}")
        anchor = bytes(header["parentHash"])
        if prev.block_hash != ZERO_HEAD and anchor != prev.block_hash:
            raise HeaderMismatchError(
                client.name, start,
                f"parent 0x{anchor.hex()} is not the last scanned block {prev.block} (0x{prev.block_hash.hex()})",
            )
        return linked

    def _prove_receipts(
        self, route: RouteId, reader: RouteReader, messages: Sequence[RouteMessage]
    ) -> dict[int, bytes]:
        """For each block holding messages: its receipts (one eth_getBlockReceipts) rebuild the
        header's receiptsRoot, which authenticates every one of them at its index, and each
        message's event is among the logs of its transaction's receipt. Once per block: no
        per-message trie proof (the rebuilt root already covers every receipt it would prove).
        Returns block -> block hash."""
        client = reader.source_client
        by_block: dict[int, list[RouteMessage]] = {}
        for item in messages:
            by_block.setdefault(item.block_number, []).append(item)
        hashes: dict[int, bytes] = {}
        for number, items in by_block.items():
            header = client.get_block(number)
            block_hash, root = bytes(header["hash"]), bytes(header["receiptsRoot"])
            for item in items:
                if item.block_hash != block_hash:
                    raise SourceReorgedError(client.name, number, item.block_hash, block_hash)
            receipts = client.block_receipts(number)
            rebuilt = receipts_root(receipts)
            if rebuilt != root:
                raise ReceiptProofError(
                    -1, f"block {number}: receipts rebuild root 0x{rebuilt.hex()}, header says 0x{root.hex()}"
                )
            for item in items:
                if item.tx_index >= len(receipts):
                    raise ReceiptProofError(item.tx_index, f"block {number} has {len(receipts)} receipts")
                receipt = receipts[item.tx_index]
                if bytes(receipt["transactionHash"]) != item.tx_hash:
                    raise ReceiptProofError(
                        item.tx_index, f"block {number}: receipt is not of tx 0x{item.tx_hash.hex()}"
                    )
                address, topics, data = expected_log(route, reader.source_address, item)
                if not any(lg.address == address and lg.topics == topics and lg.data == data
                           for lg in receipt_logs(receipt)):
                    raise ReceiptProofError(
                        item.tx_index, f"block {number}: nonce {item.nonce} event not in the proven receipt"
                    )
            hashes[number] = block_hash
        return hashes

    # signing -----------------------------------------------------------------------------

    def _sign(self, route: RouteId, reader: RouteReader, item: RouteMessage, block_hash: bytes) -> bool:
        """Sign the checkpoint at `item`: record it first, then publish. True if newly recorded."""
        checkpoint = reader.checkpoint(item.nonce, item.head)
        signature = cps.sign(checkpoint, route.dest_chain_id, reader.dest_address, self._key)
        record = SignedCheckpoint(
            nonce=item.nonce, head=item.head, signature=signature, block=item.block_number, block_hash=block_hash
        )
        try:
            new = self.db.record(route, reader.source_address, reader.dest_address, record)
        except SigningConflictError as err:
            self.publisher.alarm(route, f"validator {self.name}: {err}; route halted")
            self.publisher.halt(route, self.address, str(err))
            raise
        kept = record if new else self.db.signed(route, reader.source_address, reader.dest_address, item.nonce)
        assert kept is not None
        self.publisher.signature(route, kept.nonce, kept.head, self.address, kept.signature)
        return new

    def _republish(self, route: RouteId, reader: RouteReader) -> int:
        """Publish again the recorded signatures the destination can still use: nonces in
        (processed, processed + max_batch], so a Redis wipe loses nothing."""
        processed = reader.dest_state().nonce
        kept = self.db.signed_between(
            route, reader.source_address, reader.dest_address, processed, processed + self.max_batch
        )
        for item in kept:
            self.publisher.signature(route, item.nonce, item.head, self.address, item.signature)
        return len(kept)
