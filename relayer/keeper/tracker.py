"""Follow every account that ever traded (PositionModified) or committed an order (OrderCommitted),
from the markets' events."""

from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

DEFAULT_SPAN = 5_000


class AccountTracker:
    """Scans `event_name` logs (first indexed argument: the account) of the markets in bounded
    block ranges; keeps a cursor.

    The chain is the source of truth: a fresh tracker rebuilds the same set from block 0.
    """

    def __init__(self, w3: Web3, market_abi: list[dict[str, Any]], markets: list[str], from_block: int = 0,
                 span: int = DEFAULT_SPAN, event_name: str = "PositionModified") -> None:
        self.w3 = w3
        self.markets = [Web3.to_checksum_address(m) for m in markets]
        event = next(i for i in market_abi if i.get("type") == "event" and i["name"] == event_name)
        self.topic = "0x" + event_abi_to_log_topic(cast(ABIEvent, event)).hex()
        self.next_block = from_block
        self.span = span
        self.accounts: set[str] = set()

    def refresh(self) -> set[str]:
        """Reads new logs up to the latest block; returns the accounts first seen now."""
        latest = self.w3.eth.block_number
        new: set[str] = set()
        while self.next_block <= latest:
            to = min(self.next_block + self.span - 1, latest)
            logs = self.w3.eth.get_logs(
                {"fromBlock": self.next_block, "toBlock": to, "address": self.markets, "topics": [self.topic]}
            )
            for log in logs:
                account = Web3.to_checksum_address("0x" + bytes(log["topics"][1])[-20:].hex())
                if account not in self.accounts:
                    new.add(account)
            self.accounts |= new
            self.next_block = to + 1
        return new
