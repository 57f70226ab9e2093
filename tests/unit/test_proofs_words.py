"""relayer.proofs.words gives exactly eth_abi's bytes for the static types the leaves and the
expected receipt events use, and refuses values out of their type."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from relayer.proofs import words
from relayer.proofs.hashchain import DEPOSIT_TYPEHASH, WITHDRAWAL_TYPEHASH, deposit_leaf, withdrawal_leaf

TYPES = ["bytes32", "uint64", "address", "address", "address", "uint256"]


def _address(rng: random.Random) -> str:
    return to_checksum_address(rng.randbytes(20))


@pytest.mark.parametrize("seed", range(20))
def test_leaves_equal_eth_abi_encoding(seed: int) -> None:
    rng = random.Random(seed)
    nonce = rng.choice([0, 1, 2**64 - 1, rng.getrandbits(64)])
    amount = rng.choice([0, 1, 2**256 - 1, rng.getrandbits(256)])
    a, b, token = _address(rng), _address(rng).lower(), _address(rng)
    assert deposit_leaf(nonce, a, b, token, amount) == keccak(encode(TYPES, [DEPOSIT_TYPEHASH, nonce, a, b, token,
                                                                             amount]))
    assert withdrawal_leaf(nonce, a, b, token, amount) == keccak(encode(TYPES, [WITHDRAWAL_TYPEHASH, nonce, a, b,
                                                                                token, amount]))


def test_words_refuse_values_out_of_their_type() -> None:
    with pytest.raises(ValueError):
        words.uint(2**64, 64)
    with pytest.raises(ValueError):
        words.uint(-1)
    with pytest.raises(ValueError):
        words.uint(True)  # type: ignore[arg-type]
    good = to_checksum_address(b"\xab\xcd" * 10)
    for text in (good, good.lower(), good[:2] + good[2:].swapcase()):  # eth_abi takes any case: so do words
        assert words.address(text) == encode(["address"], [text])
    with pytest.raises(ValueError):
        words.address("0x1234")
    assert words.address(good.lower()) == encode(["address"], [good.lower()])
    with pytest.raises(ValueError):
        words.bytes32(b"\x01" * 31)
    assert words.address(b"\x22" * 20) == encode(["address"], [b"\x22" * 20])


@pytest.mark.parametrize("seed", range(10))
def test_decode_equals_eth_abi_strict_decoding(seed: int) -> None:
    rng = random.Random(seed)
    types = ["uint64", "address", "uint256", "bytes32"]
    values = [rng.getrandbits(64), _address(rng), rng.getrandbits(256), rng.randbytes(32)]
    raw = encode(types, values)
    assert words.decode(types, raw) == list(decode(types, raw, strict=True))


def test_decode_refuses_bad_padding_and_length() -> None:
    good = encode(["uint64", "address"], [5, "0x" + "11" * 20])
    with pytest.raises(ValueError):
        words.decode(["uint64", "address"], good[:-1])
    with pytest.raises(ValueError):
        words.decode(["uint64", "address"], b"\x01" + good[1:])  # uint64 padding
    with pytest.raises(ValueError):
        words.decode(["uint64", "address"], good[:32] + b"\x01" + good[33:])  # address padding
    with pytest.raises(ValueError):
        words.decode(["string"], bytes(32))
