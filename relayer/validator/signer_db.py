"""Signing-protection record on the validator's own disk (sqlite): what it signed, where it stopped.

Like an Ethereum validator client's slashing-protection database, this file, not Redis, is the
validator's memory: it must survive a Redis wipe, and it is what stops the validator from ever
signing two different heads for one (route, source, destination, nonce). The destination is part
of the key: a redeployed destination contract starts its own record (its route starts again at
nonce 1 on chain, and the old record must not stall it).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from relayer.errors import RouteHaltedError, SigningConflictError
from relayer.types import Address, BlockNumber, Bytes32, Nonce, RouteId

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signatures (
    route      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    dest       TEXT    NOT NULL,
    nonce      INTEGER NOT NULL,
    head       BLOB    NOT NULL,
    signature  BLOB    NOT NULL,
    block      INTEGER NOT NULL,
    block_hash BLOB    NOT NULL,
    signed_at  REAL    NOT NULL,
    PRIMARY KEY (route, source, dest, nonce)
);
CREATE TABLE IF NOT EXISTS cursor (
    route      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    block      INTEGER NOT NULL,
    block_hash BLOB    NOT NULL,
    nonce      INTEGER NOT NULL,
    head       BLOB    NOT NULL,
    PRIMARY KEY (route, source)
);
CREATE TABLE IF NOT EXISTS halted (
    route      TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL,
    halted_at  REAL    NOT NULL
);
"""


class SignedCheckpoint(BaseModel):
    """One signature this validator gave: the checkpoint (nonce, head) and where its block was."""

    model_config = ConfigDict(frozen=True)

    nonce: Nonce
    head: Bytes32
    signature: bytes
    block: BlockNumber
    """Source block holding message `nonce` (its hash is kept to detect a reorg later)."""
    block_hash: Bytes32


class ScanCursor(BaseModel):
    """Where a route's scan stopped: last scanned block, and the chain state (nonce, head) there."""

    model_config = ConfigDict(frozen=True)

    block: BlockNumber
    block_hash: Bytes32
    nonce: Nonce
    head: Bytes32


