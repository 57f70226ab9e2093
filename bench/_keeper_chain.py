"""The keeper-at-scale bench's chain (bench/keeper_scale.py, issue 10): one anvil hub at a 30M block
gas limit with the margin system of bench/_stress_chain.py, and N accounts each holding a real ETH
long opened through the delayed-order path (commitOrder, then settleOrder at the next round).

Set-up is fast, not idealised: every account is a real deposit (signed batches) and a real
commit + settle; what is batched is the transport. Transactions go out as JSON-RPC batches of
eth_sendTransaction from anvil's auto-impersonated accounts (no local signing) with automine off,
and are mined in blocks of up to SETUP_GAS_LIMIT (evm_setBlockGasLimit), so the whole book opens in a
handful of blocks. The limit goes back to 30M before the price shock: nothing measured runs in a
set-up block."""

from __future__ import annotations

import time
from typing import Any

import requests
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from relayer.keeper.pusher import to_answer
from relayer.margin.params import LiquidationParams

from _stress_chain import BOOK_CALIBRATION, MAX_UINT, Chain, account, deploy_system

HUB_GAS_LIMIT = 30_000_000
"""The measured phase's block gas limit (anvil --gas-limit)."""
SETUP_GAS_LIMIT = 2_000_000_000
"""Block gas limit while the book is opened (set-up only)."""
RPC_BATCH = 500
"""eth_sendTransaction requests per JSON-RPC batch."""
WARMUP_ROUNDS = 6
"""Rounds at the starting prices first (as bench/margin_gas.py): the oracle's 4-round walk then
starts past the deploy-time round at 1.0."""
START = {"ETH": 2_000.0, "BTC": 30_000.0, "USDC": 1.0}
MARGIN_USD = 100
"""USDC each account deposits (small notionals keep the vault's skew premium near 0)."""
SAFE_LEVERAGE = 2.0
RISKY_LEVERAGE = 4.4
"""Initial leverage of the accounts the shock must leave healthy / make liquidatable (max 5x; the
maintenance margin is half the initial: 10 % of notional)."""
SHOCK = 0.85
"""The price update: ETH -15 % in one round (within the oracle's 30 % move bound). A 4.4x long
falls below maintenance margin (~7 % equity left against 8.5 %) and a partial liquidation (half
closed) makes it healthy again; a 2x long keeps ~35 %."""
VAULT_USD = 50_000_000
COMMIT = "0x" + function_signature_to_4byte_selector("commitOrder(int256,uint256)").hex()
SETTLE = "0x" + function_signature_to_4byte_selector("settleOrder(address,uint80)").hex()
COMMIT_GAS = 500_000
SETTLE_GAS = 1_000_000
"""Limits of the set-up orders (~236k / ~460k used): blocks are packed by limit."""


def trader(i: int) -> str:
    """Account `i` of the book."""
    return account("scale", i)


def is_risky(i: int, every: int) -> bool:
    """Whether account `i` is one of the leveraged ones (one in `every`)."""
    return i % every == 0


