"""ABI encoding of static values (uintN, address, bytes32) as 32-byte words: exactly what
`eth_abi.encode` gives for them, without its per-value type dispatch and registry lookups, which
were most of the cost of a message's leaf and of the event a validator expects in its receipt
(~0.4 ms each; every validator and the submitter compute them for every message); `decode`
reads a message event's words back the same way."""

from __future__ import annotations

from collections.abc import Sequence

from relayer.types import checksum


def uint(value: int, bits: int = 256) -> bytes:
    """A uintN word; ValueError if `value` does not fit (as eth_abi refuses it)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{value!r} is not a uint{bits}")
    return value.to_bytes(32, "big")


def address(value: str | bytes) -> bytes:
    """An address word (left-padded); ValueError if it is not an address (20 bytes, or 0x-hex of
    20 bytes in any case, as eth_abi takes it; text through the cached `relayer.types.checksum`)."""
    raw = bytes(value) if isinstance(value, (bytes, bytearray)) else bytes.fromhex(checksum(value)[2:])
    if len(raw) != 20:
        raise ValueError(f"{value!r} is not a 20-byte address")
    return bytes(12) + raw


def bytes32(value: bytes) -> bytes:
    """A bytes32 word; ValueError unless exactly 32 bytes (eth_abi would right-pad shorter ones:
    nothing here is ever shorter, so a short one is refused rather than padded)."""
    raw = bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def decode(types: Sequence[str], raw: bytes) -> list[int | str | bytes]:
    """Static values from exactly len(types) words, as eth_abi's strict decoding reads them:
    uintN (padding must be zero), address (lower-case 0x text; padding must be zero), bytes32.
    ValueError on a wrong length, non-zero padding or a type not listed here."""
    if len(raw) != 32 * len(types):
        raise ValueError(f"{len(raw)} bytes for {len(types)} words")
    out: list[int | str | bytes] = []
    for k, kind in enumerate(types):
        word = raw[32 * k:32 * (k + 1)]
        if kind == "bytes32":
            out.append(word)
        elif kind == "address":
            if any(word[:12]):
                raise ValueError(f"word {k}: address padding is not zero")
            out.append("0x" + word[12:].hex())
        elif kind.startswith("uint") and kind[4:].isdigit():
            value = int.from_bytes(word, "big")
            if value >> int(kind[4:]):
                raise ValueError(f"word {k}: {value} does not fit a {kind}")
            out.append(value)
        else:
            raise ValueError(f"unsupported type {kind}")
    return out
