"""Signing-protection record: one head per (route, source, nonce), across restarts; halted routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayer.errors import SigningConflictError
from relayer.types import RouteId
from relayer.validator.signer_db import RouteHaltedError, ScanCursor, SignedCheckpoint, SignerDb

ROUTE = RouteId.parse("deposit:31338->31337")
OTHER = RouteId.parse("withdrawal:31337->31338")
SOURCE = "0x1111111111111111111111111111111111111111"
DEST = "0x3333333333333333333333333333333333333333"
HEAD_A = b"\xaa" * 32
HEAD_B = b"\xbb" * 32


def signed(nonce: int, head: bytes) -> SignedCheckpoint:
    return SignedCheckpoint(
        nonce=nonce, head=head, signature=b"\x01" * 65, block=10 + nonce, block_hash=b"\x02" * 32
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "validator" / "signer.sqlite"


def test_record_is_idempotent_for_the_same_head(db_path: Path) -> None:
    with SignerDb(db_path) as db:
        assert db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_A)) is True
        assert db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_A)) is False
        assert db.signed(ROUTE, SOURCE, DEST, 1).head == HEAD_A


def test_conflicting_head_after_reopen_raises_and_halts_the_route(db_path: Path) -> None:
    with SignerDb(db_path) as db:
        db.record(ROUTE, SOURCE, DEST, signed(5, HEAD_A))
    with SignerDb(db_path) as db:
        with pytest.raises(SigningConflictError) as info:
            db.record(ROUTE, SOURCE, DEST, signed(5, HEAD_B))
        assert info.value.signed_head == HEAD_A and info.value.new_head == HEAD_B
        assert db.signed(ROUTE, SOURCE, DEST, 5).head == HEAD_A
    with SignerDb(db_path) as db:
        assert db.halted(ROUTE) is not None
        assert db.halted(OTHER) is None


def test_halted_route_signs_nothing_until_cleared(db_path: Path) -> None:
    with SignerDb(db_path) as db:
        db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_A))
        with pytest.raises(SigningConflictError):
            db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_B))
        with pytest.raises(RouteHaltedError):
            db.record(ROUTE, SOURCE, DEST, signed(2, HEAD_A))
        assert db.signed(ROUTE, SOURCE, DEST, 2) is None
        db.record(OTHER, SOURCE, DEST, signed(2, HEAD_A))  # other routes are unaffected
        assert db.clear_halt(ROUTE) is True
        assert db.record(ROUTE, SOURCE, DEST, signed(2, HEAD_A)) is True
        # the old record survives clearing: the conflicting head is still refused
        with pytest.raises(SigningConflictError):
            db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_B))


def test_clear_halt_with_forget_above_drops_later_records_and_cursor(db_path: Path) -> None:
    with SignerDb(db_path) as db:
        for n in (1, 2, 3):
            db.record(ROUTE, SOURCE, DEST, signed(n, HEAD_A))
        db.set_cursor(ROUTE, SOURCE, ScanCursor(block=20, block_hash=HEAD_A, nonce=3, head=HEAD_A))
        db.halt(ROUTE, "operator test")
        db.clear_halt(ROUTE, forget_above=1)
        assert [c.nonce for c in db.signed_between(ROUTE, SOURCE, DEST, 0, 10)] == [1]
        assert db.cursor(ROUTE, SOURCE) is None


def test_records_are_scoped_by_source_contract(db_path: Path) -> None:
    other_source = "0x2222222222222222222222222222222222222222"
    with SignerDb(db_path) as db:
        db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_A))
        assert db.record(ROUTE, other_source, DEST, signed(1, HEAD_B)) is True
        assert db.halted(ROUTE) is None


def test_cursor_round_trips_across_reopen(db_path: Path) -> None:
    cursor = ScanCursor(block=42, block_hash=HEAD_B, nonce=7, head=HEAD_A)
    with SignerDb(db_path) as db:
        assert db.cursor(ROUTE, SOURCE) is None
        db.set_cursor(ROUTE, SOURCE, cursor)
    with SignerDb(db_path) as db:
        assert db.cursor(ROUTE, SOURCE) == cursor
        db.reset_cursor(ROUTE, SOURCE)
        assert db.cursor(ROUTE, SOURCE) is None


def test_signed_between_and_descending_order(db_path: Path) -> None:
    with SignerDb(db_path) as db:
        for n in (3, 1, 2, 100):
            db.record(ROUTE, SOURCE, DEST, signed(n, HEAD_A))
        assert [c.nonce for c in db.signed_between(ROUTE, SOURCE, DEST, 1, 3)] == [2, 3]
        assert [c.nonce for c in db.signed_descending(ROUTE, SOURCE, DEST)] == [100, 3, 2, 1]


def test_records_are_scoped_by_destination_contract(db_path: Path) -> None:
    """A redeployed destination starts its own record: its nonce 1 is not the old one's."""
    redeployed = "0x4444444444444444444444444444444444444444"
    with SignerDb(db_path) as db:
        db.record(ROUTE, SOURCE, DEST, signed(1, HEAD_A))
        assert db.record(ROUTE, SOURCE, redeployed, signed(1, HEAD_B)) is True
        assert db.signed(ROUTE, SOURCE, redeployed, 1).head == HEAD_B
        assert db.signed(ROUTE, SOURCE, DEST, 1).head == HEAD_A
        assert db.halted(ROUTE) is None
