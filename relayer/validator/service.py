"""Validator: verify a route's finalized messages on the source chain, sign checkpoints, publish them.

One tick of one route: scan from the cursor (in the signing-protection db) at most
`max_blocks_per_tick` blocks towards the block final by the source chain's policy, link every
header by parent hash back to the cursor's block (each hash recomputed from its fields, optionally
compared with a second provider), prove every message's receipt against its block's receiptsRoot,
recompute the hash chain, check it against the source contract's stored (nonce, head), then sign
the deterministic checkpoint nonces: record first (never two heads for one nonce), publish second
(relayer.validator.outbox, which also publishes again what the destination still needs).
The range's reads go out concurrently (relayer.validator.evidence); verification and signing go
block by block, and the cursor moves after each block holding messages, so a killed worker loses
at most one block's work and a short range keeps each tick short (the beat sends the next one).
A reorg that replaces a block this validator signed on halts the route for it. Generic over
deposit and withdrawal routes: RouteReader knows which contract and event each kind uses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_account import Account
from pydantic import BaseModel, ConfigDict, SecretStr
from web3.types import BlockData

from relayer.chain.client import ChainClient
from relayer.chain.routes import RouteReader, RouteState
from relayer.deployment import Deployment
from relayer.errors import (
    HeadMismatchError,
    LockUnavailableError,
    ProofError,
    SourceReorgedError,
)
from relayer.proofs.hashchain import ZERO_HEAD, RouteMessage, check_chain
from relayer.store.redis_store import Store
from relayer.types import MAX_BATCH, BlockNumber, ChainId, Nonce, RouteId
from relayer.validator.evidence import DEFAULT_FETCH_THREADS, Prefetch, linked_headers, prove_block
from relayer.validator.outbox import Outbox, Scan
from relayer.validator.publish import Publisher, RedisPublisher
from relayer.validator.selection import checkpoint_nonces
from relayer.validator.signer_db import ScanCursor, SignerDb

log = logging.getLogger(__name__)

DEFAULT_MAX_BLOCKS_PER_TICK = 64
"""Blocks scanned per tick at most, so a tick stays a few seconds even through a slow RPC and a
killed worker loses little; the beat sends the next tick, which continues from the cursor."""
REPUBLISH_EVERY_S = 5.0
"""A recorded signature the destination still needs is published again at most this often (a
Redis wipe is repaired within it), not on every tick: one POST per signature per tick was most of
a caught-up validator's requests."""


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
    """Checkpoint nonces newly recorded (and published, unless counted in `unpublished`)."""
    republished: int = 0
    """Recorded signatures published again for nonces the destination still needs."""
    unpublished: int = 0
    """Signatures recorded or due again that no API (or Redis) took this tick: a later tick
    publishes them again (the record is what counts; publishing is repeated until it lands)."""
    seconds: dict[str, float] = {}
    """Where the tick's time went: `headers` (fetch and link), `logs`, `evidence` (waiting for
    receipts and state), `sign` (record and publish), `republish`."""
    rewound: bool = False
    """The cursor's block left the canonical chain (reorg past finality): rescanned from the start."""
    halted: str | None = None
    """Why the route is halted (nothing was signed)."""


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
        fetch_threads: int = DEFAULT_FETCH_THREADS,
        republish_every_s: float = REPUBLISH_EVERY_S,
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
        self._pool = ThreadPoolExecutor(max_workers=fetch_threads, thread_name_prefix=f"validator-{name}-read")
        self._guard = threading.Lock()
        self._running: dict[RouteId, threading.Lock] = {}
        self.outbox = Outbox(name, self._key, self.address, db, self.publisher, max_batch, republish_every_s)
        """The signing step: record, publish, publish again (relayer.validator.outbox)."""

    @property
    def republish_every_s(self) -> float:
        """How often a recorded signature the destination still needs is published again."""
        return self.outbox.republish_every_s

    @republish_every_s.setter
    def republish_every_s(self, value: float) -> None:
        self.outbox.republish_every_s = value

    def reader(self, route: RouteId) -> RouteReader:
        """The route's reader (cached), given the clients of the route's two chains only."""
        with self._guard:
            if route not in self._readers:
                ends = (route.source_chain_id, route.dest_chain_id)
                self._readers[route] = RouteReader(
                    route, self.deployment, {cid: self.clients[cid] for cid in ends if cid in self.clients}
                )
            return self._readers[route]

    def tick(self, route: RouteId) -> ValidatorTickResult:
        """Verify and sign what became final on `route` since the last tick (at most
        `max_blocks_per_tick` blocks); re-publish what the destination still needs. Idempotent.
        SigningConflictError (route halted, alarm raised) if the chain now shows another head for
        an already signed nonce. LockUnavailableError if a tick of this validator on `route` is
        still running in this process: the Redis lease normally keeps a second one out, but a
        Redis wipe or restart loses the lease while its holder carries on."""
        with self._guard:
            running = self._running.setdefault(route, threading.Lock())
        if not running.acquire(blocking=False):
            raise LockUnavailableError(f"validate:{self.name}:{route}", "a tick of this route runs in this process")
        try:
            return self._tick(route)
        finally:
            running.release()

    def _tick(self, route: RouteId) -> ValidatorTickResult:
        """`tick` under the route's in-process lock."""
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
        scan = Scan()
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
                self._scan_and_sign(route, reader, prev, start, to, scan)
            except ProofError as err:
                self._alarm_once(route, f"validator {self.name}: source evidence rejected, nothing signed: {err}")
                raise
            scanned = (start, to)
        began = time.monotonic()
        republished = self.outbox.republish(route, reader, scan)
        scan.lap("republish", began)
        return ValidatorTickResult(
            route=str(route),
            validator=self.name,
            finalized_block=final,
            scanned_from=scanned[0] if scanned else None,
            scanned_to=scanned[1] if scanned else None,
            signed=tuple(scan.signed),
            republished=republished,
            unpublished=scan.unpublished,
            rewound=rewound,
            seconds={k: round(v, 3) for k, v in scan.seconds.items()},
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
            block = reader.source_client.header(cursor.block)
            if bytes(block["hash"]) == cursor.block_hash:
                return cursor, False
            text = (
                f"validator {self.name}: block {cursor.block} of chain {route.source_chain_id} was replaced "
                f"after it was final"
            )
            self.publisher.alarm(route, text)
            last = next(iter(self.db.signed_descending(route, source, reader.dest_address)), None)
            if last is not None:
                now = bytes(reader.source_client.header(last.block)["hash"])
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
            block = reader.source_client.header(final)
            empty = ScanCursor(
                block=BlockNumber(final), block_hash=bytes(block["hash"]), nonce=Nonce(0), head=ZERO_HEAD
            )
            self.db.set_cursor(route, source, empty)
            return empty, False
        return None, False

    def _scan_and_sign(
        self, route: RouteId, reader: RouteReader, prev: ScanCursor, start: int, to: BlockNumber, scan: Scan
    ) -> None:
        """Verify blocks [start, to] and sign their checkpoints (newly signed nonces into `scan`).
        The headers are read concurrently while the logs are, the receipts and source state of
        the blocks holding messages as soon as the logs name them; then block by block, in order,
        each is proven, checked against the source contract's (nonce, head) at that block, signed
        and made the cursor before the next one's evidence is looked at, so a validator that fell
        behind publishes its first block's checkpoint without waiting for the whole range."""
        client = reader.source_client
        header_reads: Prefetch[int, BlockData] = Prefetch(self._pool, client.header, range(start, to + 1))
        receipts: Prefetch[int, list[dict[str, Any]]] | None = None
        states: Prefetch[int, RouteState] | None = None
        try:
            began = time.monotonic()
            messages = reader.scan_messages(start, to)
            scan.lap("logs", began)
            by_block: dict[int, list[RouteMessage]] = {}
            for item in messages:
                by_block.setdefault(item.block_number, []).append(item)
            blocks = sorted(by_block)
            receipts = Prefetch(self._pool, client.block_receipts, blocks)
            states = Prefetch(self._pool, reader.source_state, [*blocks, to])
            began = time.monotonic()
            headers = linked_headers(client, header_reads, prev.block, prev.block_hash, start, to)
            scan.lap("headers", began)
            self._sign_blocks(route, reader, prev, to, headers, messages, by_block, receipts, states, scan)
        finally:
            for reads in (header_reads, receipts, states):
                if reads is not None:
                    reads.cancel()
        if scan.signed:
            log.info("validator %s route %s: signed nonces %s", self.name, route, scan.signed)

    def _sign_blocks(
        self, route: RouteId, reader: RouteReader, prev: ScanCursor, to: BlockNumber, headers: Mapping[int, BlockData],
        messages: Sequence[RouteMessage], by_block: Mapping[int, Sequence[RouteMessage]],
        receipts: Prefetch[int, list[dict[str, Any]]], states: Prefetch[int, RouteState], scan: Scan,
    ) -> None:
        """The per-block half of `_scan_and_sign`, over headers already linked."""
        client = reader.source_client
        linked = {number: bytes(header["hash"]) for number, header in headers.items()}
        for item in messages:
            if linked.get(item.block_number) != item.block_hash:
                now = linked.get(item.block_number, b"")
                raise SourceReorgedError(client.name, item.block_number, item.block_hash, now)
        check_chain(prev.head, prev.nonce, messages)  # the whole range continues the cursor, gapless
        nonce, head = prev.nonce, prev.head
        for number in sorted(by_block):
            items = by_block[number]
            began = time.monotonic()
            block_receipts = receipts.get(number)
            state = states.get(number)
            scan.lap("evidence", began)
            self._prove_block(route, reader, headers[number], block_receipts, items)
            nonce, head = Nonce(items[-1].nonce), items[-1].head
            self._check_state(route, state, nonce, head)
            client.cross_check(number, linked[number])
            began = time.monotonic()
            for checkpoint in checkpoint_nonces(((m.nonce, m.block_number) for m in items), self.max_batch):
                item = items[checkpoint - items[0].nonce]
                if self.outbox.sign(route, reader, item, linked[number], scan):
                    scan.signed.append(checkpoint)
            if number < to:
                cursor = ScanCursor(block=BlockNumber(number), block_hash=linked[number], nonce=nonce, head=head)
                self.db.set_cursor(route, reader.source_address, cursor)
            scan.lap("sign", began)
        began = time.monotonic()
        state = states.get(to)
        scan.lap("evidence", began)
        self._check_state(route, state, nonce, head)
        client.cross_check(to, linked[to])
        self.db.set_cursor(
            route, reader.source_address, ScanCursor(block=to, block_hash=linked[to], nonce=nonce, head=head)
        )

    @staticmethod
    def _check_state(route: RouteId, state: RouteState, nonce: int, head: bytes) -> None:
        """The source contract's stored (nonce, head) at a block must be what the messages fold to."""
        if state.nonce != nonce or state.head != head:
            raise HeadMismatchError(nonce, head, state.head, route)

    def _prove_block(
        self, route: RouteId, reader: RouteReader, header: BlockData, receipts: Sequence[Mapping[str, Any]],
        items: Sequence[RouteMessage],
    ) -> None:
        """One block's messages proven against its linked header (relayer.validator.evidence.prove_block)."""
        prove_block(reader.source_client.name, route, reader.source_address, header, receipts, items)