class SignerDb:
    """sqlite signing-protection record: signed checkpoints, scan cursors and halted routes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Records of the older table (keyed without the destination) are kept with dest '', which
        every conflict check matches: an old signature still refuses a second head."""
        with self._write() as conn:
            old = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='signed'").fetchone()
            if old is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO signatures SELECT route, source, '', nonce, head, signature, block,"
                    " block_hash, signed_at FROM signed"
                )
                conn.execute("DROP TABLE signed")

    def close(self) -> None:
        """Close the database file."""
        self._conn.close()

    def __enter__(self) -> SignerDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locked) transaction, so concurrent processes serialise."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # signatures ---------------------------------------------------------------------------

    def record(
        self, route: RouteId, source: Address, dest: Address, checkpoint: SignedCheckpoint
    ) -> bool:
        """Record a signature before it leaves the machine; False if this exact head was already
        recorded. A different head for a recorded nonce halts the route and raises
        SigningConflictError; a halted route records nothing (RouteHaltedError)."""
        key = (str(route), source.lower(), dest.lower(), int(checkpoint.nonce))
        with self._write() as conn:
            halted = conn.execute("SELECT reason FROM halted WHERE route = ?", (str(route),)).fetchone()
            if halted is not None:
                raise RouteHaltedError(route, str(halted[0]))
            row = conn.execute(
                "SELECT head FROM signatures WHERE route = ? AND source = ? AND dest IN (?, '') AND nonce = ?",
                key,
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *key,
                        checkpoint.head,
                        bytes(checkpoint.signature),
                        int(checkpoint.block),
                        checkpoint.block_hash,
                        time.time(),
                    ),
                )
                return True
            if bytes(row[0]) == checkpoint.head:
                return False
            conflict = SigningConflictError(route, checkpoint.nonce, bytes(row[0]), checkpoint.head)
            conn.execute(
                "INSERT OR REPLACE INTO halted VALUES (?, ?, ?)", (str(route), str(conflict), time.time())
            )
        raise conflict

    def signed(self, route: RouteId, source: Address, dest: Address, nonce: int) -> SignedCheckpoint | None:
        """The recorded signature at `nonce`, if any."""
        rows = self._select(
            "WHERE route = ? AND source = ? AND dest = ? AND nonce = ?",
            (str(route), source.lower(), dest.lower(), int(nonce)),
        )
        return rows[0] if rows else None

    def signed_between(
        self, route: RouteId, source: Address, dest: Address, after: int, up_to: int
    ) -> list[SignedCheckpoint]:
        """Recorded signatures with `after < nonce <= up_to`, ascending."""
        return self._select(
            "WHERE route = ? AND source = ? AND dest = ? AND nonce > ? AND nonce <= ? ORDER BY nonce",
            (str(route), source.lower(), dest.lower(), int(after), int(up_to)),
        )

    def signed_descending(self, route: RouteId, source: Address, dest: Address) -> Iterator[SignedCheckpoint]:
        """Every recorded signature of the route, highest nonce first (for reorg checks)."""
        yield from self._select(
            "WHERE route = ? AND source = ? AND dest IN (?, '') ORDER BY nonce DESC",
            (str(route), source.lower(), dest.lower()),
        )

    def _select(self, where: str, args: tuple[object, ...]) -> list[SignedCheckpoint]:
        """Signed rows matching `where`."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT nonce, head, signature, block, block_hash FROM signatures {where}", args
            ).fetchall()
        return [
            SignedCheckpoint(
                nonce=Nonce(r[0]), head=bytes(r[1]), signature=bytes(r[2]),
                block=BlockNumber(r[3]), block_hash=bytes(r[4]),
            )
            for r in rows
        ]

    # cursor -------------------------------------------------------------------------------

    def cursor(self, route: RouteId, source: Address) -> ScanCursor | None:
        """Where the scan of this route stopped, or None before the first scan."""
        with self._lock:
            row = self._conn.execute(
                "SELECT block, block_hash, nonce, head FROM cursor WHERE route = ? AND source = ?",
                (str(route), source.lower()),
            ).fetchone()
        if row is None:
            return None
        return ScanCursor(
            block=BlockNumber(row[0]), block_hash=bytes(row[1]), nonce=Nonce(row[2]), head=bytes(row[3])
        )

    def set_cursor(self, route: RouteId, source: Address, cursor: ScanCursor) -> None:
        """Move the scan cursor (after the blocks up to it were verified and signed)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cursor VALUES (?, ?, ?, ?, ?, ?)",
                (str(route), source.lower(), int(cursor.block), cursor.block_hash, int(cursor.nonce), cursor.head),
            )

    def reset_cursor(self, route: RouteId, source: Address) -> None:
        """Forget where the scan stopped: the next scan starts again from the route's start."""
        with self._write() as conn:
            conn.execute("DELETE FROM cursor WHERE route = ? AND source = ?", (str(route), source.lower()))

    # halting ------------------------------------------------------------------------------

    def halted(self, route: RouteId) -> str | None:
        """Why the route is halted, or None if it may be signed."""
        with self._lock:
            row = self._conn.execute("SELECT reason FROM halted WHERE route = ?", (str(route),)).fetchone()
        return None if row is None else str(row[0])

    def halts(self) -> list[tuple[str, str, float]]:
        """Every halted route: (route, reason, unix time of the halt), oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT route, reason, halted_at FROM halted ORDER BY halted_at").fetchall()
        return [(str(r), str(why), float(at)) for r, why, at in rows]

    def halt(self, route: RouteId, reason: str) -> None:
        """Stop signing the route until an operator clears it."""
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO halted VALUES (?, ?, ?)", (str(route), reason, time.time()))

    def clear_halt(self, route: RouteId, forget_above: int | None = None) -> bool:
        """Operator action after investigating a conflict; True if the route was halted.

        The signatures stay recorded, so the conflicting head is still refused; an operator who
        has established that the chain re-anchored may pass `forget_above` to drop the records
        (and cursors) of nonces above it, accepting responsibility for the equivocation risk."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM halted WHERE route = ?", (str(route),))
            if forget_above is not None:
                conn.execute(
                    "DELETE FROM signatures WHERE route = ? AND nonce > ?", (str(route), int(forget_above))
                )
                conn.execute("DELETE FROM cursor WHERE route = ?", (str(route),))
            return cur.rowcount > 0
