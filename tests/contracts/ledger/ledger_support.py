"""Fixtures for MarginLedger tests: a ledger with two registered spokes (5 validators,
threshold 3 each), two assets (USDC from a 6-decimal token on both spokes, WETH on spoke A),
and helpers that sign and submit deposit batches the way the relayer does."""

import pathlib
import sys

import brownie
import pytest
from brownie import web3
from eth_abi import encode
from eth_utils import keccak

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from checkpoints import (  # noqa: E402
    VALIDATOR_KEYS,
    addresses,
    deposit_leaf,
    fold,
    sign_checkpoint,
)

SPOKE_A = 31338
SPOKE_B = 31339
THRESHOLD = 3
VALIDATORS = VALIDATOR_KEYS[:5]
OUTSIDER_KEY = VALIDATOR_KEYS[6]

USDC = 1
WETH = 2
ONE_USDC_TOKEN = 10**6
ONE = 10**18
USDC_SCALE = 10**12

GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
MARGIN_ROLE = keccak(text="MARGIN_ROLE")


def fake_address(label: str) -> str:
    """A deterministic address standing in for a contract on another chain."""
    return web3.to_checksum_address(keccak(text=label)[-20:])


USDC_A = fake_address("usdc-on-spoke-a")
USDC_B = fake_address("usdc-on-spoke-b")
WETH_A = fake_address("weth-on-spoke-a")
JUNK_A = fake_address("unlisted-on-spoke-a")


def plain(value):
    """A contract return value as plain Python (ints, str, lists), for == against literals."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int):
        return int(value)
    return str(value)


# ----------------------------------------------------------------------------- errors


def error(signature: str, *values) -> bytes:
    """Revert data of custom error `signature` (e.g. "RouteUnknown(uint64)") with `values`."""
    types = signature[signature.index("(") + 1 : -1]
    type_list = [t for t in types.split(",") if t]
    return keccak(text=signature)[:4] + encode(type_list, list(values))


def revert_data(contract_fn, args, sender) -> bytes:
    """Raw revert data of calling `contract_fn(*args)` from `sender` (fails if it succeeds)."""
    tx = {"to": contract_fn._address, "from": str(sender), "data": contract_fn.encode_input(*args)}
    try:
        web3.eth.call(tx)
    except ValueError as exc:
        payload = exc.args[0]
        return bytes.fromhex(payload["data"][2:])
    raise AssertionError("call did not revert")


def assert_reverts(expected: bytes, contract_fn, *args, sender):
    """The one revert helper: the exact custom error (selector and arguments, via eth_call),
    and the real transaction reverts too (brownie + anvil)."""
    got = revert_data(contract_fn, args, sender)
    assert got.hex() == expected.hex(), f"expected {expected.hex()}, got {got.hex()}"
    with brownie.reverts():
        contract_fn(*args, {"from": sender})


# ----------------------------------------------------------------------------- batches


def deposit_head(ledger, chain_id, messages, processed=None, head=None):
    """Head after `messages` (tuples depositor, account, token, amount) on the stored route."""
    stored_nonce, stored_head = ledger.depositRoute(chain_id)
    processed = stored_nonce if processed is None else processed
    head = bytes(stored_head) if head is None else head
    return fold(head, processed, messages, deposit_leaf)


def signed_batch(ledger, chain_id, source, messages, keys=None, nonce=None, head=None, dest=None, dest_chain=None):
    """(messages, checkpoint, signatures) for the next batch, signed by `keys`."""
    keys = VALIDATORS[:THRESHOLD] if keys is None else keys
    processed, _ = ledger.depositRoute(chain_id)
    nonce = processed + len(messages) if nonce is None else nonce
    head = deposit_head(ledger, chain_id, messages) if head is None else head
    checkpoint = (chain_id, str(source), nonce, head)
    sigs = sign_checkpoint(
        keys,
        brownie.chain.id if dest_chain is None else dest_chain,
        ledger.address if dest is None else dest,
        chain_id,
        source,
        nonce,
        head,
    )
    return [tuple(m) for m in messages], checkpoint, sigs


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def gov(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def guardian(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def margin(accounts):
    """Stands in for a perp market / the liquidation module (MARGIN_ROLE)."""
    return accounts[2]


@pytest.fixture(scope="module")
def relayer(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def bob(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def lockbox_a(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def lockbox_b(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def ledger(MarginLedger, gov, guardian, margin, lockbox_a, lockbox_b):
    ledger = MarginLedger.deploy(gov, {"from": gov})
    ledger.grantRole(GUARDIAN_ROLE, guardian, {"from": gov})
    ledger.grantRole(MARGIN_ROLE, margin, {"from": gov})
    for chain_id, lockbox in ((SPOKE_A, lockbox_a), (SPOKE_B, lockbox_b)):
        ledger.registerSpoke(chain_id, lockbox, {"from": gov})
        ledger.setValidators(chain_id, addresses(VALIDATORS), THRESHOLD, {"from": gov})
    ledger.listAsset(USDC, "USDC", 18, {"from": gov})
    ledger.listAsset(WETH, "WETH", 18, {"from": gov})
    ledger.listToken(SPOKE_A, USDC_A, USDC, 6, {"from": gov})
    ledger.listToken(SPOKE_B, USDC_B, USDC, 6, {"from": gov})
    ledger.listToken(SPOKE_A, WETH_A, WETH, 18, {"from": gov})
    ledger.setCollateralParams(USDC, 10_000, 0, {"from": gov})
    ledger.setCollateralParams(WETH, 8_000, 0, {"from": gov})
    return ledger


@pytest.fixture(scope="module")
def deposit(ledger, relayer, lockbox_a, lockbox_b):
    """deposit(chain_id, [(depositor, account, token, amount), ...]) -> tx: signs and submits."""
    sources = {SPOKE_A: lockbox_a, SPOKE_B: lockbox_b}

    def submit(chain_id, messages):
        batch = signed_batch(ledger, chain_id, sources[chain_id], messages)
        return ledger.processDeposits(*batch, {"from": relayer})

    return submit


@pytest.fixture(scope="module")
def risk_engine(MockRiskEngine, ledger, gov):
    """Watches USDC balances; see MockRiskEngine."""
    return MockRiskEngine.deploy(ledger, USDC, {"from": gov})


def assert_books_balance(ledger, holders):
    """Solvency of the books: per asset, the total equals sum of liquidity * scale over spokes,
    and equals the sum of `holders`' balances (callers pass every account that ever held any)."""
    for asset_id in ledger.listedAssets():
        total = ledger.assetInfo(asset_id)[4]
        by_liquidity = 0
        for chain_id in (SPOKE_A, SPOKE_B):
            token = ledger.tokenOf(chain_id, asset_id)
            if token != brownie.ZERO_ADDRESS:
                by_liquidity += ledger.liquidity(chain_id, asset_id) * ledger.tokenInfo(chain_id, token)[1]
        assert total == by_liquidity
        assert total == sum(ledger.balanceOf(h, asset_id) for h in holders)
