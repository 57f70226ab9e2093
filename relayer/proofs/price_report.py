"""Quorum-signed price reports of the hub oracle (`PriceOracle.submitReport`): the EIP-712 message
`PriceOracleBase.reportDigest` hashes, and one signer's signature over it. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from eth_account import Account

DOMAIN_NAME = "xmargin"
DOMAIN_VERSION = "1"
"""`PriceOracleBase`'s EIP712("xmargin", "1")."""


def report_typed_data(chain_id: int, oracle: str, feed_id: int, round_id: int, price: int,
                      timestamp: int) -> dict[str, Any]:
    """The typed data of PriceReport(feedId, round, price, timestamp) for `oracle` on `chain_id`."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "PriceReport": [
                {"name": "feedId", "type": "uint32"}, {"name": "round", "type": "uint64"},
                {"name": "price", "type": "uint256"}, {"name": "timestamp", "type": "uint64"},
            ],
        },
        "primaryType": "PriceReport",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": str(oracle)},
        "message": {"feedId": feed_id, "round": round_id, "price": price, "timestamp": timestamp},
    }


def sign_report(key: bytes | str, chain_id: int, oracle: str, feed_id: int, round_id: int, price: int,
                timestamp: int) -> bytes:
    """65-byte signature by `key` of one report (what `submitReport` takes, one per quorum signer)."""
    typed = report_typed_data(chain_id, oracle, feed_id, round_id, price, timestamp)
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)
