"""Where a transaction's gas goes by kind of work (issue 10): the state it must touch (storage reads
and writes, events, the first touch of each contract, the intrinsic cost) against everything else
(arithmetic, memory, ABI coding, call set-up). Pure: it reads an opcode trace (anvil's
`debug_traceTransaction` struct logs) and does no I/O; bench/margin_gas_trace.py `--opcodes` feeds it.

The state part is a floor of the *state model*: a rewrite of the same state (the same slots read
and written, the same events) in any contract layout pays at least that; only the rest can shrink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TX_BASE = 21_000
CALLDATA_ZERO = 4
CALLDATA_NONZERO = 16
COLD_ACCOUNT = 2_600
WARM_ACCOUNT = 100
COLD_SLOAD = 2_100
PRECOMPILES = frozenset(f"0x{i:040x}" for i in range(1, 0x12))
"""Warm from the start (EIP-2929; Prague's precompiles end at 0x11)."""
CALLS = frozenset({"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"})
"""Their target is the second stack item from the top; the callee's frame follows."""
ADDRESS_READS = frozenset({"BALANCE", "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY"})
"""Their target is the top stack item."""
STATE_KINDS = ("intrinsic", "storage reads", "storage writes", "events", "contracts touched")
"""The floor of the state model ("transient" and "compute" are not in it; a price source's own
storage reads and its first touch are, like any contract's)."""


@dataclass
class Breakdown:
    """Gas of one transaction by kind, and the storage part by contract."""

    gas_used: int
    refund: int
    by_kind: dict[str, int] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    storage_by_contract: dict[str, int] = field(default_factory=dict)
    """Storage reads and writes (before the refund) by the contract whose storage they touch."""
    own_by_contract: dict[str, int] = field(default_factory=dict)
    """Every opcode but the calls, by the contract executing it (a call's callee counts its own)."""
    cold_slots_by_contract: dict[str, int] = field(default_factory=dict)
    """Storage slots first read (cold) by this transaction, by contract."""

    @property
    def state(self) -> int:
        """Gas of the state kinds (net of the refund, which only storage writes earn)."""
        return sum(self.by_kind.get(k, 0) for k in STATE_KINDS)


def intrinsic_gas(calldata: bytes) -> int:
    """21,000 plus 4 per zero and 16 per non-zero calldata byte (no access list, no creation).
    EIP-7623's calldata floor does not apply: it only binds when execution is tiny."""
    zeros = calldata.count(0)
    return TX_BASE + zeros * CALLDATA_ZERO + (len(calldata) - zeros) * CALLDATA_NONZERO


def _address(word: str) -> str:
    return "0x" + word.removeprefix("0x").rjust(64, "0")[-40:].lower()


def breakdown(steps: Sequence[Mapping[str, Any]], sender: str, to: str, calldata: bytes, gas_used: int,
              names: Mapping[str, str] | None = None, coinbase: str = "") -> Breakdown:
    """Classifies each opcode step of the transaction from `sender` to `to` (struct logs with
    `op`, `gas`, `gasCost`, `depth` and `stack`, bottom first). A call's own cost is its account
    access (2,600 cold / 100 warm, tracked from the warm set); its callee's steps are classified in
    turn. The refund is what the receipt's `gas_used` lacks of intrinsic plus execution."""
    if not steps:
        raise ValueError("an empty trace: nothing executed")
    names = names or {}
    warm = {sender.lower(), to.lower(), *PRECOMPILES} | ({coinbase.lower()} if coinbase else set())
    frames = [to.lower()]
    pending = ""
    kinds: dict[str, int] = {}
    count: dict[str, int] = {}
    by_contract: dict[str, int] = {}
    own: dict[str, int] = {}
    cold: dict[str, int] = {}

    def add(kind: str, gas: int) -> None:
        kinds[kind] = kinds.get(kind, 0) + gas
        count[kind] = count.get(kind, 0) + 1

    for step in steps:
        depth = int(step["depth"])
        while len(frames) > depth:
            frames.pop()
        if len(frames) < depth:
            frames.append(pending)
        op, cost = str(step["op"]), int(step["gasCost"])
        who = names.get(frames[-1], frames[-1])
        if op not in CALLS:
            own[who] = own.get(who, 0) + cost
        if op in CALLS or op in ADDRESS_READS:
            target = _address(str(step["stack"][-2 if op in CALLS else -1]))
            add("contracts touched", WARM_ACCOUNT if target in warm else COLD_ACCOUNT)
            warm.add(target)
            pending = target
        elif op == "SLOAD":
            add("storage reads", cost)
            if cost >= COLD_SLOAD:
                count["cold slots read"] = count.get("cold slots read", 0) + 1
                cold[who] = cold.get(who, 0) + 1
        elif op == "SSTORE":
            add("storage writes", cost)
        elif op.startswith("LOG"):
            add("events", cost)
        elif op in ("TLOAD", "TSTORE"):
            add("transient", cost)
        if op in ("SLOAD", "SSTORE"):
            by_contract[who] = by_contract.get(who, 0) + cost
    top = [s for s in steps if int(s["depth"]) == 1]
    execution = int(top[0]["gas"]) - (int(top[-1]["gas"]) - int(top[-1]["gasCost"]))
    intrinsic = intrinsic_gas(calldata)
    refund = intrinsic + execution - gas_used
    if refund < 0:
        raise ValueError(f"the trace used {intrinsic + execution} gas, less than the receipt's {gas_used}")
    kinds["intrinsic"] = intrinsic
    kinds["storage writes"] = kinds.get("storage writes", 0) - refund
    kinds["compute"] = gas_used - sum(kinds.values())
    return Breakdown(gas_used, refund, kinds, count, by_contract, own, cold)
