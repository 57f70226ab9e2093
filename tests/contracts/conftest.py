"""Shared by every contract test (brownie on anvil).

brownie's confirmation watcher (`TransactionReceipt._await_confirmation`) reads the sender's
transaction count, then the receipt, and calls a transaction "dropped" when the count has moved
past its nonce but no receipt is there. Under CPU load anvil answers the new count before the
receipt of the block it is mining, so a mined transaction was now and then reported "Tx dropped
without known replacement" (seen in the long invariant runs at load 17-19; the replay of the same
transaction went through). The watcher below first waits, with a deadline, until the receipt is
visible, then lets brownie's own logic run: it then finds the receipt at once. A transaction that
really never lands is still reported dropped, after the deadline.
"""

from __future__ import annotations

import time

from brownie import web3
from brownie.network.transaction import TransactionReceipt
from web3.exceptions import TransactionNotFound

RECEIPT_DEADLINE_S = 30.0
POLL_S = 0.05

_brownie_await_confirmation = TransactionReceipt._await_confirmation


def _receipt_visible(txid: str) -> bool:
    try:
        receipt = web3.eth.get_transaction_receipt(txid)
    except TransactionNotFound:
        return False
    return receipt is not None and receipt["blockHash"] is not None


def _await_confirmation(self: TransactionReceipt, block_number: int | None = None, required_confs: int = 1) -> None:
    deadline = time.monotonic() + RECEIPT_DEADLINE_S
    while required_confs > 0 and not _receipt_visible(self.txid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    _brownie_await_confirmation(self, block_number, required_confs)


TransactionReceipt._await_confirmation = _await_confirmation  # type: ignore[method-assign]
