"""Shared helpers of the margin contract tests: revert matching, signed price reports, units."""

from contextlib import contextmanager

import pytest
from brownie.exceptions import VirtualMachineError
from eth_account import Account
from eth_utils import keccak

E18 = 10**18
ORACLE_SIGNER_KEYS = [keccak(text=f"xmargin-test-oracle-signer-{i}") for i in range(5)]
MARGIN_ROLE = keccak(text="MARGIN_ROLE")
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")


@contextmanager
def reverts_with(error: str):
    """Expect a revert whose decoded custom error (``Name: args``) starts with `error`."""
    with pytest.raises(VirtualMachineError) as exc:
        yield exc
    msg = exc.value.revert_msg or ""
    assert msg == error or msg.startswith(error + ":"), f"reverted with {msg!r}, expected {error!r}"


def sorted_signers(keys):
    """(address, key) pairs in ascending address order, as the oracle requires."""
    pairs = [(Account.from_key(k).address, k) for k in keys]
    return sorted(pairs, key=lambda p: int(p[0], 16))


def sign_report(key, chain_id: int, oracle: str, feed_id: int, price: int, timestamp: int) -> bytes:
    """EIP-712 signature of PriceReport(feedId, price, timestamp) for `oracle`."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "PriceReport": [
                {"name": "feedId", "type": "uint32"},
                {"name": "price", "type": "uint256"},
                {"name": "timestamp", "type": "uint64"},
            ],
        },
        "primaryType": "PriceReport",
        "domain": {"name": "xmargin", "version": "1", "chainId": chain_id, "verifyingContract": str(oracle)},
        "message": {"feedId": feed_id, "price": price, "timestamp": timestamp},
    }
    signed = Account.sign_typed_data(key, full_message=typed)
    return bytes(signed.signature)


MAX_UINT = 2**256 - 1


def open_position(market, account, size_delta: int):
    """Changes `account`'s position in `market` by `size_delta` (base units) at any price.

    Every settlement / vault / liquidation-economics test opens and changes positions through
    this one function, so the order flow (immediate fill today) can be switched in one place."""
    limit = MAX_UINT if size_delta > 0 else 0
    return market.modifyPosition(size_delta, limit, {"from": account})


def close_position(market, account):
    """Closes `account`'s whole position in `market`."""
    return market.closePosition({"from": account})
