"""Sending from an unlocked node account at gas price 0: only the stress bench needs it (its
simulated accounts are auto-impersonated by anvil and its chain charges no fees). The relayer
itself always signs locally through relayer.chain.sender."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from relayer.keeper.liquidator import LIQUIDATION_GAS, Send

RECEIPT_TIMEOUT_S = 120


def unlocked_send(w3: Web3, sender: str, gas: int = LIQUIDATION_GAS) -> Send:
    """A Keeper `send` that transacts from the unlocked `sender` at gas price 0 and waits."""

    def send(call: Any, gas_limit: int | None = None) -> tuple[str, int]:
        tx = call.transact({"from": sender, "gas": gas_limit or gas, "gasPrice": 0})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=RECEIPT_TIMEOUT_S)
        return "0x" + bytes(tx).hex(), int(receipt["status"])

    return send
