"""Deployment and chain helpers for the solvency state machine: one hub MarginLedger and two
Lockboxes (spokes 1001 and 1002) on the one brownie chain, four tokens, validators and rate
limits; transactions, simulated calls and batched reads. A unique module name, not a conftest
(see the ledger and lockbox folders)."""

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import brownie.test
from brownie import web3
from brownie.network.event import _decode_logs
from eth_abi import encode
from eth_utils import keccak

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoints import (  # noqa: E402,F401  (re-exported for the test module)
    VALIDATOR_KEYS,
    addresses,
    deposit_leaf,
    extend,
    fold,
    sign_checkpoint,
    withdrawal_leaf,
)

SPOKE_IDS = (1001, 1002)  # arbitrary: the ledger only checks checkpoint.sourceChainId / source
THRESHOLD = 3
VALIDATORS = VALIDATOR_KEYS[:5]
OUTSIDER_KEY = VALIDATOR_KEYS[6]
ASSET_DECIMALS = 18
ZERO = "0x0000000000000000000000000000000000000000"
RECOVERY_MARKER = "0x3e471713Ba29bf8523714805800AbED4E99511Aa"  # libraries/RecoveryMessage.sol

# Every token gets the same bucket in whole tokens: a burst of 600, then 1 per second. Deposits
# go up to 1,500 tokens, so withdrawals meet the limit now and then (and a few, above the burst,
# never fit: they stay parked, as designed).
BUCKET_TOKENS, REFILL_TOKENS = 600, 1
MINTED_TOKENS = 10_000_000


@dataclass(frozen=True)
class TokenSpec:
    """One listed (spoke, token): which asset it backs and how it misbehaves."""

    label: str
    spoke: int  # index into SPOKE_IDS
    asset: int
    decimals: int
    kind: str  # "plain", "false" (FalseReturningToken) or "blocklist" (BlocklistToken)

    @property
    def scale(self) -> int:
        return 10 ** (ASSET_DECIMALS - self.decimals)

    @property
    def unit(self) -> int:
        return 10**self.decimals


USDC, OLD, BLK = 1, 2, 3
ASSETS = (USDC, OLD, BLK)
TOKEN_SPECS = (
    TokenSpec("USDC@1001", 0, USDC, 6, "plain"),
    TokenSpec("USDC@1002", 1, USDC, 6, "plain"),
    TokenSpec("OLD@1001", 0, OLD, 8, "false"),
    TokenSpec("BLK@1002", 1, BLK, 18, "blocklist"),
)


@dataclass
class System:
    """The deployed contracts and the actors."""

    ledger: object
    lockboxes: list
    tokens: list  # parallel to TOKEN_SPECS
    gov: object
    relayer: object
    users: list  # depositors and withdrawers
    stranger: object  # never a depositor; a recipient, account and would-be thief
    rate_limit_time: dict  # token index -> timestamp its bucket was set (full) at

    @property
    def holders(self) -> list:
        """Every address that can ever hold a ledger balance."""
        return [*self.users, self.stranger]


def deploy_system(containers, accounts, chain_id: int) -> System:
    """Deploys and wires the hub, two spokes, four tokens, validators and rate limits."""
    ledger_c, lockbox_c = containers["MarginLedger"], containers["Lockbox"]
    kinds = {
        "plain": containers["MockERC20"],
        "false": containers["FalseReturningToken"],
        "blocklist": containers["BlocklistToken"],
    }
    gov, relayer, stranger = accounts[0], accounts[6], accounts[5]
    users = list(accounts[1:5])
    tx = {"from": gov}
    ledger = ledger_c.deploy(gov, tx)
    lockboxes = [lockbox_c.deploy(chain_id, ledger, gov, tx) for _ in SPOKE_IDS]
    for spoke_id, lockbox in zip(SPOKE_IDS, lockboxes):
        ledger.registerSpoke(spoke_id, lockbox, tx)
        ledger.setValidators(spoke_id, addresses(VALIDATORS), THRESHOLD, tx)
        lockbox.setValidators(chain_id, addresses(VALIDATORS), THRESHOLD, tx)
    for asset, symbol in ((USDC, "USDC"), (OLD, "OLD"), (BLK, "BLK")):
        ledger.listAsset(asset, symbol, ASSET_DECIMALS, tx)
        ledger.setCollateralParams(asset, 9_000, 0, tx)
    tokens, rate_limit_time = [], {}
    for i, spec in enumerate(TOKEN_SPECS):
        token = kinds[spec.kind].deploy(spec.label, spec.label, spec.decimals, tx)
        lockbox = lockboxes[spec.spoke]
        ledger.listToken(SPOKE_IDS[spec.spoke], token, spec.asset, spec.decimals, tx)
        lockbox.listToken(token, tx)
        set_tx = lockbox.setRateLimit(token, BUCKET_TOKENS * spec.unit, REFILL_TOKENS * spec.unit, tx)
        rate_limit_time[i] = set_tx.timestamp
        for user in users:
            send(token.mint, (user, MINTED_TOKENS * spec.unit), user)
            send(token.approve, (lockbox, 2**256 - 1), user)
        tokens.append(token)
    return System(ledger, lockboxes, tokens, gov, relayer, users, stranger, rate_limit_time)


