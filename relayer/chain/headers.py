"""Block headers checked, not trusted: the hash recomputed as keccak(rlp(fields)) from the fields the
node returned (pre-merge to Prague layouts: each fork appends fields, so the ones present are encoded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rlp
from eth_utils import keccak

from relayer.errors import HeaderMismatchError

_BASE_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
)
_FORK_FIELDS = (
    "baseFeePerGas",  # London
    "withdrawalsRoot",  # Shanghai
    "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",  # Cancun
    "requestsHash",  # Prague
)
_INTEGERS = frozenset({"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
                       "blobGasUsed", "excessBlobGas"})


def _raw(value: Any) -> bytes:
    """A header field as bytes (web3 gives HexBytes, hex text or ints)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        text = value[2:] if value.startswith("0x") else value
        return bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)
    raise TypeError(f"unexpected header field {value!r}")


def _field(name: str, value: Any) -> int | bytes:
    """One field as rlp encodes it: integers minimal big-endian, the rest as bytes."""
    if name in _INTEGERS:
        return value if isinstance(value, int) else int.from_bytes(_raw(value), "big")
    return _raw(value)


def header_fields(block: Mapping[str, Any]) -> list[int | bytes]:
    """The header's rlp list: the base fields, then each fork's fields while present (a field
    missing in the middle of the fork list ends it: later forks always add after earlier ones)."""
    missing = [name for name in _BASE_FIELDS if name not in block]
    if missing:
        raise ValueError(f"header lacks {', '.join(missing)}")
    fields = [_field(name, block[name]) for name in _BASE_FIELDS]
    for name in _FORK_FIELDS:
        if block.get(name) is None:
            break
        fields.append(_field(name, block[name]))
    return fields


def header_hash(block: Mapping[str, Any]) -> bytes:
    """keccak256(rlp(header fields)): the block hash the header's own fields imply."""
    return keccak(rlp.encode(header_fields(block)))


def check_header(chain: str, block: Mapping[str, Any]) -> None:
    """HeaderMismatchError unless the block's `hash` is the hash of its fields."""
    number = int(block.get("number") or 0)
    try:
        computed = header_hash(block)
    except (ValueError, TypeError) as err:
        raise HeaderMismatchError(chain, number, f"cannot encode the header: {err}") from err
    claimed = _raw(block["hash"]) if block.get("hash") is not None else b""
    if computed != claimed:
        raise HeaderMismatchError(
            chain, number, f"hash 0x{claimed.hex()} is not the hash of its fields (0x{computed.hex()})"
        )
