"""The stress bench's chain: a real anvil process, the margin system deployed from build/contracts
(hub ledger with two spokes, oracle, risk engine, the LP vault as every market's counterparty and
its auto-deleverager, ETH and BTC markets, liquidation module, lens),
signed deposit batches, oracle pushes and time. Everything here talks to the node; the pure
modelling lives in bench/stress_*.py."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from eth_utils.abi import get_abi_output_types
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from relayer.chain.abi import load_artifact
from relayer.devnet.deploy_margin import VAULT_MAX_PNL_FACTOR
from relayer.keeper.pusher import to_answer
from relayer.margin.params import Calibration, LiquidationParams, market_params
from relayer.proofs.checkpoint import Checkpoint, pack_signatures, sign
from relayer.proofs.hashchain import DepositMessage, fold
from relayer.types import ChainId

ROOT = Path(__file__).resolve().parents[1]
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
VALIDATOR_KEYS = ["0x" + keccak(text=f"xmargin-stress-validator-{i}").hex() for i in range(3)]
"""Throwaway keys of the stress chain's 2-of-3 validator set (deposits are signed like the relayer's)."""
E18 = 10**18
ASSET_IDS = {"USDC": 1, "ETH": 2, "BTC": 3}
DECIMALS = {"USDC": 6, "ETH": 18, "BTC": 8}
WEIGHTS_BPS = {"USDC": 10_000, "ETH": 8_000, "BTC": 8_000}
"""As the devnet deploys them (relayer/devnet/deploy.py ASSETS)."""
SPOKES = (ChainId(101), ChainId(102))


def token_address(spoke: int, asset: str) -> str:
    """The spoke's token of `asset` (a fixed fake address: deposits are relayed, never transferred)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-stress-token-{spoke}-{asset}")[-20:])


HEARTBEAT = 2 * 3_600
MAX_MOVE_BPS = 3_000
GAS = 3_000_000
MAX_UINT = 2**256 - 1
BATCH = 200
VAULT_REDEEM_DELAY_S = 86_400
"""The contract tests' one day (the bench never redeems; the devnet's 30 s is for watching one)."""


def account(label: str, i: int) -> str:
    """Deterministic simulated account (auto-impersonated by anvil; gas price 0 on the node)."""
    return Web3.to_checksum_address(keccak(text=f"xmargin-stress-{label}-{i}")[-20:])


