"""Read one route's state and messages from its source and destination contracts (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from eth_utils import event_abi_to_log_topic
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import BlockIdentifier, LogReceipt

from relayer.chain.client import ChainClient
from relayer.config import Deployment
from relayer.errors import ChainCallError, ConfigError
from relayer.proofs.checkpoint import Checkpoint
from relayer.proofs.hashchain import DepositMessage, RouteMessage, WithdrawalMessage
from relayer.types import RouteId, RouteKind, checksum


def _event(name: str, inputs: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """ABI of an event from (type, name, indexed) triples."""
    return {
        "type": "event", "name": name, "anonymous": False,
        "inputs": [{"type": t, "name": n, "indexed": i} for t, n, i in inputs],
    }


def _view(name: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """ABI of a view function."""
    return {
        "type": "function", "name": name, "stateMutability": "view",
        "inputs": [{"type": t, "name": n} for t, n in inputs],
        "outputs": [{"type": t, "name": n} for t, n in outputs],
    }


DEPOSITED = _event("Deposited", [
    ("uint64", "nonce", True), ("address", "depositor", True), ("address", "account", True),
    ("address", "token", False), ("uint256", "amount", False), ("bytes32", "head", False),
])
WITHDRAWAL_QUEUED = _event("WithdrawalQueued", [
    ("uint64", "destChainId", True), ("uint64", "nonce", True), ("address", "account", True),
    ("address", "recipient", False), ("address", "token", False), ("uint256", "amount", False),
    ("bytes32", "head", False),
])
DEPOSITS_PROCESSED = _event("DepositsProcessed", [
    ("uint64", "sourceChainId", True), ("uint64", "lastNonce", False), ("bytes32", "head", False),
    ("uint256", "count", False),
])
WITHDRAWALS_PROCESSED = _event("WithdrawalsProcessed", [
    ("uint64", "lastNonce", False), ("bytes32", "head", False), ("uint256", "count", False),
])

LOCKBOX_ROUTE_ABI = [
    DEPOSITED, WITHDRAWALS_PROCESSED,
    _view("depositRoute", [], [("uint64", "nonce"), ("bytes32", "head")]),
    _view("withdrawalRoute", [], [("uint64", "processedNonce"), ("bytes32", "head")]),
]
"""The lockbox's route events and views, exactly as docs/protocol.md states them."""
LEDGER_ROUTE_ABI = [
    WITHDRAWAL_QUEUED, DEPOSITS_PROCESSED,
    _view("depositRoute", [("uint64", "spokeChainId")], [("uint64", "processedNonce"), ("bytes32", "head")]),
    _view("withdrawalRoute", [("uint64", "spokeChainId")], [("uint64", "nonce"), ("bytes32", "head")]),
]
"""The ledger's route events and views, exactly as docs/protocol.md states them."""


class RouteState(NamedTuple):
    """A contract's view of a route: last appended (source) or processed (destination) nonce, and head."""

    nonce: int
    head: bytes


class ProcessedBatch(NamedTuple):
    """A DepositsProcessed / WithdrawalsProcessed event."""

    last_nonce: int
    head: bytes
    count: int
    block_number: int
    tx_hash: bytes


def _topic_uint(value: int) -> str:
    """An indexed uint as a log topic."""
    return "0x" + value.to_bytes(32, "big").hex()


def _decode(chain: str, source: Contract, event: Any, log: LogReceipt) -> Any:
    """Args of `event` in a log that must come from `source` (ChainCallError otherwise)."""
    if checksum(log["address"]) != source.address:
        raise ChainCallError(chain, "eth_getLogs", f"log from {log['address']}, expected {source.address}")
    try:
        return event.process_log(log)["args"]
    except Web3Exception as err:
        raise ChainCallError(chain, "eth_getLogs", f"undecodable {event.event_name} log: {err}") from err


def decode_message_log(kind: RouteKind, source: Contract, log: LogReceipt, chain: str = "") -> RouteMessage:
    """A Deposited / WithdrawalQueued log of `source` as a RouteMessage (ChainCallError if it is not one)."""
    event = source.events.Deposited() if kind is RouteKind.DEPOSIT else source.events.WithdrawalQueued()
    args = _decode(chain, source, event, log)
    message: DepositMessage | WithdrawalMessage
    if kind is RouteKind.DEPOSIT:
        message = DepositMessage(
            depositor=args["depositor"], account=args["account"], token=args["token"], amount=args["amount"]
        )
    else:
        message = WithdrawalMessage(
            account=args["account"], recipient=args["recipient"], token=args["token"], amount=args["amount"]
        )
    return RouteMessage(
        nonce=args["nonce"], message=message, head=bytes(args["head"]), block_number=log["blockNumber"],
        block_hash=bytes(log["blockHash"]), tx_hash=bytes(log["transactionHash"]),
        tx_index=log["transactionIndex"], log_index=log["logIndex"],
    )