# ----------------------------------------------------------------------------- transactions

TX_GAS = 10_000_000  # under the block gas limit of brownie's development chain (12M); gas is free (price 0)
_writes = [0]  # transactions and mined blocks so far: a cheap key for "the chain state changed"


@dataclass(frozen=True)
class Mined:
    """What the test reads back from a mined transaction."""

    timestamp: int
    events: object  # brownie EventDict, decoded as brownie decodes its own receipts


def send(contract_fn, args, sender, expect_success: bool = True) -> Mined:
    """Sends `contract_fn(*args)` from `sender` straight through web3 (an order of magnitude
    cheaper than brownie's transaction machinery, where the state machine would otherwise spend
    most of its time). A revert fails the test, or, with `expect_success=False`, a success does."""
    tx = {"from": str(sender), "to": contract_fn._address, "data": contract_fn.encode_input(*args), "gas": TX_GAS}
    _writes[0] += 1
    receipt = web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx), timeout=30, poll_latency=0.005)
    if bool(receipt["status"]) != expect_success:
        raise AssertionError(f"{contract_fn._name}{args} status {receipt['status']}, expected success={expect_success}")
    timestamp = web3.eth.get_block(receipt["blockNumber"])["timestamp"]
    return Mined(timestamp, _decode_logs(receipt["logs"]))


def mine_at(timestamp: int) -> None:
    """Mines an empty block at `timestamp`, moving the chain clock (anvil ignores evm_increaseTime,
    and so chain.sleep, while blocks advance by a fixed step)."""
    _writes[0] += 1
    web3.provider.make_request("evm_mine", [timestamp])


def writes() -> int:
    """How many transactions and blocks this module has sent or mined: changes with the state."""
    return _writes[0]


def next_timestamp() -> int:
    """Timestamp of the next block: one second after the latest (see the test's `system` fixture)."""
    return web3.eth.get_block("latest")["timestamp"] + 1


def call_outcome(contract_fn, args, sender):
    """Revert data of `contract_fn(*args)` from `sender` simulated in the next block, or None if
    it would succeed. With one-second block steps the pending block has exactly the timestamp
    the real transaction will get, so the simulation and the transaction cannot disagree."""
    tx = {"from": str(sender), "to": contract_fn._address, "data": contract_fn.encode_input(*args)}
    reply = web3.provider.make_request("eth_call", [tx, "pending"])
    if "error" not in reply:
        return None
    data = reply["error"].get("data")
    if not isinstance(data, str) or not data.startswith("0x"):
        raise AssertionError(f"eth_call failed without revert data: {reply['error']}")
    return bytes.fromhex(data[2:])


def read_batch(calls: dict) -> dict:
    """Results of many view calls {key: (contract_fn, args)} against the latest block, in one
    JSON-RPC batch (the invariants read ~60 values after every step)."""
    requests = [
        ("eth_call", [{"to": fn._address, "data": fn.encode_input(*args)}, "latest"]) for fn, args in calls.values()
    ]
    results = {}
    for (key, (fn, _)), reply in zip(calls.items(), web3.provider.make_batch_request(requests)):
        assert "error" not in reply, f"view call {key} failed: {reply['error']}"
        results[key] = fn.decode_output(reply["result"])
    return results


