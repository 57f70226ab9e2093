"""relayer.config: YAML + env layering, field-naming errors, secrets kept out of text, Deployment."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest
import yaml
from eth_account import Account

from relayer.config import Deployment, Settings, load_deployment, load_settings
from relayer.errors import ConfigError
from relayer.types import RouteId

VALIDATOR_KEY = "0x" + "7a" * 32
SUBMITTER_KEY = "0x" + "5c" * 32
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LOCKBOX_A = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
LOCKBOX_B = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"


def _base() -> dict:
    return {
        "redis_url": "redis://127.0.0.1:6391/0",
        "chains": {
            "hub": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:8545"], "role": "hub", "confirmations": 2},
            "spoke_a": {
                "chain_id": 31338, "rpc_urls": ["http://127.0.0.1:8546", "http://127.0.0.1:9546"], "role": "spoke"
            },
        },
        "validator": {"name": "v0", "key": VALIDATOR_KEY, "db_path": "/tmp/v0.sqlite"},
        "submitter": {"key": SUBMITTER_KEY, "max_batch": 50},
    }


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No stray XMARGIN_* variable from the caller's shell leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("XMARGIN_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "xmargin.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_yaml_loads_with_defaults_and_names(tmp_path):
    settings = load_settings(_write(tmp_path, _base()))
    assert settings.hub.name == "hub" and settings.hub.confirmations == 2
    spoke = settings.chain(31338)
    assert spoke.name == "spoke_a" and spoke.confirmations == 12 and len(spoke.rpc_urls) == 2
    assert settings.submitter.max_batch == 50 and settings.submitter.fee_bump_pct == 15
    assert settings.api.port == 8000
    assert settings.validator.address == Account.from_key(VALIDATOR_KEY).address
    assert settings.submitter.address == Account.from_key(SUBMITTER_KEY).address
    with pytest.raises(ConfigError, match="no chain with chain_id 1"):
        settings.chain(1)


def test_finality_policy_defaults_to_the_finalized_tag_and_confirmations_mean_depth(tmp_path):
    settings = load_settings(_write(tmp_path, _base()))
    assert settings.hub.finality == "depth" and settings.hub.policy_text() == "depth 2"
    assert settings.chain(31338).finality == "finalized" and settings.chain(31338).policy_text() == "tag finalized"


def test_zero_confirmations_are_refused_outside_a_devnet(tmp_path):
    data = _base()
    data["chains"]["hub"]["confirmations"] = 0
    with pytest.raises(ConfigError, match="devnet: true"):
        load_settings(_write(tmp_path, data))
    data["chains"]["hub"]["devnet"] = True
    assert load_settings(_write(tmp_path, data)).hub.policy_text() == "depth 0 (devnet)"


def test_l1_finality_names_another_configured_chain(tmp_path):
    data = _base()
    data["chains"]["spoke_a"]["finality"] = "l1"
    with pytest.raises(ConfigError, match="l1_chain"):
        load_settings(_write(tmp_path, data))
    data["chains"]["spoke_a"]["l1_chain"] = "mainnet"
    with pytest.raises(ConfigError, match="not another chain"):
        load_settings(_write(tmp_path, data))
    data["chains"]["mainnet"] = {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:1"], "role": "l1"}
    assert load_settings(_write(tmp_path, data)).chain(31338).policy_text() == "l1 (mainnet)"


def test_env_overrides_yaml_field_by_field(tmp_path, monkeypatch):
    monkeypatch.setenv("XMARGIN_CHAINS__HUB__CONFIRMATIONS", "7")
    monkeypatch.setenv("XMARGIN_CHAINS__SPOKE_A__RPC_URLS", '["http://10.0.0.1:8546"]')
    monkeypatch.setenv("XMARGIN_VALIDATOR__KEY", "0x" + "11" * 32)
    monkeypatch.setenv("XMARGIN_API__PORT", "9100")
    settings = load_settings(_write(tmp_path, _base()))
    assert settings.hub.confirmations == 7 and settings.hub.rpc_urls == ["http://127.0.0.1:8545"]
    assert settings.chain(31338).rpc_urls == ["http://10.0.0.1:8546"]
    assert settings.validator.key.get_secret_value() == "0x" + "11" * 32
    assert settings.validator.name == "v0"  # the rest of the YAML section is kept
    assert settings.api.port == 9100


def test_config_file_from_env_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("XMARGIN_CONFIG", str(_write(tmp_path, _base())))
    assert load_settings().chain(31338).role == "spoke"
    assert Settings().hub.chain_id == 31337


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d["chains"]["hub"].update(rpc_urls=[]), "chains.hub.rpc_urls"),
        (lambda d: d["chains"]["hub"].update(rpc_urls=["ws://x"]), "chains.hub.rpc_urls"),
        (lambda d: d["chains"]["spoke_a"].update(confirmations=-1), "chains.spoke_a.confirmations"),
        (lambda d: d["chains"]["spoke_a"].update(role="hub"), "chains"),
        (lambda d: d["chains"]["spoke_a"].update(chain_id=31337), "chains"),
        (lambda d: d["chains"]["spoke_a"].update(confirmation=3), "chains.spoke_a.confirmation"),
        (lambda d: d["submitter"].update(max_batch=1001), "submitter.max_batch"),
        (lambda d: d["submitter"].update(block_gas_share=1.5), "submitter.block_gas_share"),
        (lambda d: d["submitter"].update(fee_bump_pct=5), "submitter.fee_bump_pct"),
        (lambda d: d.update(redis_url="http://localhost"), "redis_url"),
        (lambda d: d["validator"].pop("db_path"), "validator.db_path"),
    ],
)
def test_wrong_values_are_rejected_naming_the_field(tmp_path, mutate, field):
    data = _base()
    mutate(data)
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, data))
    assert field in info.value.fields
    assert field in str(info.value) and str(tmp_path) in str(info.value)


def test_wrong_env_value_names_the_field(tmp_path, monkeypatch):
    monkeypatch.setenv("XMARGIN_API__PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, _base()))
    assert info.value.fields == ["api.port"]


def test_unreadable_or_malformed_files_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("chains: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(bad)


def test_secrets_never_appear_in_repr_dumps_logs_or_errors(tmp_path, caplog):
    settings = load_settings(_write(tmp_path, _base()))
    with caplog.at_level(logging.INFO):
        logging.getLogger("xmargin.test").info("settings: %s %r", settings, settings)
    texts = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump()), caplog.text]
    for text in texts:
        assert VALIDATOR_KEY[2:] not in text and SUBMITTER_KEY[2:] not in text
    assert "**********" in repr(settings.validator)
    # A key that fails validation is not echoed either, not even in the chained traceback.
    data = _base()
    data["validator"]["key"] = "0x" + "ab" * 31  # 31 bytes: close to a real key
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, data))
    assert info.value.fields == ["validator.key"]
    rendered = "".join(traceback.format_exception(info.value))
    assert "ab" * 31 not in rendered and "validator.key: Value error, must be a 32-byte hex private key" in rendered


def _deployment() -> dict:
    return {
        "hub": {"chain_id": 31337, "ledger": LEDGER},
        "spokes": {"31338": {"lockbox": LOCKBOX_A}, "31339": {"lockbox": LOCKBOX_B.lower()}},
        "tokens": {"31338": {"USDC": {"address": LOCKBOX_B, "decimals": 6}}},
        "assets": {"USDC": 1},
        "validators": [LEDGER, LOCKBOX_A, LOCKBOX_B],
        "threshold": 2,
    }


def test_deployment_loads_and_derives_routes(tmp_path):
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(_deployment()))
    deployment = load_deployment(path)
    assert deployment.spokes[31339].lockbox == LOCKBOX_B
    assert deployment.tokens[31338]["USDC"].decimals == 6
    assert [str(r) for r in deployment.routes()] == [
        "deposit:31338->31337",
        "withdrawal:31337->31338",
        "deposit:31339->31337",
        "withdrawal:31337->31339",
    ]
    deposit_b, withdrawal_b = RouteId.parse("deposit:31339->31337"), RouteId.parse("withdrawal:31337->31339")
    assert (deployment.source_contract(deposit_b), deployment.dest_contract(deposit_b)) == (LOCKBOX_B, LEDGER)
    assert (deployment.source_contract(withdrawal_b), deployment.dest_contract(withdrawal_b)) == (LEDGER, LOCKBOX_B)
    with pytest.raises(ConfigError, match="no spoke with chain id 5"):
        deployment.source_contract(RouteId.parse("deposit:5->31337"))
    assert Deployment.model_validate_json(deployment.model_dump_json()) == deployment


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d.update(threshold=4), "threshold"),
        (lambda d: d.update(threshold=0), "threshold"),
        (lambda d: d.update(validators=[LEDGER, LEDGER.lower()]), "validators"),
        (lambda d: d["spokes"].update({"31337": {"lockbox": LOCKBOX_A}}), "spokes"),
        (lambda d: d["hub"].update(ledger="0x1234"), "hub.ledger"),
        (lambda d: d["assets"].update(ETH=0), "assets.ETH"),
    ],
)
def test_bad_deployment_is_rejected_naming_the_field(tmp_path, mutate, field):
    data = _deployment()
    mutate(data)
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        load_deployment(path)
    assert field in info.value.fields


def test_missing_deployment_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_deployment(tmp_path / "nope.json")


MARGIN = {
    "oracle": "0x" + "d1" * 20, "risk_engine": "0x" + "d2" * 20, "liquidation": "0x" + "d3" * 20,
    "lens": "0x" + "d4" * 20, "pool": "0x" + "d5" * 20, "insurance_fund": "0x" + "d6" * 20,
    "feeds": {"USDC": {"feed_id": 1, "aggregator": "0x" + "d7" * 20}, "ETH": {"feed_id": 2}},
    "markets": {"ETH-USD": {"address": "0x" + "d8" * 20, "feed": "ETH"}},
    "start_block": 7,
}
DEPLOYMENT = {
    "hub": {"chain_id": 31337, "ledger": LEDGER},
    "spokes": {"31338": {"lockbox": LOCKBOX_A}},
    "validators": [LOCKBOX_B],
    "threshold": 1,
}


def test_deployment_margin_section_is_optional_and_round_trips() -> None:
    assert Deployment.model_validate(DEPLOYMENT).margin is None  # files written before the margin engine
    deployment = Deployment.model_validate({**DEPLOYMENT, "margin": MARGIN})
    assert deployment.margin is not None and deployment.margin.start_block == 7
    assert deployment.margin.feeds["ETH"].aggregator is None and deployment.margin.feeds["USDC"].decimals == 8
    assert Deployment.model_validate_json(deployment.model_dump_json()) == deployment


def test_a_market_priced_by_an_unknown_feed_is_rejected() -> None:
    bad = {**MARGIN, "markets": {"BTC-USD": {"address": "0x" + "d9" * 20, "feed": "BTC"}}}
    with pytest.raises(ValueError, match="unknown feed 'BTC'"):
        Deployment.model_validate({**DEPLOYMENT, "margin": bad})


def test_keeper_and_oracle_keys_are_checked_and_never_shown(tmp_path) -> None:
    keys = {"keeper": {"key": SUBMITTER_KEY}, "oracle": {"key": VALIDATOR_KEY}}
    settings = load_settings(_write(tmp_path, {**_base(), **keys}))
    assert settings.keeper.address == Account.from_key(SUBMITTER_KEY).address and settings.keeper.max_repay_usd > 0
    assert settings.oracle.address == Account.from_key(VALIDATOR_KEY).address
    assert SUBMITTER_KEY[2:] not in repr(settings) and VALIDATOR_KEY[2:] not in repr(settings)
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, {**_base(), "keeper": {"key": "0x1234"}}))
    assert err.value.fields == ["keeper.key"] and "0x1234" not in str(err.value)
