"""The testnet example config and deploy plan validate as the relayer and `xmargin deploy` read them;
bad plans fail before anything is sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from relayer.config import load_settings
from relayer.deploy.margin_plan import usd
from relayer.deploy.plan import ANYONE, DeployPlan, load_plan
from relayer.deployment import Deployment, HubDeployment, SpokeDeployment
from relayer.errors import ConfigError
from relayer.types import ChainId, RouteId, RouteKind

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config/examples/testnet.yaml"
PLAN = REPO / "config/deploy/testnet.yaml"


def test_the_testnet_example_config_loads_with_a_policy_per_chain_type(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(EXAMPLE)
    assert settings.hub.name == "arbitrum-sepolia" and settings.hub.chain_id == 421614
    assert {n: c.policy_text() for n, c in settings.chains.items()} == {
        "arbitrum-sepolia": "tag finalized", "base-sepolia": "l1 (sepolia)", "sepolia": "tag finalized"}
    assert not any(c.devnet for c in settings.chains.values())
    assert settings.submitter is None and settings.validator is None  # no secrets in the file
    assert re.search(r"0x[0-9a-fA-F]{64}", EXAMPLE.read_text()) is None  # not even a commented-out key
    monkeypatch.setenv("XMARGIN_SUBMITTER__KEY", "0x" + "11" * 32)  # keys come from the environment
    assert load_settings(EXAMPLE).submitter is not None


def test_the_testnet_plan_names_chains_of_its_config() -> None:
    plan = load_plan(PLAN)
    settings = load_settings(REPO / plan.config)
    assert plan.network == "testnet" and plan.governance.executors == [ANYONE]
    assert plan.governance.min_delay_s >= 86_400
    assert all(settings.chains[name].role == "spoke" for name in plan.tokens)
    assert set(plan.tokens) == {n for n, c in settings.chains.items() if c.role == "spoke"}


def _plan(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load(PLAN.read_text())
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = raw
        for part in path:
            node = node[part]
        node[last] = value
    return dict(raw)


@pytest.mark.parametrize(("change", "problem"), [
    ({"threshold": 4}, "exceeds"),
    ({"governance__min_delay_s": 60}, "below 3600"),
    ({"governance__proposers": []}, "at least 1"),
    ({"validators": ["0x3333333333333333333333333333333333333333"] * 2, "threshold": 1}, "distinct"),
    ({"tokens__sepolia": [{"symbol": "DAI", "address": "0x" + "66" * 20, "decimals": 18, "asset": "DAI",
                           "rate_capacity": 1, "rate_refill_per_s": 1, "inflow_capacity": 1,
                           "inflow_refill_per_s": 1}]}, "unknown asset"),
    # every (spoke, asset) has an inflow limit: a real deployment bounds what a spoke quorum can mint
    ({"tokens__sepolia": [{"symbol": "USDC", "address": "0x" + "66" * 20, "decimals": 6, "asset": "USDC",
                           "rate_capacity": 1, "rate_refill_per_s": 1}]}, "inflow_capacity"),
    ({"tokens__sepolia": [{"symbol": "USDC", "address": "0x" + "66" * 20, "decimals": 6, "asset": "USDC",
                           "rate_capacity": 1, "rate_refill_per_s": 1, "inflow_capacity": 1,
                           "inflow_refill_per_s": 0}]}, "greater than 0"),
    ({"deployer_key": "0x" + "11" * 32}, "Extra inputs"),
    # the margin engine's part
    ({"margin__markets__ETH-USD__feed": "SOL"}, "unknown feed"),
    ({"margin__feeds__BTC__feed_id": 2}, "feed ids must be distinct"),
    ({"margin__feeds__ETH__feed_id": 7}, "collateral asset ETH"),
    ({"margin__settlement_asset": "DAI"}, "not a plan asset"),
    ({"margin__feeds__USDC__max_price_usd": 0.4}, "not above min_price_usd"),
    ({"margin__feeds__ETH__max_move_bps": 0}, "greater than 0"),
    ({"margin__orders__max_delay_s": 2}, "not above min_delay_s"),
    ({"margin__orders__max_delay_s": 86_401}, "less than or equal to 86400"),
    ({"margin__orders__settlement_reward_usd": 1_001}, "less than or equal to 1000"),
    ({"margin__markets__ETH-USD__risk__max_leverage": 0}, "greater than 0"),
    ({"margin__markets__ETH-USD__risk__max_levrage": 10}, "Extra inputs"),  # a typo is not ignored
    ({"margin__liquidation__close_factor": 1.5}, "less than or equal to 1"),
    ({"margin__vault__max_pnl_factor": 0}, "greater than 0"),
])
def test_a_bad_plan_is_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        DeployPlan.model_validate(_plan(**change))


def test_the_testnet_margin_plan_converts_exactly_to_the_contracts_units() -> None:
    """Prices and fractions written in the YAML reach the contracts as exact 1e18 fixed point."""
    margin = load_plan(PLAN).margin
    assert margin is not None
    assert usd(margin.feeds["USDC"].min_price_usd) == 5 * 10**17
    assert margin.orders is not None and margin.orders.as_tuple() == (2, 3600, 5 * 10**17)
    assert margin.liquidation.params().as_tuple() == (5 * 10**17, 10**16, 10**16, 5 * 10**16)
    assert usd(margin.vault.max_pnl_factor) == 5 * 10**17
    assert {m.feed for m in margin.markets.values()} <= set(margin.feeds)


def test_a_plan_without_a_margin_section_deploys_the_bridge_alone() -> None:
    raw = _plan()
    del raw["margin"]
    assert DeployPlan.model_validate(raw).margin is None


def test_a_plan_file_error_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(_plan(threshold=0)))
    with pytest.raises(ConfigError, match="threshold"):
        load_plan(tmp_path / "p.yaml")


def test_a_first_scan_starts_at_the_source_contracts_deploy_block() -> None:
    record = Deployment(
        hub=HubDeployment(chain_id=1, ledger="0x" + "11" * 20, deploy_block=100),
        spokes={ChainId(2): SpokeDeployment(lockbox="0x" + "22" * 20, deploy_block=7)},
        validators=["0x" + "33" * 20], threshold=1,
    )
    deposit = RouteId(kind=RouteKind.DEPOSIT, source_chain_id=ChainId(2), dest_chain_id=ChainId(1))
    withdrawal = RouteId(kind=RouteKind.WITHDRAWAL, source_chain_id=ChainId(1), dest_chain_id=ChainId(2))
    assert (record.source_deploy_block(deposit), record.source_deploy_block(withdrawal)) == (7, 100)
    older = Deployment.model_validate_json(record.model_dump_json(exclude={"hub": {"deploy_block"}}))
    assert older.source_deploy_block(withdrawal) == 0  # records without deploy blocks scan from genesis
