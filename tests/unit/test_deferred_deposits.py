"""Deferred deposits (the hub's inflow limit, issue 9): when the submitter releases a queue, and how
the solvency audit counts what waits (owed, not yet in any balance nor in liquidity)."""

from __future__ import annotations

import pytest

from relayer.chain.deferred import UNLIMITED, can_release
from relayer.services.audit import TokenAudit, _breaches

SCALE = 10**12


@pytest.mark.parametrize(
    "entries, available, paused, expected",
    [
        (0, UNLIMITED, False, False),  # nothing queued
        (3, SCALE - 1, False, False),  # the bucket holds less than one token unit
        (3, SCALE, False, True),
        (3, UNLIMITED, False, True),  # the limit was removed: drain at once
        (3, UNLIMITED, True, False),  # a paused route credits nothing
    ],
)
def test_release_only_when_it_would_credit_something(
    entries: int, available: int, paused: bool, expected: bool
) -> None:
    assert can_release(entries, available, SCALE, paused) is expected


def _line(**kw: int) -> TokenAudit:
    base = {
        "balance": 100,
        "custodied": 100,
        "liquidity": 60,
        "claims": 10,
        "deferred": 0,
        "unreleased": 0,
        "uncredited": 0,
    }
    base.update(kw)
    return TokenAudit(chain_id=1, chain="spoke-a", symbol="USDC", token="0x0", asset="USDC", scale=SCALE, **base)


def test_deferred_deposits_are_liabilities_in_i3() -> None:
    assert _breaches([_line(deferred=30)]) == []  # 60 + 10 + 30 == 100
    (breach,) = _breaches([_line(deferred=31)])
    assert breach.invariant == "I3" and "deferred" in breach.detail