class RouteReader:
    """Reads one route: source state and messages, destination state and processed batches."""

    def __init__(self, route: RouteId, deployment: Deployment, clients: Mapping[int, ChainClient]) -> None:
        for chain_id in (route.source_chain_id, route.dest_chain_id):
            if chain_id not in clients:
                raise ConfigError([("chains", f"no client for chain {chain_id} (route {route})")])
        self.route = route
        self.source_client = clients[route.source_chain_id]
        self.dest_client = clients[route.dest_chain_id]
        self.source_address = deployment.source_contract(route)
        self.dest_address = deployment.dest_contract(route)
        deposit = route.kind is RouteKind.DEPOSIT
        self.source = self.source_client.w3.eth.contract(
            address=self.source_address, abi=LOCKBOX_ROUTE_ABI if deposit else LEDGER_ROUTE_ABI
        )
        self.dest = self.dest_client.w3.eth.contract(
            address=self.dest_address, abi=LEDGER_ROUTE_ABI if deposit else LOCKBOX_ROUTE_ABI
        )

    def checkpoint(self, nonce: int, head: bytes) -> Checkpoint:
        """The checkpoint validators sign for this route at (nonce, head)."""
        return Checkpoint(
            source_chain_id=self.route.source_chain_id, source=self.source_address, nonce=nonce, head=head
        )

    def source_state(self, block: BlockIdentifier) -> RouteState:
        """(nonce, head) the source contract stored at `block`."""
        if self.route.kind is RouteKind.DEPOSIT:
            fn = self.source.functions.depositRoute()
        else:
            fn = self.source.functions.withdrawalRoute(self.route.dest_chain_id)
        nonce, head = self.source_client.call(fn, block)
        return RouteState(nonce, bytes(head))

    def dest_state(self, block: BlockIdentifier = "latest") -> RouteState:
        """(processedNonce, head) the destination contract stored at `block`."""
        if self.route.kind is RouteKind.DEPOSIT:
            fn = self.dest.functions.depositRoute(self.route.source_chain_id)
        else:
            fn = self.dest.functions.withdrawalRoute()
        nonce, head = self.dest_client.call(fn, block)
        return RouteState(nonce, bytes(head))

    def _message_topics(self, nonce: int | None = None) -> list[str | None]:
        """Topic filter of the route's message event (optionally one nonce)."""
        if self.route.kind is RouteKind.DEPOSIT:
            topics: list[str | None] = ["0x" + event_abi_to_log_topic(DEPOSITED).hex()]
        else:
            topics = ["0x" + event_abi_to_log_topic(WITHDRAWAL_QUEUED).hex(), _topic_uint(self.route.dest_chain_id)]
        if nonce is not None:
            topics.append(_topic_uint(nonce))
        return topics

    def scan_messages(self, from_block: int, to_block: int) -> list[RouteMessage]:
        """Route messages emitted in [from_block, to_block], in nonce order."""
        logs = self.source_client.get_logs(self.source_address, self._message_topics(), from_block, to_block)
        chain = self.source_client.name
        messages = [decode_message_log(self.route.kind, self.source, log, chain) for log in logs]
        return sorted(messages, key=lambda m: m.nonce)

    def message_at(self, nonce: int, block: int) -> RouteMessage | None:
        """Message `nonce` if it was emitted in `block`, else None."""
        logs = self.source_client.get_logs(self.source_address, self._message_topics(nonce), block, block)
        return decode_message_log(self.route.kind, self.source, logs[0], self.source_client.name) if logs else None

    def block_of_nonce(self, nonce: int, low: int, high: int) -> int | None:
        """First block in [low, high] whose source nonce >= `nonce`, or None (bisection with eth_call at
        past blocks: `low` must be at or after the source's deployment, the node must hold that state)."""
        if self.source_state(high).nonce < nonce:
            return None
        while low < high:
            mid = (low + high) // 2
            if self.source_state(mid).nonce >= nonce:
                high = mid
            else:
                low = mid + 1
        return low

    def scan_processed(self, from_block: int, to_block: int) -> list[ProcessedBatch]:
        """Batches the destination processed for this route in [from_block, to_block]."""
        if self.route.kind is RouteKind.DEPOSIT:
            event = self.dest.events.DepositsProcessed()
            topics = ["0x" + event_abi_to_log_topic(DEPOSITS_PROCESSED).hex(), _topic_uint(self.route.source_chain_id)]
        else:
            event = self.dest.events.WithdrawalsProcessed()
            topics = ["0x" + event_abi_to_log_topic(WITHDRAWALS_PROCESSED).hex()]
        out = []
        for log in self.dest_client.get_logs(self.dest_address, topics, from_block, to_block):
            args = _decode(self.dest_client.name, self.dest, event, log)
            out.append(
                ProcessedBatch(
                    args["lastNonce"], bytes(args["head"]), args["count"],
                    log["blockNumber"], bytes(log["transactionHash"]),
                )
            )
        return out