class ScaleChain:
    """The hub with the deployed system and the open book."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ch = Chain(port, HUB_GAS_LIMIT)
        self.session = requests.Session()
        try:
            deploy_system(self.ch, BOOK_CALIBRATION, LiquidationParams())
            self.c = self.ch.c
            for _ in range(WARMUP_ROUNDS):
                self.push(START)
        except BaseException:
            self.ch.close()
            raise
        self.prices = dict(START)

    def close(self) -> None:
        """Stops the anvil this bench started."""
        self.session.close()
        self.ch.close()

    # transport -----------------------------------------------------------------------------

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """One JSON-RPC batch; raises on any error answer."""
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(self.session.post(self.url, json=payload, timeout=600).json(), key=lambda a: a["id"])
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(calls)} requests failed, first: {errors[0]}")
        return [a["result"] for a in answers]

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One request."""
        return self.batch([(method, params)])[0]

    def send_many(self, txs: list[dict[str, Any]]) -> None:
        """eth_sendTransaction of every tx (automine must be off), in batches."""
        for i in range(0, len(txs), RPC_BATCH):
            self.batch([("eth_sendTransaction", [tx]) for tx in txs[i:i + RPC_BATCH]])

    def mine_all(self) -> int:
        """Mines until the pool is empty; the blocks mined."""
        blocks = 0
        while True:
            status = self.rpc("txpool_status", [])
            if int(status["pending"], 16) == 0 and int(status["queued"], 16) == 0:
                return blocks
            self.rpc("evm_mine", [])
            blocks += 1

    def push(self, prices: dict[str, float]) -> int:
        """One aggregator round per asset in `prices` (automine on); the block number."""
        receipts = self.ch.send_all([(self.c["aggs"][a].functions.push(to_answer(p)), self.ch.admin)
                                     for a, p in prices.items()])
        return max(int(r["blockNumber"]) for r in receipts)

    # the book ------------------------------------------------------------------------------

    def open_book(self, n: int, every: int) -> dict[str, float]:
        """Deposits MARGIN_USD to `n` accounts and opens an ETH long in each (one in `every` at
        RISKY_LEVERAGE, the others at SAFE_LEVERAGE); seconds per step."""
        ch, c = self.ch, self.c
        timings: dict[str, float] = {}
        t = time.monotonic()
        ch.deposit([(ch.lp, "USDC", VAULT_USD, 101)], gas=25_000_000)
        self.push({"USDC": 1.0})
        ch.seed_vault(VAULT_USD)
        ch.deposit([(trader(i), "USDC", MARGIN_USD, 101 + i % 2) for i in range(n)], gas=25_000_000)
        timings["deposits_s"] = time.monotonic() - t
        market = c["markets"]["ETH"]
        addr = market.address
        price = self.prices["ETH"]
        self.rpc("evm_setAutomine", [False])
        self.rpc("evm_setBlockGasLimit", [hex(SETUP_GAS_LIMIT)])
        try:
            t = time.monotonic()
            txs = []
            for i in range(n):
                lev = RISKY_LEVERAGE if is_risky(i, every) else SAFE_LEVERAGE
                size = int(MARGIN_USD * lev / price * 10**18)
                data = COMMIT + encode(["int256", "uint256"], [size, MAX_UINT]).hex()
                txs.append({"from": trader(i), "to": addr, "data": data, "gas": hex(COMMIT_GAS), "gasPrice": "0x0"})
            self.send_many(txs)
            blocks = self.mine_all()
            timings["commits_s"], timings["commit_blocks"] = time.monotonic() - t, blocks
            self.rpc("evm_increaseTime", [int(market.functions.orderConfig().call()[0]) + 2])
            self.rpc("evm_setAutomine", [True])
            self.push({"ETH": price, "BTC": self.prices["BTC"], "USDC": 1.0})
            self.rpc("evm_setAutomine", [False])
            rid = int(c["aggs"]["ETH"].functions.latestRoundData().call()[0])
            t = time.monotonic()
            self.send_many([{"from": trader(i), "to": addr, "gas": hex(SETTLE_GAS), "gasPrice": "0x0",
                             "data": SETTLE + encode(["address", "uint80"], [trader(i), rid]).hex()}
                            for i in range(n)])
            blocks = self.mine_all()
            timings["settles_s"], timings["settle_blocks"] = time.monotonic() - t, blocks
        finally:
            self.rpc("evm_setBlockGasLimit", [hex(HUB_GAS_LIMIT)])
            self.rpc("evm_setAutomine", [True])
        self.rpc("evm_mine", [])  # a block at the hub's limit again
        opened = len(self.positions_opened())
        if opened != n:
            raise RuntimeError(f"{opened} of {n} positions opened")
        return timings

    def positions_opened(self) -> set[str]:
        """Accounts with an OrderSettled event on the ETH market."""
        market = self.c["markets"]["ETH"]
        logs = market.events.OrderSettled().get_logs(from_block=0)
        return {str(e["args"]["account"]) for e in logs}

    def fund_keeper(self, address: str) -> None:
        """Hub gas and ledger USDC for a keeper key."""
        self.rpc("anvil_setBalance", [address, hex(10**24)])
        self.ch.deposit([(address, "USDC", 1_000_000, 101)], gas=25_000_000)
