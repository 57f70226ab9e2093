"""The devnet's margin engine, deployed through the code a real network's deploy uses
(relayer/deploy/margin.py): on one anvil hub with a ledger, every feed prices Ok at the start
price, the engine is wired into the ledger, and the deployer keeps governance (devnet only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_utils.crypto import keccak
from web3 import Web3

from relayer.chain.abi import load_artifact
from relayer.devnet.deploy import Deployer
from relayer.devnet.deploy_margin import MARKETS, deploy_margin
from relayer.devnet.layout import ANVIL_DEV_KEYS, ChainSpec
from relayer.keeper.pusher import start_prices

from local_services import fixed_port, start_anvil, stop_process

PORT, CHAIN_ID = fixed_port(8767), 31337
ASSETS = {"USDC": 1, "ETH": 2, "BTC": 3}
GOVERNOR_ROLE, MARGIN_ROLE = keccak(text="GOVERNOR_ROLE"), keccak(text="MARGIN_ROLE")


@pytest.fixture(scope="module")
def hub() -> Iterator[Deployer]:
    proc = start_anvil(PORT, CHAIN_ID)
    try:
        spec = ChainSpec(name="hub", chain_id=CHAIN_ID, port=PORT, role="hub", confirmations=0)
        yield Deployer.connect(spec, f"http://127.0.0.1:{PORT}", ANVIL_DEV_KEYS[0])
    finally:
        stop_process(proc)


def test_the_devnet_margin_engine_is_wired_and_prices_at_the_start_prices(hub: Deployer) -> None:
    ledger_addr = hub.deploy("MarginLedger", hub.account.address)
    hub.wait()
    ledger = hub.contract("MarginLedger", ledger_addr)
    for symbol, asset_id in ASSETS.items():
        hub.call(f"list {symbol}", ledger.functions.listAsset(asset_id, symbol, 18))
    hub.wait()

    record = deploy_margin(hub, ledger_addr, ASSETS, report=lambda _: None)

    assert set(record.markets) == set(MARKETS) and set(record.feeds) == set(ASSETS)
    assert ledger.functions.riskEngine().call() == record.risk_engine
    assert ledger.functions.settlement().call() == record.settlement
    assert ledger.functions.insuranceFund().call() == record.insurance_fund
    oracle = hub.w3.eth.contract(address=Web3.to_checksum_address(record.oracle),
                                 abi=load_artifact("PriceOracle").abi)
    prices = start_prices()
    for symbol, feed in record.feeds.items():
        assert feed.feed_id == ASSETS[symbol] and feed.decimals == 8
        price, _, status = oracle.functions.getPrice(feed.feed_id).call()
        assert status == 0 and abs(price / 10**18 - prices[symbol]) < 1e-6  # Ok, at the start price
    for name, market in record.markets.items():
        bound = hub.contract("PerpMarket", market.address)
        assert bound.functions.feedId().call() == ASSETS[MARKETS[name]]
        assert bound.functions.hasRole(GOVERNOR_ROLE, hub.account.address).call()  # the devnet keeps its admin
        assert ledger.functions.hasRole(MARGIN_ROLE, market.address).call()
    assert record.vault is not None
    assert hub.contract("LPVault", record.vault).functions.redeemDelay().call() == 30
