"""relayer.chain.abi: artifacts loaded once, every custom error of every compiled contract decoded to a
sentence a user can act on."""

from __future__ import annotations

import string

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from relayer.chain.abi import (
    all_errors,
    artifact_names,
    build_dir,
    decode_error,
    error_signature,
    explain,
    explain_revert,
    load_artifact,
    revert_data,
)
from relayer.chain.error_messages import MESSAGES

CONTEXT_KEYS = {"symbol"}
"""Placeholders a caller may fill besides the error's own arguments."""
needs_build = pytest.mark.skipif(not (build_dir() / "MarginLedger.json").exists(), reason="run `brownie compile` first")


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


@needs_build
def test_every_custom_error_of_every_contract_has_a_message() -> None:
    errors = all_errors()
    assert len(errors) > 50  # every contract's errors, OpenZeppelin's included
    missing = sorted({item["name"] for item in errors.values()} - set(MESSAGES))
    assert missing == [], f"add a line to relayer/chain/error_messages.py for: {', '.join(missing)}"


@needs_build
def test_messages_name_only_the_error_s_own_arguments() -> None:
    declared = list(all_errors().values())  # one entry per selector: a name may have several signatures
    stale = set(MESSAGES) - {item["name"] for item in declared}
    assert not stale, f"messages for errors no contract declares any more: {sorted(stale)}"
    for item in declared:
        arguments = {i["name"] for i in item["inputs"]}
        assert _placeholders(MESSAGES[item["name"]]) <= arguments | CONTEXT_KEYS, error_signature(item)


@needs_build
def test_every_error_decodes_from_its_revert_data_and_reads_without_blanks() -> None:
    for selector, item in all_errors().items():
        types = [i["type"] for i in item["inputs"]]
        values = [_sample(t) for t in types]
        error = decode_error(selector + encode(types, values))
        assert error is not None and error.name == item["name"], error_signature(item)
        text = explain(error, symbol="USDC")
        assert "{" not in text and error.name not in text, text  # a sentence, not `Name(args)`


def _sample(kind: str) -> object:
    if kind == "address":
        return "0x" + "ab" * 20
    if kind.startswith("bytes") and kind != "bytes":
        return b"\x01" * int(kind[5:])
    if kind == "string":
        return "x"
    if kind.startswith("int"):
        return -1
    return 1


@needs_build
def test_an_erc20_shortfall_reads_in_the_token_s_terms() -> None:
    selector = function_signature_to_4byte_selector("ERC20InsufficientBalance(address,uint256,uint256)")
    data = "0x" + (selector + encode(["address", "uint256", "uint256"], ["0x" + "ab" * 20, 5, 9])).hex()
    text = explain_revert(data, symbol="USDC", balance="0.000005 USDC", needed="0.000009 USDC")
    assert text.startswith("insufficient USDC balance:") and "0.000009 USDC" in text
    assert "e450d38c" not in text


def test_unknown_revert_data_is_reported_not_guessed() -> None:
    assert decode_error("0xdeadbeef") is None and decode_error(None) is None and decode_error("0x") is None
    assert "deadbeef" in explain_revert("0xdeadbeef")
    assert explain_revert(None, fallback="execution reverted") == "execution reverted"


def test_revert_data_is_found_wherever_web3_puts_it() -> None:
    class WithData(Exception):
        def __init__(self, data: object) -> None:
            super().__init__("reverted")
            self.data = data

    assert revert_data(WithData("0x01020304")) == b"\x01\x02\x03\x04"
    assert revert_data(WithData(b"\x05")) == b"\x05"
    assert revert_data(Exception({"code": 3, "data": "0x0a0b"})) == b"\x0a\x0b"
    assert revert_data(Exception({"data": {"data": "0x0c"}})) == b"\x0c"
    assert revert_data(Exception("no data")) is None


@needs_build
def test_artifacts_are_parsed_once_per_file_version() -> None:
    assert load_artifact("Lockbox") is load_artifact("Lockbox")
    assert "MarginLedger" in artifact_names() and "ERC20" in artifact_names()


@needs_build
@pytest.mark.parametrize(("contract", "name"), [("MarginLedger", "processDeposits"), ("Lockbox", "processWithdrawals")])
def test_encode_call_gives_web3s_calldata(contract: str, name: str) -> None:
    from web3 import Web3

    from relayer.chain.abi import abi_of, encode_call

    a, b, c = (Web3.to_checksum_address(bytes([k]) * 20) for k in (0xAB, 0xCD, 0xEF))
    messages = [(a, b, c, 10**18 + k) for k in range(5)]
    checkpoint = (31338, a, 5, b"\x07" * 32)
    signatures = b"\x01" * 65 * 3
    fn = Web3().eth.contract(address=c, abi=abi_of(contract)).get_function_by_name(name)(messages, checkpoint,
                                                                                         signatures)
    assert encode_call(contract, name, [messages, checkpoint, signatures]) == bytes.fromhex(
        fn._encode_transaction_data()[2:]
    )
