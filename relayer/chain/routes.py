"""Read one route's state and messages from its source and destination contracts (docs/protocol.md),
through the contracts' compiled ABIs."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import LogReceipt

from relayer.chain.abi import AbiItem, abi_of, event_abi
from relayer.chain.client import ChainClient
from relayer.deployment import Deployment
from relayer.errors import ChainCallError, ConfigError
from relayer.proofs import words
from relayer.proofs.checkpoint import Checkpoint
from relayer.proofs.hashchain import DepositMessage, RouteMessage, WithdrawalMessage
from relayer.types import BlockNumber, RouteId, RouteKind, checksum

SOURCE_CONTRACT = {RouteKind.DEPOSIT: "Lockbox", RouteKind.WITHDRAWAL: "MarginLedger"}
"""Build artifact of each route kind's source contract (the destination is the other one)."""
DEST_CONTRACT = {RouteKind.DEPOSIT: "MarginLedger", RouteKind.WITHDRAWAL: "Lockbox"}
_EVENTS = {
    "DEPOSITED": ("Lockbox", "Deposited"),
    "WITHDRAWALS_PROCESSED": ("Lockbox", "WithdrawalsProcessed"),
    "WITHDRAWAL_QUEUED": ("MarginLedger", "WithdrawalQueued"),
    "DEPOSITS_PROCESSED": ("MarginLedger", "DepositsProcessed"),
}


def __getattr__(name: str) -> AbiItem:
    """DEPOSITED, WITHDRAWAL_QUEUED, DEPOSITS_PROCESSED, WITHDRAWALS_PROCESSED: the route events'
    ABI entries from the build artifacts (read on first use, not at import)."""
    if name in _EVENTS:
        return event_abi(*_EVENTS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _topic0(name: str) -> str:
    """Log topic 0 of a route event by its module-level name."""
    return "0x" + event_abi_to_log_topic(cast(ABIEvent, event_abi(*_EVENTS[name]))).hex()


class RouteState(NamedTuple):
    """A contract's view of a route: last appended (source) or processed (destination) nonce, and head."""

    nonce: int
    head: bytes


@dataclass(frozen=True)
class ProcessedBatch:
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


_MESSAGE_LAYOUT = {
    RouteKind.DEPOSIT: ("DEPOSITED", ("nonce", "depositor", "account"), ["uint64", "address", "address"],
                        ("token", "amount", "head"), ["address", "uint256", "bytes32"]),
    RouteKind.WITHDRAWAL: ("WITHDRAWAL_QUEUED", ("destChainId", "nonce", "account"), ["uint64", "uint64", "address"],
                           ("recipient", "token", "amount", "head"), ["address", "address", "uint256", "bytes32"]),
}
"""Per kind: the event, its indexed fields and types (topics 1..3), its data fields and types
(docs/protocol.md); checked against the compiled ABIs in tests/unit/test_routes.py."""


def _message_args(kind: RouteKind, log: LogReceipt) -> dict[str, Any]:
    """The fields of a route message event, decoded word by word straight from topics and data
    (relayer.proofs.words, strict like eth_abi's): web3's `process_log` took ~75% of a validator's
    CPU per message, eth_abi's decoder most of what was left. ValueError if the log is not
    that event (topic 0, topic count, or an undecodable field)."""
    event, indexed, indexed_types, fields, field_types = _MESSAGE_LAYOUT[kind]
    topics = [bytes(t) if not isinstance(t, str) else bytes.fromhex(t.removeprefix("0x")) for t in log["topics"]]
    if len(topics) != 1 + len(indexed) or "0x" + topics[0].hex() != _topic0(event):
        raise ValueError(f"not a {event} log (topics {len(topics)})")
    data = log["data"]
    raw = bytes(data) if not isinstance(data, str) else bytes.fromhex(data.removeprefix("0x"))
    try:
        values = [*words.decode(indexed_types, b"".join(topics[1:])), *words.decode(field_types, raw)]
    except ValueError as err:
        raise ValueError(f"undecodable {event} log: {err}") from err
    args = dict(zip((*indexed, *fields), values, strict=True))
    for name in ("depositor", "account", "token", "recipient"):
        if name in args:
            args[name] = checksum(args[name])
    return args


def decode_message_log(kind: RouteKind, source: Contract, log: LogReceipt, chain: str = "") -> RouteMessage:
    """A Deposited / WithdrawalQueued log of `source` as a RouteMessage (ChainCallError if it is not one)."""
    if checksum(log["address"]) != source.address:
        raise ChainCallError(chain, "eth_getLogs", f"log from {log['address']}, expected {source.address}")
    try:
        args = _message_args(kind, log)
    except ValueError as err:
        raise ChainCallError(chain, "eth_getLogs", f"undecodable log: {err}") from err
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
        nonce=args["nonce"], message=message, head=bytes(args["head"]),
        block_number=BlockNumber(_quantity(log["blockNumber"])), block_hash=log["blockHash"],
        tx_hash=log["transactionHash"], tx_index=_quantity(log["transactionIndex"]),
        log_index=_quantity(log["logIndex"]),
    )