def read_view(system: System, holders: list, parked: list) -> dict:
    """Every figure the invariants compare, from the latest block: balances per (holder, asset);
    per token (TOKEN_SPECS order) the lockbox's balance, custody and owed and the ledger's
    liquidity, queued total and claims; per asset the ledger's total; route tips per (spoke, side);
    the pending releases at `parked` [(spoke, nonce)]."""
    s, calls = system, {}
    for h in holders:
        for a in ASSETS:
            calls[("balance", h, a)] = (s.ledger.balanceOf, (h, a))
    for i, spec in enumerate(TOKEN_SPECS):
        token, lockbox, spoke_id = s.tokens[i], s.lockboxes[spec.spoke], SPOKE_IDS[spec.spoke]
        calls[("held", i)] = (token.balanceOf, (lockbox,))
        calls[("custodied", i)] = (lockbox.custodied, (token,))
        calls[("owed", i)] = (lockbox.owed, (token,))
        calls[("liquidity", i)] = (s.ledger.liquidity, (spoke_id, spec.asset))
        calls[("queued_total", i)] = (s.ledger.queuedTotal, (spoke_id, token))
        calls[("claims", i)] = (s.ledger.totalClaims, (spoke_id, token))
    for a in ASSETS:
        calls[("total", a)] = (s.ledger.assetInfo, (a,))
    for spoke, spoke_id in enumerate(SPOKE_IDS):
        lockbox = s.lockboxes[spoke]
        calls[("routes", spoke, "ledger_deposit")] = (s.ledger.depositRoute, (spoke_id,))
        calls[("routes", spoke, "ledger_withdrawal")] = (s.ledger.withdrawalRoute, (spoke_id,))
        calls[("routes", spoke, "lockbox_deposit")] = (lockbox.depositRoute, ())
        calls[("routes", spoke, "lockbox_withdrawal")] = (lockbox.withdrawalRoute, ())
    for spoke, nonce in parked:
        calls[("parked", spoke, nonce)] = (s.lockboxes[spoke].pendingRelease, (nonce,))
    got = read_batch(calls)
    fields = ("held", "custodied", "owed", "liquidity", "queued_total", "claims")
    return {
        "balances": {(h, a): int(got[("balance", h, a)]) for h in holders for a in ASSETS},
        "tokens": [{f: int(got[(f, i)]) for f in fields} for i in range(len(TOKEN_SPECS))],
        "totals": {a: int(got[("total", a)][4]) for a in ASSETS},
        "routes": {key[1:]: (int(v[0]), bytes(v[1])) for key, v in got.items() if key[0] == "routes"},
        "parked": {key[1:]: tuple(v) for key, v in got.items() if key[0] == "parked"},
    }


# ----------------------------------------------------------------------------- errors and events


def error(signature: str, *values) -> bytes:
    """Revert data of custom error `signature` (e.g. "RouteUnknown(uint64)") with `values`."""
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return keccak(text=signature)[:4] + encode(types, [str(v) if hasattr(v, "address") else v for v in values])


def error_name(data: bytes, signatures) -> str:
    """The name of the error among `signatures` whose selector starts `data` (else its hex)."""
    for signature in signatures:
        if keccak(text=signature)[:4] == data[:4]:
            return signature[: signature.index("(")]
    return data[:4].hex()


def describe(data: bytes) -> str:
    """Revert data as hex, for assertion messages."""
    return "0x" + data.hex() if data is not None else "success"


def events(tx: Mined, name: str) -> list:
    """Every `name` event of `tx` as a plain dict, in log order."""
    if name not in tx.events:
        return []
    return [dict(e) for e in tx.events[name]]


# ----------------------------------------------------------------------------- brownie


def brownie_state_machine():
    """brownie's `state_machine`, loaded from the pure-Python source that ships beside its compiled
    module. The mypyc build of brownie.test.stateful in eth-brownie 1.22.2 rejects the machine
    class it generates itself ("_BrownieStateMachine object expected; got BrownieStateMachine"),
    so the `state_machine` fixture cannot run any machine; the source is the same code, unbuilt."""
    path = Path(brownie.test.__file__).with_name("stateful.py")
    spec = importlib.util.spec_from_file_location("brownie_stateful_source", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.state_machine
