"""User-action input handling: exact decimal amounts, readable custom errors."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from relayer.api.actions import ActionError, _WithdrawalRefusal, decode_error, to_units
from relayer.chain.contracts import load_artifact

ABI = [
    {
        "type": "error",
        "name": "WithdrawalExceedsBalance",
        "inputs": [
            {"name": "account", "type": "address"},
            {"name": "assetId", "type": "uint32"},
            {"name": "balance", "type": "uint256"},
            {"name": "amount", "type": "uint256"},
        ],
    }
]


def test_amounts_convert_exactly() -> None:
    assert to_units("12.5", 6) == 12_500_000
    assert to_units("0.000001", 6) == 1
    assert to_units("1", 18) == 10**18


@pytest.mark.parametrize("amount", ["0.0000001", "0", "-1", "abc", "1e-7"])
def test_amounts_finer_than_the_token_or_not_positive_are_refused(amount: str) -> None:
    with pytest.raises(ActionError):
        to_units(amount, 6)


def test_custom_errors_are_decoded_by_the_contract_abi() -> None:
    selector = function_signature_to_4byte_selector("WithdrawalExceedsBalance(address,uint32,uint256,uint256)")
    account = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    data = "0x" + (selector + encode(["address", "uint32", "uint256", "uint256"], [account, 2, 0, 10**17])).hex()
    text = decode_error(ABI, data)
    assert text.startswith("WithdrawalExceedsBalance(account=0x3c44")
    assert text.endswith("assetId=2, balance=0, amount=100000000000000000)")
    assert decode_error(ABI, "0xdeadbeef") == "0xdeadbeef"


def test_a_refused_withdrawal_is_explained_in_the_asset_s_units() -> None:
    account = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    ledger = Web3().eth.contract(address="0x" + "11" * 20, abi=load_artifact("MarginLedger").abi)
    fn = ledger.functions.requestWithdrawal(1, 5000 * 10**18, 31339, account)
    selector = function_signature_to_4byte_selector("WithdrawalExceedsBalance(address,uint32,uint256,uint256)")
    data = "0x" + (selector + encode(["address", "uint32", "uint256", "uint256"], [account, 1, 700 * 10**18, 5000 * 10**18])).hex()
    refusal = _WithdrawalRefusal(backend=None, asset="USDC", decimals=18, to_chain="spoke-b", fn=fn)  # type: ignore[arg-type]
    assert str(refusal.explain(data)) == "insufficient USDC: the account holds 700 USDC, the withdrawal needs 5000 USDC"
