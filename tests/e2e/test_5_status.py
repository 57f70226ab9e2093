"""`xmargin status` and `audit` after the other tests: every route caught up, no breach; a stopped devnet
and a drained lockbox are reported clearly with a non-zero exit; refused user input reads as a sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from helpers import wait_caught_up

from relayer.devnet.chains import rpc_call
from relayer.devnet.layout import USER_KEYS


def _xmargin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayer.cli", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_status_shows_every_route_caught_up(devnet, ctx) -> None:
    wait_caught_up(ctx, ctx.deployment.routes())
    result = _xmargin("status", "--json", "--config", str(devnet.layout.config_path))
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert {s["route"] for s in statuses} == {str(r) for r in ctx.deployment.routes()}
    for s in statuses:
        assert s["caught_up"] and s["lag_blocks"] == 0 and s["source_nonce"] == s["processed_nonce"], s

    table = _xmargin("status", "--config", str(devnet.layout.config_path))
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("caught up") == len(statuses)


def test_a_deposit_above_the_wallet_balance_is_explained_not_dumped_as_hex(devnet, ctx) -> None:
    config = str(devnet.layout.config_path)
    chain_id = ctx.chain_id_of("spoke-a")
    token = ctx.erc20(chain_id, ctx.deployment.tokens[chain_id]["USDC"].address)
    holder = ctx.lockbox(chain_id).address  # any address: the shortfall is the sender's
    before = int(token.functions.balanceOf(holder).call())
    result = _xmargin("deposit", "--chain", "spoke-a", "--token", "USDC", "--amount", "50000000",
                      "--key", USER_KEYS["bob"], "--config", config)
    assert result.returncode == 1, result.stdout
    text = " ".join(result.stderr.split())  # rich wraps long lines
    assert "insufficient USDC balance:" in text and "the transfer needs 50000000 USDC" in text, text
    assert "0xe450d38c" not in text and "Traceback" not in text
    assert int(token.functions.balanceOf(holder).call()) == before  # nothing moved

    bad = _xmargin("account", "0x1234", "--config", config)
    assert bad.returncode == 1 and "not an address" in bad.stderr and "Traceback" not in bad.stderr


def test_status_exits_non_zero_when_the_devnet_is_not_running(devnet, tmp_path) -> None:
    config = yaml.safe_load(devnet.layout.config_path.read_text())
    for chain in config["chains"].values():
        chain["rpc_urls"] = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = _xmargin("status", "--config", str(path))
    assert result.returncode == 2
    assert "is the devnet running" in result.stderr

    missing = _xmargin("status", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "is the devnet running" in missing.stderr


def test_audit_reports_no_breach_then_a_drained_lockbox(devnet, ctx) -> None:
    config = str(devnet.layout.config_path)
    clean = _xmargin("audit", "--json", "--config", config)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["ok"] is True

    spoke_b = devnet.layout.chain("spoke-b")
    url = devnet.layout.rpc_url(spoke_b)
    lockbox = ctx.deployment.spokes[spoke_b.chain_id].lockbox
    held = rpc_call(url, "eth_getBalance", [lockbox, "latest"])
    assert int(held, 16) > 0, "earlier tests deposited native ETH on spoke B"
    rpc_call(url, "anvil_setBalance", [lockbox, "0x0"])  # drained behind the ledger's back
    try:
        drained = _xmargin("audit", "--config", config)
        assert drained.returncode == 1
        assert "BREACH I0" in drained.stderr and "ETH on spoke-b" in drained.stderr
    finally:
        rpc_call(url, "anvil_setBalance", [lockbox, held])


def test_fees_lists_every_spoke_token_with_its_minimums_and_fee(devnet, ctx) -> None:
    result = _xmargin("fees", "--json", "--config", str(devnet.layout.config_path))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = {(chain_id, symbol) for chain_id, tokens in ctx.deployment.tokens.items() for symbol in tokens}
    assert {(r["chain_id"], r["symbol"]) for r in rows} == expected
    for r in rows:  # the devnet sets none (its scenarios assert exact amounts); the cap is the contract's
        assert (r["min_deposit"], r["min_withdrawal"], r["relay_fee"], r["max_relay_fee_bps"]) == (0, 0, 0, 100), r
