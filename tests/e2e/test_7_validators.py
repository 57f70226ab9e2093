"""Validators as independent operators, on the running devnet: they publish their signatures over
HTTP to the API (which verifies each one and keeps at most two heads per validator per nonce), and
a validator's signed halt report shows in `xmargin status`, /routes and the metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import requests
from eth_account import Account
from eth_account.messages import encode_defunct

from relayer.config import load_settings
from relayer.devnet._proc import poll
from relayer.devnet.layout import VALIDATOR_COUNT, validator_key
from relayer.proofs.checkpoint import Checkpoint, sign
from relayer.validator.publish import halt_message

from helpers import deposit_routes, fresh_account, hub_balance, wait_caught_up

SCALE_USDC = 10**12
FAR_NONCE = 10**9


def _accepted(metrics: str, route: str) -> float:
    """xmargin_signatures_accepted_total of one route in Prometheus text (0 if absent)."""
    for line in metrics.splitlines():
        if line.startswith("xmargin_signatures_accepted_total{") and f'route="{route}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_validators_publish_over_http_and_deposits_are_credited(devnet, ctx, depositors) -> None:
    layout = devnet.layout
    for i in range(1, VALIDATOR_COUNT + 1):
        own = load_settings(layout.validator_config_path(i))
        assert own.validator is not None and own.validator.publish_to == [layout.api_url]
        assert own.submitter is None and own.keeper is None  # its chains, its key, the APIs it publishes to
    route = next(r for r in deposit_routes(ctx) if r.source_chain_id == layout.chain("spoke-b").chain_id)
    before = _accepted(requests.get(f"{layout.api_url}/metrics", timeout=30).text, str(route))
    account = fresh_account("http-publish")
    alice = depositors[("alice", "spoke-b")]
    alice.wait(alice.send([("USDC", 5 * 10**6, account)]))
    wait_caught_up(ctx, [route])
    assert hub_balance(ctx, account, "USDC") == 5 * 10**6 * SCALE_USDC
    after = _accepted(requests.get(f"{layout.api_url}/metrics", timeout=30).text, str(route))
    assert after - before >= ctx.deployment.threshold  # the quorum arrived through POST /signatures


def test_the_api_keeps_at_most_two_heads_per_validator_per_nonce(devnet, ctx) -> None:
    route = deposit_routes(ctx)[0]
    key = validator_key(1)
    source, dest = ctx.deployment.source_contract(route), ctx.deployment.dest_contract(route)
    codes = []
    try:
        for i in range(3):
            head = bytes([0x70 + i]) * 32
            checkpoint = Checkpoint(source_chain_id=route.source_chain_id, source=source, nonce=FAR_NONCE, head=head)
            body = {"route": str(route), "nonce": FAR_NONCE, "head": "0x" + head.hex(),
                    "validator": Account.from_key(key).address,
                    "signature": "0x" + sign(checkpoint, route.dest_chain_id, dest, key).hex()}
            reply = requests.post(f"{devnet.layout.api_url}/signatures", json=body, timeout=10)
            codes.append(reply.status_code)
        assert codes == [201, 201, 409]
        assert "at most 2" in reply.json()["detail"]
        assert len(ctx.store.signatures_for(route, FAR_NONCE)) == 2
    finally:
        ctx.store.redis.delete(ctx.store._sig_key(route, FAR_NONCE))
        ctx.store.redis.zrem(ctx.store._signed_key(route), str(FAR_NONCE))


def test_a_validators_halt_report_shows_in_status_and_metrics(devnet, ctx) -> None:
    route = deposit_routes(ctx)[0]
    key = validator_key(VALIDATOR_COUNT)
    who = Account.from_key(key).address
    reason = "reorg past a signed checkpoint (drill)"
    stamp = int(time.time() * 1000)
    signed = Account.sign_message(encode_defunct(text=halt_message(str(route), who, reason, stamp)), key)
    body = {"route": str(route), "validator": who, "reason": reason, "issued_at_ms": stamp,
            "signature": "0x" + bytes(signed.signature).hex()}
    try:
        assert requests.post(f"{devnet.layout.api_url}/halts", json=body, timeout=10).status_code == 201
        forged = {**body, "reason": "something else"}
        assert requests.post(f"{devnet.layout.api_url}/halts", json=forged, timeout=10).status_code == 400
        config = str(devnet.layout.config_path)
        run = [sys.executable, "-m", "relayer.cli", "status", "--config", config]
        table = subprocess.run(run, capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert table.returncode == 0, table.stderr
        assert "HALTED" in table.stdout and who in " ".join(table.stdout.split())
        out = subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60, env=dict(os.environ))
        halted = {s["route"]: s["halted_by"] for s in json.loads(out.stdout)}
        assert halted[str(route)] == {who: reason}
        poll(
            lambda: f'xmargin_validator_halted{{route="{route}",validator="{who}"}} 1.0'
            in requests.get(f"{devnet.layout.api_url}/metrics", timeout=30).text,
            "halt metric", 10,
        )
    finally:
        ctx.store.redis.delete(ctx.store._halts_key(route))