class Chain:
    """A real anvil process and the deployed margin system (`c`: contracts by name)."""

    def __init__(self, port: int, block_gas_limit: int, anvil_args: Sequence[str] = ()) -> None:
        """`anvil_args`: more options for anvil (e.g. `--steps-tracing` for opcode traces)."""
        self.w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 600}))
        # web3's validation middleware asks the node for its chain id before every call and
        # transaction (a second round trip each); the bench talks to its own anvil only.
        self.w3.middleware_onion.remove("validation")
        if self.w3.is_connected():
            raise RuntimeError(f"port {port} already answers JSON-RPC: another node is running there")
        self.proc = subprocess.Popen(
            [str(ANVIL), "--port", str(port), "--gas-limit", str(block_gas_limit), "--base-fee", "0",
             "--gas-price", "0", "--auto-impersonate", "--accounts", "3", "--silent", *anvil_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self.w3.is_connected():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"anvil did not start on port {port}")
            time.sleep(0.2)
        self.admin = self.w3.eth.accounts[0]
        self.c: dict[str, Any] = {}
        self.pool = account("pool", 0)
        """The markets' counterparty: the LPVault's address once `deploy_system` ran."""
        self.lp = account("lp", 0)
        """The LP that funds the vault through `LPVault.deposit`."""
        self.insurance = account("insurance", 0)
        self._base: Any = None

    def fresh(self) -> None:
        """Back to the state right after `deploy_system` (every run starts from it)."""
        if self._base is not None:
            self.rpc("evm_revert", [self._base])
        self._base = self.rpc("evm_snapshot", [])

    def seed_vault(self, usd: float) -> None:
        """The LP deposits `usd` of its hub USDC into the vault for shares (fresh prices needed)."""
        units = int(usd * 10 ** DECIMALS["USDC"]) * 10 ** (18 - DECIMALS["USDC"])  # what the deposit credited
        self.send(self.c["vault"].functions.deposit(units), self.lp)

    def close(self) -> None:
        """Stops the anvil process this bench started."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def deploy(self, name: str, *args: Any) -> Any:
        art = load_artifact(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode="0x" + art.bytecode.removeprefix("0x"))
        h = factory.constructor(*args).transact({"from": self.admin, "gas": 30_000_000, "gasPrice": 0})
        addr = self.receipt(h)["contractAddress"]
        return self.w3.eth.contract(address=addr, abi=art.abi)

    def receipt(self, h: Any) -> Any:
        """The receipt, polled every 5 ms (anvil mines on arrival; web3's own wait sleeps 0.1 s)."""
        deadline = time.monotonic() + 600
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(h)
            except TransactionNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def send(self, fn: Any, sender: str | None = None, gas: int = GAS) -> Any:
        """Sends and waits; raises on a revert."""
        h = fn.transact({"from": sender or self.admin, "gas": gas, "gasPrice": 0})
        r = self.receipt(h)
        if r["status"] != 1:
            raise RuntimeError(f"transaction failed: {fn.fn_name}")
        return r

    def try_send(self, fn: Any, sender: str, gas: int = GAS) -> Any:
        """Sends and waits; returns the receipt whatever its status."""
        h = fn.transact({"from": sender, "gas": gas, "gasPrice": 0})
        return self.receipt(h)

    def send_all(self, calls: list[tuple[Any, str]]) -> list[Any]:
        """Sends every call (fn, sender) in order, one request each (anvil answers a JSON-RPC batch
        concurrently: same-sender nonces clash and the order is lost), then fetches all their
        receipts in one batch instead of one round trip per transaction (on a loaded machine each
        round trip waits for both processes to be scheduled, which dominated the bench's wall
        clock). anvil mines each in its own block, in send order (checked)."""
        if not calls:
            return []
        hashes = [self.rpc("eth_sendTransaction", [{"from": s, "to": fn.address, "data": fn._encode_transaction_data(),
                                                    "gas": hex(GAS), "gasPrice": "0x0"}]) for fn, s in calls]
        receipts = self.receipts(hashes)
        blocks = [(r["blockNumber"], r["transactionIndex"]) for r in receipts]
        if blocks != sorted(blocks):
            raise RuntimeError("anvil mined a batch out of order")
        return receipts

    def receipts(self, hashes: Sequence[str]) -> list[Any]:
        """The receipts of `hashes` (one batch per poll), formatted as web3 formats them."""
        deadline = time.monotonic() + 600
        while True:
            raw = self.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
            if all(r is not None for r in raw):
                return [receipt_formatter(r) for r in raw]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(r is None for r in raw)} receipts missing")
            time.sleep(0.005)

    def call_all(self, fns: Sequence[Any]) -> list[Any]:
        """eth_call of every contract function in one batch, decoded as `fn.call()` would (a single
        output unwrapped); they all read the same state."""
        raws = self.batch([("eth_call", [{"to": fn.address, "data": fn._encode_transaction_data()}, "latest"])
                           for fn in fns])
        out = []
        for fn, raw in zip(fns, raws, strict=True):
            values = self.w3.codec.decode(get_abi_output_types(fn.abi), bytes.fromhex(raw.removeprefix("0x")))
            out.append(values[0] if len(values) == 1 else values)
        return out

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One HTTP round trip for many JSON-RPC calls (read-only ones: anvil runs a batch
        concurrently); raises on the first error."""
        if not calls:
            return []
        resp = self.w3.provider.make_batch_request([(RPCEndpoint(m), p) for m, p in calls])  # type: ignore[attr-defined]
        if not isinstance(resp, list):
            raise RuntimeError(f"batch refused: {resp}")
        for r in resp:
            if "error" in r:
                raise RuntimeError(f"batch call failed: {r['error']}")
        return [r["result"] for r in resp]

    def rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in resp:
            raise RuntimeError(f"{method} failed: {resp['error']}")
        return resp["result"]

    def advance(self, seconds: int) -> None:
        if seconds > 0:
            self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine", [])

    def push(self, eth: float, btc: float, usdc: bool = True) -> None:
        """One oracle round for ETH and BTC (and USDC at 1.0)."""
        aggs = self.c["aggs"]
        prices = [("ETH", eth), ("BTC", btc)] + ([("USDC", 1.0)] if usdc else [])
        self.send_all([(aggs[a].functions.push(to_answer(p)), self.admin) for a, p in prices])

    def trade_all(self, orders: Sequence[tuple[str, int, str]], eth: float, btc: float) -> list[bool]:
        """Delayed orders (PerpOrders, docs/margin.md) [(market asset, size delta, trader)] at any price:
        commits them all, waits the minimum delay, publishes one round at (eth, btc) and settles each
        order at it (the trader settles its own, so the keeper escrow nets to 0). True per order filled;
        False when the commit or the fill (margin, caps) was refused."""
        if not orders:
            return []
        markets = self.c["markets"]
        commits = self.send_all([(markets[a].functions.commitOrder(d, MAX_UINT if d > 0 else 0), t)
                                 for a, d, t in orders])
        self.advance(max(int(markets[a].functions.orderConfig().call()[0]) for a, _, _ in orders))
        self.push(eth, btc)
        rounds = {a: int(self.c["aggs"][a].functions.latestRoundData().call()[0]) for a in ("ETH", "BTC")}
        committed = [o for o, r in zip(orders, commits, strict=True) if r["status"] == 1]
        settled = self.send_all([(markets[a].functions.settleOrder(t, rounds[a]), t) for a, _, t in committed])
        filled = {(a, t) for (a, _, t), r in zip(committed, settled, strict=True)
                  if r["status"] == 1 and markets[a].events.OrderSettled().process_receipt(r, errors=DISCARD)}
        return [(a, t) in filled for a, _, t in orders]

    def close_all(self, closes: Sequence[tuple[str, str]], eth: float, btc: float) -> list[bool]:
        """Closes each [(market asset, trader)] whole position through `trade_all`."""
        markets = self.c["markets"]
        sizes = [(a, -int(markets[a].functions.positions(t).call()[0]), t) for a, t in closes]
        return self.trade_all([o for o in sizes if o[1] != 0], eth, btc)

    def set_market_params(self, eth: float, btc: float, cal: Calibration) -> None:
        for asset, price in (("ETH", eth), ("BTC", btc)):
            self.send(self.c["markets"][asset].functions.setParams(market_params(price, cal).as_tuple()))

    def deposit(self, items: Sequence[tuple[str, str, float, int]], gas: int = 60_000_000) -> None:
        """Credits [(account, asset, whole-token amount, spoke)] through signed deposit batches
        (`gas`: each batch's limit, at most the block's)."""
        ledger = self.c["ledger"]
        for spoke in SPOKES:
            mine = [it for it in items if it[3] == spoke]
            for i in range(0, len(mine), BATCH):
                chunk = mine[i:i + BATCH]
                nonce, head = ledger.functions.depositRoute(spoke).call()
                msgs = [DepositMessage(depositor=a, account=a, token=token_address(spoke, asset),
                                       amount=int(amt * 10 ** DECIMALS[asset])) for a, asset, amt, _ in chunk]
                cp = Checkpoint(source_chain_id=spoke, source=self.admin, nonce=nonce + len(msgs),
                                head=fold(bytes(head), nonce + 1, msgs))
                hub = ChainId(self.w3.eth.chain_id)
                sigs = pack_signatures(
                    {Account.from_key(k).address: sign(cp, hub, ledger.address, k) for k in VALIDATOR_KEYS[:2]}
                )
                self.send(ledger.functions.processDeposits([m.as_tuple() for m in msgs], cp.as_tuple(), sigs),
                          gas=gas)

    def usd(self, who: str) -> int:
        return int(self.c["ledger"].functions.usdBalanceOf(who).call())

    def equity(self, who: str) -> float:
        return float(self.c["engine"].functions.health(who).call()[0]) / E18


HEALTH_WORDS = 8
"""MarginLens.AccountHealth: account, equity (int256), initial, maintenance, collateral value, has
positions, prices ok, liquidatable: eight static 32-byte words."""


def decode_health(raw: bytes, accounts: Sequence[str]) -> list[tuple[str, int, int, int, int, bool, bool, bool]]:
    """`MarginLens.healthOf(accounts)`'s return data decoded by hand: the rows web3 would give
    (the account as passed in, the lens answers in input order), without its per-field decoders and
    address checksumming, which cost more than the call itself for hundreds of accounts per step."""
    n = int.from_bytes(raw[32:64], "big")
    if n != len(accounts) or len(raw) != 64 + 32 * HEALTH_WORDS * n:
        raise ValueError(f"healthOf returned {n} rows ({len(raw)} bytes) for {len(accounts)} accounts")
    rows = []
    for i, who in enumerate(accounts):
        w = [raw[64 + 32 * (HEALTH_WORDS * i + j):96 + 32 * (HEALTH_WORDS * i + j)] for j in range(HEALTH_WORDS)]
        rows.append((who, int.from_bytes(w[1], "big", signed=True), int.from_bytes(w[2], "big"),
                     int.from_bytes(w[3], "big"), int.from_bytes(w[4], "big"), w[5][-1] == 1, w[6][-1] == 1,
                     w[7][-1] == 1))
    return rows


class HealthReader:
    """`MarginLens.healthOf` over a fixed list of accounts, its calldata encoded once (the bench
    reads it at every oracle step)."""

    def __init__(self, ch: Chain, accounts: Sequence[str]) -> None:
        self.ch, self.accounts = ch, list(accounts)
        lens = ch.c["lens"]
        self.tx = {"to": lens.address, "data": lens.encode_abi("healthOf", [self.accounts])}

    def read(self) -> list[tuple[str, int, int, int, int, bool, bool, bool]]:
        return decode_health(bytes(self.ch.w3.eth.call(self.tx)), self.accounts)  # type: ignore[arg-type]


BOOK_CALIBRATION = Calibration(max_leverage=5.0)
"""The gas and keeper benchmarks' books were built for a 5x market (accounts at up to 4.7x); gas does
not depend on the leverage cap, so they keep it while the deployment's default is 3x (D46)."""


def deploy_system(ch: Chain, cal: Calibration, liq: LiquidationParams, max_move_bps: int = MAX_MOVE_BPS) -> None:
    """Ledger (two spokes, USDC/ETH/BTC at the devnet's weights), oracle with three aggregators (each
    refusing a round that moves more than `max_move_bps` from the last), risk engine, the LP vault and
    its auto-deleverager (wired as relayer/devnet/deploy_margin.py does), ETH and BTC markets
    (counterparty: the vault), liquidation module, lens."""
    c = ch.c
    c["ledger"] = ledger = ch.deploy("MarginLedger", ch.admin)
    vals = sorted((Account.from_key(k).address for k in VALIDATOR_KEYS), key=lambda a: int(a, 16))
    for asset, aid in ASSET_IDS.items():
        ch.send(ledger.functions.listAsset(aid, asset, 18))
        ch.send(ledger.functions.setCollateralParams(aid, WEIGHTS_BPS[asset], 0))
    for spoke in SPOKES:
        ch.send(ledger.functions.registerSpoke(spoke, ch.admin))
        ch.send(ledger.functions.setValidators(spoke, vals, 2))
        for asset, aid in ASSET_IDS.items():
            ch.send(ledger.functions.listToken(spoke, token_address(spoke, asset), aid, DECIMALS[asset]))
    ch.send(ledger.functions.setInsuranceFund(ch.insurance))
    c["oracle"] = oracle = ch.deploy("PriceOracle", ch.admin)
    c["aggs"] = {}
    for asset, aid in ASSET_IDS.items():
        agg = c["aggs"][asset] = ch.deploy("MockAggregatorV3", 8)
        ch.send(agg.functions.push(to_answer(1.0)))
        ch.send(oracle.functions.setAggregatorFeed(aid, agg.address, HEARTBEAT, 10**12, 10**30, max_move_bps))
    c["engine"] = engine = ch.deploy("RiskEngine", ch.admin, ledger.address, oracle.address)
    ch.send(ledger.functions.setRiskEngine(engine.address))
    margin_role = keccak(text="MARGIN_ROLE")
    c["vault"] = vault = ch.deploy("LPVault", ch.admin, ledger.address, engine.address, ASSET_IDS["USDC"],
                                   VAULT_REDEEM_DELAY_S, VAULT_MAX_PNL_FACTOR)
    ch.pool = vault.address
    ch.send(ledger.functions.grantRole(margin_role, vault.address))
    c["adl"] = adl = ch.deploy("AutoDeleverager", engine.address, vault.address)
    c["liq"] = module = ch.deploy("LiquidationModule", ch.admin, ledger.address, engine.address, oracle.address,
                                  ch.pool, liq.as_tuple())
    c["markets"] = {}
    for asset, start in (("ETH", 2_000.0), ("BTC", 30_000.0)):
        m = c["markets"][asset] = ch.deploy("PerpMarket", ch.admin, ledger.address, oracle.address, engine.address,
                                            ASSET_IDS[asset], ch.pool, market_params(start, cal).as_tuple())
        ch.send(engine.functions.addMarket(m.address))
        ch.send(ledger.functions.grantRole(margin_role, m.address))
        ch.send(m.functions.grantRole(m.functions.LIQUIDATOR_ROLE().call(), module.address))
        ch.send(m.functions.grantRole(m.functions.LIQUIDATOR_ROLE().call(), adl.address))
    ch.send(ledger.functions.grantRole(margin_role, module.address))
    c["lens"] = ch.deploy("MarginLens", engine.address)
