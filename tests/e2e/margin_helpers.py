"""End-to-end helpers for the margin engine: fresh traders, price paths through the devnet's oracle
pusher, liquidation events and the revert reason of a mined transaction (all polls with deadlines)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from relayer.chain.abi import decode_error
from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.devnet.chains import rpc_call
from relayer.devnet.runner import Devnet
from relayer.keeper.oracle_service import queue_path

PRICE_TIMEOUT_S = 60.0
ANSWER = 10**8
"""Aggregator answers have 8 decimals."""


def trader(devnet: Devnet, label: str) -> tuple[str, str]:
    """A fresh hub account (address, key) with gas on the hub (anvil_setBalance)."""
    key = "0x" + keccak(text=f"xmargin-e2e-margin-{label}").hex()
    address = Account.from_key(key).address
    rpc_call(devnet.layout.rpc_url(devnet.layout.chain("hub")), "anvil_setBalance", [address, hex(10**20)])
    return address, key


def eth_price(contracts: MarginContracts) -> float:
    """The ETH aggregator's latest answer in USD."""
    return contracts.aggregators["ETH"].functions.latestRoundData().call()[1] / ANSWER


def size_for(notional_usd: float, price: float) -> str:
    """A position size (base units, one decimal) worth about `notional_usd`."""
    return str(Decimal(notional_usd / price).quantize(Decimal("0.1")))


def queue_prices(ctx: Context, contracts: MarginContracts, prices: list[float]) -> None:
    """Queue ETH prices for the oracle pusher (validated against the feed's max move)."""
    queue_path(contracts, ctx.price_queue(), "ETH", prices)


def push_prices(ctx: Context, contracts: MarginContracts, prices: list[float]) -> None:
    """Queue ETH prices and wait until the pusher pushed the last one."""
    queue_prices(ctx, contracts, prices)
    target = int(round(prices[-1] * ANSWER))
    poll(lambda: contracts.aggregators["ETH"].functions.latestRoundData().call()[1] == target,
         f"the oracle pusher to push ETH {prices[-1]:.2f}", PRICE_TIMEOUT_S, interval_s=0.3)


def events(contracts: MarginContracts, name: str, account: str, from_block: int) -> list[Any]:
    """Decoded LiquidationModule `name` events about `account` since `from_block`."""
    module = contracts.liquidation
    event = getattr(module.events, name)()
    topic = "0x" + bytes.fromhex(account[2:]).rjust(32, b"\0").hex()
    head = int(contracts.client.block_number())
    return [event.process_log(raw) for raw in contracts.client.get_logs(module.address, [event.topic, topic], from_block, head)]


def position(contracts: MarginContracts, market: str, account: str) -> int:
    """Signed position size (base units)."""
    return int(contracts.markets[market].functions.positions(account).call()[0])


def txs_to(w3: Web3, to: str, first: int, last: int) -> list[tuple[str, str, int]]:
    """(hash, sender, receipt status) of every transaction to `to` in blocks [first, last]."""
    out = []
    for number in range(first, last + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["to"] == to:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                out.append(("0x" + bytes(tx["hash"]).hex(), tx["from"], int(receipt["status"])))
    return out


def revert_name(url: str, tx_hash: str) -> str:
    """Custom error a mined transaction reverted with (anvil's call tracer)."""
    trace = rpc_call(url, "debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
    decoded = decode_error(trace.get("output", "0x"))
    return decoded.name if decoded else f"unknown revert {trace.get('output')!r}"


def _pending_txs(url: str, to: str) -> list[tuple[str, dict[str, Any]]]:
    """(sender, transaction) of every pending (unmined) transaction to `to` in the node's pool."""
    pool = rpc_call(url, "txpool_content") or {}
    return [(Web3.to_checksum_address(sender), tx) for sender, by_nonce in (pool.get("pending") or {}).items()
            for tx in by_nonce.values() if (tx.get("to") or "").lower() == to.lower()]


def pending_to(url: str, to: str) -> dict[str, int]:
    """Sender -> number of pending (unmined) transactions to `to` in the node's pool."""
    out: dict[str, int] = {}
    for sender, _ in _pending_txs(url, to):
        out[sender] = out.get(sender, 0) + 1
    return out


def mine_leaving_out(url: str, to: str) -> None:
    """With interval mining paused: mine one block that leaves every pending transaction to `to` in
    the pool (its gas limit is set just below the smallest of their gas limits, and anvil skips a
    transaction that does not fit), then restore the chain's block gas limit. Lets a keeper's feed
    sync through while another keeper's liquidation stays pending."""
    limits = [int(str(tx["gas"]), 16) for _, tx in _pending_txs(url, to)]
    if not limits:
        rpc_call(url, "evm_mine")
        return
    restore = rpc_call(url, "eth_getBlockByNumber", ["latest", False])["gasLimit"]
    rpc_call(url, "evm_setBlockGasLimit", [hex(min(limits) - 1)])
    try:
        rpc_call(url, "evm_mine")
    finally:
        rpc_call(url, "evm_setBlockGasLimit", [restore])


def mine_until_price(url: str, contracts: MarginContracts, price: float, timeout_s: float = 30.0) -> None:
    """With interval mining paused: mine a block whenever anything is pending (the pusher may first
    wait for a refresh of another feed, or of the old price), until the ETH answer is `price`."""
    aggregator = contracts.aggregators["ETH"]
    target = int(round(price * ANSWER))

    def check() -> bool:
        if (rpc_call(url, "txpool_status") or {}).get("pending", "0x0") not in ("0x0", 0):
            rpc_call(url, "evm_mine")
        return aggregator.functions.latestRoundData().call()[1] == target

    poll(check, f"ETH {price:.2f} to be mined", timeout_s, interval_s=0.2)
