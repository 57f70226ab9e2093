"""User-transfer input handling: exact decimal amounts, addresses, refusals explained in the user's units."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from relayer.chain.abi import decode_error
from relayer.errors import ActionError
from relayer.services.transfers import WithdrawalRefusal
from relayer.services.units import parse_address, to_units

ACCOUNT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _exceeds_balance(balance: int, amount: int) -> bytes:
    selector = function_signature_to_4byte_selector("WithdrawalExceedsBalance(address,uint32,uint256,uint256)")
    return selector + encode(["address", "uint32", "uint256", "uint256"], [ACCOUNT, 1, balance, amount])


def test_amounts_convert_exactly() -> None:
    assert to_units("12.5", 6) == 12_500_000
    assert to_units("0.000001", 6) == 1
    assert to_units("1", 18) == 10**18


@pytest.mark.parametrize("amount", ["0.0000001", "0", "-1", "abc", "1e-7"])
def test_amounts_finer_than_the_token_or_not_positive_are_refused(amount: str) -> None:
    with pytest.raises(ActionError):
        to_units(amount, 6)


@pytest.mark.parametrize("text", ["0x1234", "hello", "", "0x" + "zz" * 20])
def test_what_is_not_an_address_is_refused_by_name(text: str) -> None:
    with pytest.raises(ActionError, match="not an address"):
        parse_address(text)
    assert parse_address(ACCOUNT.lower()) == ACCOUNT


def test_a_refused_withdrawal_is_explained_in_the_asset_s_units() -> None:
    error = decode_error(_exceeds_balance(700 * 10**18, 5000 * 10**18))
    assert error is not None
    refusal = WithdrawalRefusal(ctx=None, asset="USDC", decimals=18, to_chain="spoke-b")
    assert refusal(error) == "insufficient USDC: the account holds 700 USDC, the withdrawal needs 5000 USDC"
    assert str(refusal.error(error)) == refusal(error) and isinstance(refusal.error(error), ActionError)
