"""bench/gas_floor.py: a transaction's gas by kind of work, from an opcode trace."""

from __future__ import annotations

import pytest

import bench_modules  # noqa: F401
from gas_floor import breakdown, intrinsic_gas

SENDER = "0x" + "ee" * 20
TO = "0x" + "11" * 20
CALLEE = "0x" + "aa" * 20
CALLEE_WORD = "0x" + CALLEE[2:].rjust(64, "0")


def step(op: str, gas: int, cost: int, depth: int = 1, stack: list[str] | None = None) -> dict[str, object]:
    return {"op": op, "gas": gas, "gasCost": cost, "depth": depth, "stack": stack or []}


def trace() -> list[dict[str, object]]:
    """A top frame that reads and writes a slot, logs, and calls CALLEE twice (cold, then warm);
    the callee reads a slot. 11,000 gas of execution, of which 197 is call set-up nobody names."""
    return [
        step("PUSH1", 100_000, 3),
        step("SLOAD", 99_997, 2_100),
        step("STATICCALL", 97_897, 60_000, stack=[CALLEE_WORD, "0x5000"]),
        step("SLOAD", 50_000, 2_100, depth=2),
        step("RETURN", 47_900, 0, depth=2),
        step("SSTORE", 95_000, 2_900),
        step("LOG1", 92_100, 1_000),
        step("STATICCALL", 91_100, 40_000, stack=[CALLEE_WORD, "0x5000"]),
        step("STOP", 45_000, 0, depth=2),
        step("STOP", 89_000, 0),
    ]


def test_intrinsic_counts_zero_and_non_zero_calldata() -> None:
    assert intrinsic_gas(b"") == 21_000
    assert intrinsic_gas(b"\x00\x01\x02") == 21_000 + 4 + 2 * 16


def test_gas_is_split_by_kind_and_the_rest_is_compute() -> None:
    calldata = b"\x00\x01"
    refund = 500
    gas_used = intrinsic_gas(calldata) + 11_000 - refund
    b = breakdown(trace(), SENDER, TO, calldata, gas_used, names={TO: "module", CALLEE: "market"})
    assert b.refund == refund
    assert b.by_kind["intrinsic"] == 21_020
    assert b.by_kind["storage reads"] == 4_200
    assert b.by_kind["storage writes"] == 2_900 - refund
    assert b.by_kind["events"] == 1_000
    assert b.by_kind["contracts touched"] == 2_600 + 100  # cold, then warm
    assert b.by_kind["compute"] == 200  # the PUSH and the call set-up
    assert sum(b.by_kind.values()) == gas_used
    assert b.state == gas_used - 200
    assert b.count["cold slots read"] == 2
    assert b.storage_by_contract == {"module": 2_100 + 2_900, "market": 2_100}
    assert b.cold_slots_by_contract == {"module": 1, "market": 1}
    assert b.own_by_contract == {"module": 3 + 2_100 + 2_900 + 1_000, "market": 2_100}


def test_a_receipt_above_the_trace_is_refused() -> None:
    with pytest.raises(ValueError, match="less than the receipt"):
        breakdown(trace(), SENDER, TO, b"", intrinsic_gas(b"") + 11_001)
    with pytest.raises(ValueError, match="empty trace"):
        breakdown([], SENDER, TO, b"", 21_000)