def _quantity(value: Any) -> int:
    """An RPC quantity as web3 formats it (int) or as the node sends it (hex text)."""
    return int(value, 16) if isinstance(value, str) else int(value)


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
        self.source = self.source_client.w3.eth.contract(
            address=Web3.to_checksum_address(self.source_address), abi=abi_of(SOURCE_CONTRACT[route.kind])
        )
        self.dest = self.dest_client.w3.eth.contract(
            address=Web3.to_checksum_address(self.dest_address), abi=abi_of(DEST_CONTRACT[route.kind])
        )
        self._source_call: tuple[str, bytes] | None = None
        self._dest_call: tuple[str, bytes] | None = None
        """(name, calldata) of the route getters (encoded on first use)."""

    def checkpoint(self, nonce: int, head: bytes) -> Checkpoint:
        """The checkpoint validators sign for this route at (nonce, head)."""
        return Checkpoint(
            source_chain_id=self.route.source_chain_id, source=self.source_address, nonce=nonce, head=head
        )

    def source_state(self, block: int | str) -> RouteState:
        """(nonce, head) the source contract stored at `block` (number or tag). A raw eth_call with
        calldata encoded once: the validator asks it for every block holding messages, the
        submitter's bisection several times per batch."""
        if self._source_call is None:
            args = [] if self.route.kind is RouteKind.DEPOSIT else [self.route.dest_chain_id]
            self._source_call = self._getter(self.source, args)
        return self._state(self.source_client, self.source.address, self._source_call, block)

    def dest_state(self, block: int | str = "latest") -> RouteState:
        """(processedNonce, head) the destination contract stored at `block` (number or tag)."""
        if self._dest_call is None:
            args = [self.route.source_chain_id] if self.route.kind is RouteKind.DEPOSIT else []
            self._dest_call = self._getter(self.dest, args)
        return self._state(self.dest_client, self.dest.address, self._dest_call, block)

    def _getter(self, contract: Contract, args: Sequence[int]) -> tuple[str, bytes]:
        """(name, calldata) of the route's state getter on `contract`."""
        name = "depositRoute" if self.route.kind is RouteKind.DEPOSIT else "withdrawalRoute"
        return name, bytes.fromhex(contract.encode_abi(name, list(args))[2:])

    @staticmethod
    def _state(client: ChainClient, address: str, getter: tuple[str, bytes], block: int | str) -> RouteState:
        """The (uint64 nonce, bytes32 head) a route getter returns at `block`, decoded strictly (the
        nonce word's padding must be zero, as eth_abi's strict decoding requires; no code: empty)."""
        name, calldata = getter
        raw = client.eth_call(address, calldata, block, label=name)
        if len(raw) != 64 or any(raw[:24]):
            raise ChainCallError(client.name, f"eth_call {name}", f"unexpected return data 0x{raw.hex()}")
        return RouteState(int.from_bytes(raw[:32], "big"), raw[32:])

    def _message_topics(self) -> list[str | None]:
        """Topic filter of the route's message event."""
        if self.route.kind is RouteKind.DEPOSIT:
            topics: list[str | None] = [_topic0("DEPOSITED")]
        else:
            topics = [_topic0("WITHDRAWAL_QUEUED"), _topic_uint(self.route.dest_chain_id)]
        return topics

    def scan_messages(self, from_block: int, to_block: int) -> list[RouteMessage]:
        """Route messages emitted in [from_block, to_block], in nonce order."""
        logs = self.source_client.get_logs(self.source_address, self._message_topics(), from_block, to_block,
                                           raw=True)
        chain = self.source_client.name
        messages = [decode_message_log(self.route.kind, self.source, log, chain) for log in logs]
        return sorted(messages, key=lambda m: m.nonce)

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
            topics = [_topic0("DEPOSITS_PROCESSED"), _topic_uint(self.route.source_chain_id)]
        else:
            event = self.dest.events.WithdrawalsProcessed()
            topics = [_topic0("WITHDRAWALS_PROCESSED")]
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
