"""A validator's signing step: record a checkpoint's signature in the signing-protection db first
(never two heads for one nonce), publish it second, and publish again what the destination can
still use on a schedule, so a Redis wipe, a missed API or a publishing outage loses nothing. The
record is what counts; publishing is repeated until it lands."""

from __future__ import annotations

import logging
import time

from pydantic import SecretStr

from relayer.chain.routes import RouteReader
from relayer.errors import PublishError, SigningConflictError, StoreUnavailableError
from relayer.proofs import checkpoint as cps
from relayer.proofs.hashchain import RouteMessage
from relayer.types import RouteId
from relayer.validator.publish import Publisher
from relayer.validator.signer_db import SignedCheckpoint, SignerDb

log = logging.getLogger(__name__)


class Scan:
    """What one tick did so far: newly signed nonces, signatures not published, time per phase."""

    def __init__(self) -> None:
        self.signed: list[int] = []
        self.unpublished = 0
        self.seconds: dict[str, float] = {}

    def lap(self, phase: str, began: float) -> None:
        """Add the time since `began` (time.monotonic()) to `phase`."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.monotonic() - began


class Outbox:
    """Signs, records and publishes one validator's checkpoints (every route it ticks)."""

    def __init__(
        self, name: str, key: SecretStr, address: str, db: SignerDb, publisher: Publisher, max_batch: int,
        republish_every_s: float,
    ) -> None:
        self.name = name
        self._key = key
        self.address = address
        self.db = db
        self.publisher = publisher
        self.max_batch = max_batch
        self.republish_every_s = republish_every_s
        self._published: dict[RouteId, dict[int, float]] = {}
        """Per route: nonce -> when its signature last reached an API (or Redis), for `republish_every_s`."""
        self._looked: dict[RouteId, float] = {}
        """Per route: when `republish` last read what the destination still needs."""
        self._failed: set[RouteId] = set()
        """Routes with a signature no API (or Redis) took since `republish` last looked."""

    def sign(self, route: RouteId, reader: RouteReader, item: RouteMessage, block_hash: bytes, scan: Scan) -> bool:
        """Sign the checkpoint at `item`: record it first, then publish. True if newly recorded.
        SigningConflictError (alarm raised, halt reported) if another head is recorded for the nonce."""
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
        self.publish(route, kept, scan)
        return new

    def publish(self, route: RouteId, item: SignedCheckpoint, scan: Scan) -> bool:
        """Publish one recorded signature; False (counted in `scan.unpublished`, logged) if no API
        or Redis took it: the record stands and `republish` sends it again, so a publishing
        outage does not end the tick and throw away the blocks verified so far."""
        try:
            self.publisher.signature(route, item.nonce, item.head, self.address, item.signature)
        except (PublishError, StoreUnavailableError) as err:
            scan.unpublished += 1
            self._failed.add(route)
            if scan.unpublished == 1:
                log.warning("validator %s route %s: nonce %d not published (published again later): %s",
                            self.name, route, item.nonce, err, extra={"route": str(route), "validator": self.name})
            return False
        self._published.setdefault(route, {})[int(item.nonce)] = time.monotonic()
        return True

    def republish(self, route: RouteId, reader: RouteReader, scan: Scan) -> int:
        """Publish again the recorded signatures the destination can still use, nonces in
        (processed, processed + max_batch], each at most every `republish_every_s` (and at once if
        its last publishing failed), so a Redis wipe or a missed API loses nothing. Returns how
        many were published. The destination and the record are only read when something can be
        due: every `republish_every_s`, or at once after a failed publish (a tick every source
        block otherwise spent an eth_call and a db query on nothing)."""
        now = time.monotonic()
        if route not in self._failed and now - self._looked.get(route, float("-inf")) < self.republish_every_s:
            return 0
        self._looked[route] = now
        self._failed.discard(route)
        processed = reader.dest_state().nonce
        kept = self.db.signed_between(
            route, reader.source_address, reader.dest_address, processed, processed + self.max_batch
        )
        published = self._published.setdefault(route, {})
        for nonce in [n for n in published if n <= processed]:
            del published[nonce]  # the destination is past it
        sent = 0
        for item in kept:
            if now - published.get(int(item.nonce), float("-inf")) < self.republish_every_s:
                continue
            sent += self.publish(route, item, scan)
        return sent
