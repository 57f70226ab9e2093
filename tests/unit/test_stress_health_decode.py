"""bench/_stress_chain.decode_health: the stress bench decodes MarginLens.healthOf's return data by
hand at every oracle step; it must give exactly what the ABI decoder gives (signed equity included)."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode

import bench_modules  # noqa: F401
from _stress_chain import account, decode_health

ROW = "(address,int256,uint256,uint256,uint256,bool,bool,bool)"


def test_rows_match_the_abi_decoder() -> None:
    accounts = [account("trader", i) for i in range(3)]
    rows = [(accounts[0], -5 * 10**18, 7, 3, 10**30, True, True, True),
            (accounts[1], 2**255 - 1, 0, 0, 0, False, True, False),
            (accounts[2], -(2**255), 1, 2, 3, True, False, False)]
    raw = encode([f"{ROW}[]"], [rows])
    (expected,) = decode([f"{ROW}[]"], raw)
    got = decode_health(raw, accounts)
    assert got == [(a, *r[1:]) for a, r in zip(accounts, expected, strict=True)]
    assert got == rows


def test_a_row_count_other_than_the_accounts_is_refused() -> None:
    accounts = [account("trader", i) for i in range(2)]
    raw = encode([f"{ROW}[]"], [[(accounts[0], 1, 0, 0, 0, False, True, False)]])
    with pytest.raises(ValueError, match="1 rows"):
        decode_health(raw, accounts)
