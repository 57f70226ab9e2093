"""POST /signatures stores only signatures that recover to a current validator of the route's destination."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
import requests
import uvicorn
import yaml
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from pydantic import SecretStr

from relayer.api.app import create_app
from relayer.config import load_settings
from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.errors import PublishError
from relayer.proofs.checkpoint import Checkpoint, sign
from relayer.store.redis_store import HALT_TTL_S, Store
from relayer.types import RouteId
from relayer.validator.publish import HttpPublisher, halt_message

HUB, SPOKE = 31337, 31338
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LOCKBOX = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
KEYS = ["0x" + keccak(text=f"api-test-validator-{i}").hex() for i in range(3)]
VALIDATORS = [Account.from_key(k).address for k in KEYS]
OUTSIDER = "0x" + keccak(text="api-test-outsider").hex()
DEPOSIT = RouteId.parse(f"deposit:{SPOKE}->{HUB}")
WITHDRAWAL = RouteId.parse(f"withdrawal:{HUB}->{SPOKE}")
HEAD = bytes.fromhex("11" * 32)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, private_redis_url: str) -> Iterator[tuple[str, Store]]:
    root: Path = tmp_path_factory.mktemp("api")
    deployment = {
        "hub": {"chain_id": HUB, "ledger": LEDGER},
        "spokes": {str(SPOKE): {"lockbox": LOCKBOX}},
        "validators": VALIDATORS,
        "threshold": 2,
    }
    (root / "deployment.json").write_text(json.dumps(deployment))
    (root / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "chains": {
                    "hub": {"chain_id": HUB, "rpc_urls": ["http://127.0.0.1:9"], "role": "hub"},
                    "spoke-a": {"chain_id": SPOKE, "rpc_urls": ["http://127.0.0.1:9"], "role": "spoke"},
                },
                "deployment_file": str(root / "deployment.json"),
            }
        )
    )
    store = Store(private_redis_url, prefix=f"api-test-{uuid.uuid4().hex[:8]}")
    ctx = Context(load_settings(root / "config.yaml"), store=store, quick=True)
    app = create_app(context=ctx, validator_set=lambda route: set(VALIDATORS))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    poll(lambda: server.started, "API server to start", 10)
    port = server.servers[0].sockets[0].getsockname()[1]  # any free port: test runs may overlap
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _body(
    route: RouteId, nonce: int, key: str, dest_chain: int, dest: str, claimed: str | None = None, head: bytes = HEAD
) -> dict:
    source = LOCKBOX if route.kind.value == "deposit" else LEDGER
    cp = Checkpoint(source_chain_id=route.source_chain_id, source=source, nonce=nonce, head=head)
    signature = sign(cp, dest_chain, dest, key)
    return {
        "route": str(route),
        "nonce": nonce,
        "head": "0x" + head.hex(),
        "validator": claimed or Account.from_key(key).address,
        "signature": "0x" + signature.hex(),
    }


def test_a_validator_signature_for_the_route_destination_is_stored(served) -> None:
    url, store = served
    reply = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 4, KEYS[0], HUB, LEDGER), timeout=5)
    assert reply.status_code == 201, reply.text
    assert store.signatures_for(DEPOSIT, 4)[HEAD].keys() == {VALIDATORS[0]}


def test_withdrawal_signatures_are_checked_against_the_lockbox_domain(served) -> None:
    url, store = served
    reply = requests.post(f"{url}/signatures", json=_body(WITHDRAWAL, 1, KEYS[1], SPOKE, LOCKBOX), timeout=5)
    assert reply.status_code == 201, reply.text
    assert VALIDATORS[1] in store.signatures_for(WITHDRAWAL, 1)[HEAD]


def test_a_signer_outside_the_validator_set_is_refused(served) -> None:
    url, store = served
    reply = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 5, OUTSIDER, HUB, LEDGER), timeout=5)
    assert reply.status_code == 403
    assert store.signatures_for(DEPOSIT, 5) == {}


def test_a_signature_claimed_for_another_validator_is_refused(served) -> None:
    url, store = served
    body = _body(DEPOSIT, 6, OUTSIDER, HUB, LEDGER, claimed=VALIDATORS[2])
    reply = requests.post(f"{url}/signatures", json=body, timeout=5)
    assert reply.status_code == 400
    assert "recovers to" in reply.json()["detail"]
    assert store.signatures_for(DEPOSIT, 6) == {}


def test_a_signature_for_another_destination_contract_is_refused(served) -> None:
    """Signed for the lockbox's domain but published for the deposit route: recovers to a stranger."""
    url, store = served
    body = _body(DEPOSIT, 7, KEYS[0], HUB, LOCKBOX)
    reply = requests.post(f"{url}/signatures", json=body, timeout=5)
    assert reply.status_code == 400
    assert store.signatures_for(DEPOSIT, 7) == {}


def test_a_signature_for_another_chain_is_refused(served) -> None:
    url, store = served
    body = _body(DEPOSIT, 8, KEYS[0], SPOKE, LEDGER)
    reply = requests.post(f"{url}/signatures", json=body, timeout=5)
    assert reply.status_code == 400
    assert store.signatures_for(DEPOSIT, 8) == {}


def test_a_tampered_head_is_refused(served) -> None:
    url, store = served
    body = _body(DEPOSIT, 9, KEYS[0], HUB, LEDGER)
    body["head"] = "0x" + "22" * 32
    reply = requests.post(f"{url}/signatures", json=body, timeout=5)
    assert reply.status_code == 400
    assert store.signatures_for(DEPOSIT, 9) == {}


def test_an_unknown_route_is_404_and_a_malformed_signature_422(served) -> None:
    url, _ = served
    body = _body(DEPOSIT, 10, KEYS[0], HUB, LEDGER)
    assert requests.post(f"{url}/signatures", json={**body, "route": "deposit:31339->31337"}, timeout=5).status_code == 404
    assert requests.post(f"{url}/signatures", json={**body, "signature": "0x1234"}, timeout=5).status_code == 422


def test_health_reports_unreachable_chains_with_503(served) -> None:
    url, _ = served
    reply = requests.get(f"{url}/health", timeout=30)
    assert reply.status_code == 503
    assert reply.json()["chains"]["hub"]["ok"] is False


def test_metrics_are_prometheus_text(served) -> None:
    url, _ = served
    reply = requests.get(f"{url}/metrics", timeout=30)
    assert reply.status_code == 200
    assert "xmargin_routes_up 0.0" in reply.text
    assert "xmargin_signatures_accepted_total" in reply.text


def test_at_most_two_heads_per_validator_per_nonce_are_kept(served) -> None:
    """A validator flooding one nonce with heads: the third distinct head is a 409, the same again is fine."""
    url, store = served
    heads = [bytes([0x30 + i]) * 32 for i in range(4)]
    for head in heads[:2]:
        reply = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 20, KEYS[0], HUB, LEDGER, head=head), timeout=5)
        assert reply.status_code == 201, reply.text
    for head in heads[2:]:
        reply = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 20, KEYS[0], HUB, LEDGER, head=head), timeout=5)
        assert reply.status_code == 409
        assert "already has 2 different heads" in reply.json()["detail"]
    again = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 20, KEYS[0], HUB, LEDGER, head=heads[1]), timeout=5)
    assert again.status_code == 201
    assert set(store.signatures_for(DEPOSIT, 20)) == set(heads[:2])
    other = requests.post(f"{url}/signatures", json=_body(DEPOSIT, 20, KEYS[1], HUB, LEDGER, head=heads[3]), timeout=5)
    assert other.status_code == 201  # the limit is per validator


def test_http_publisher_delivers_signatures_and_signed_halt_reports(served) -> None:
    url, store = served
    publisher = HttpPublisher([url, "http://127.0.0.1:9"], SecretStr(KEYS[2]), timeout_s=2)  # one API down: fine
    body = _body(DEPOSIT, 30, KEYS[2], HUB, LEDGER)
    publisher.signature(DEPOSIT, 30, HEAD, VALIDATORS[2], bytes.fromhex(body["signature"][2:]))
    assert VALIDATORS[2] in store.signatures_for(DEPOSIT, 30)[HEAD]
    publisher.halt(DEPOSIT, VALIDATORS[2], "reorg past a signed checkpoint")
    assert store.halts(DEPOSIT) == {VALIDATORS[2]: "reorg past a signed checkpoint"}
    with pytest.raises(PublishError):  # a halt report for another validator does not recover to it
        publisher.halt(DEPOSIT, VALIDATORS[0], "forged")
    assert VALIDATORS[0] not in store.halts(DEPOSIT)
    with pytest.raises(PublishError):  # an outsider's own report is refused too
        HttpPublisher([url], SecretStr(OUTSIDER)).halt(DEPOSIT, Account.from_key(OUTSIDER).address, "x")
    metrics = requests.get(f"{url}/metrics", timeout=30).text
    assert "xmargin_validator_halted" in metrics


def test_concurrent_posts_of_one_validator_keep_the_head_limit_exactly(served) -> None:
    """Twelve different heads of one validator for one nonce posted at once (threads against the
    real server and Redis): exactly two are stored with a 201, the ten others are 409s."""
    url, store = served
    for nonce in (40, 41, 42):
        bodies = [_body(DEPOSIT, nonce, KEYS[0], HUB, LEDGER, head=bytes([nonce, i]) * 16) for i in range(12)]
        barrier = threading.Barrier(len(bodies))

        def post(body: dict, barrier: threading.Barrier = barrier) -> int:
            barrier.wait(timeout=10)
            return requests.post(f"{url}/signatures", json=body, timeout=30).status_code

        with ThreadPoolExecutor(len(bodies)) as pool:
            codes = sorted(pool.map(post, bodies))
        assert codes == [201] * 2 + [409] * 10
        assert len(store.signatures_for(DEPOSIT, nonce)) == 2


def _halt(key: str, reason: str, stamp: int, route: RouteId = WITHDRAWAL) -> dict:
    who = Account.from_key(key).address
    signed = Account.sign_message(encode_defunct(text=halt_message(str(route), who, reason, stamp)), key)
    return {"route": str(route), "validator": who, "reason": reason, "issued_at_ms": stamp,
            "signature": "0x" + bytes(signed.signature).hex()}


def test_a_replayed_or_stale_halt_report_is_refused_with_a_json_4xx(served) -> None:
    url, store = served
    post = partial(requests.post, f"{url}/halts", timeout=5)
    now = int(time.time() * 1000)
    report = _halt(KEYS[1], "reorg past a signed checkpoint", now)
    assert post(json=report).status_code == 201
    assert store.halts(WITHDRAWAL) == {VALIDATORS[1]: "reorg past a signed checkpoint"}
    replay = post(json=report)
    assert replay.status_code == 409 and "replayed" in replay.json()["detail"]
    # The operator resumes the validator: it stops reporting and the halt leaves the status ...
    assert store.halts(WITHDRAWAL, now=time.time() + HALT_TTL_S + 1) == {}
    # ... and neither the captured report nor an older one it signed can bring it back.
    assert post(json=report).status_code == 409
    older = post(json=_halt(KEYS[1], "an older report", now - 1_000))
    assert older.status_code == 409 and "not above" in older.json()["detail"]
    stale = post(json=_halt(KEYS[1], "signed ten minutes ago", now - 600_000))
    assert stale.status_code == 400 and "at most 300 s old" in stale.json()["detail"]
    ahead = post(json=_halt(KEYS[1], "dated ahead", now + 120_000))
    assert ahead.status_code == 400
    tampered = {**_halt(KEYS[1], "restamped", now - 1_000), "issued_at_ms": now + 5}  # the stamp is signed
    assert post(json=tampered).status_code == 400
    assert post(json={k: v for k, v in report.items() if k != "issued_at_ms"}).status_code == 422
    assert store.halts(WITHDRAWAL) == {VALIDATORS[1]: "reorg past a signed checkpoint"}
    fresh = post(json=_halt(KEYS[1], "halted again", now + 1))  # a new report from the validator: fine
    assert fresh.status_code == 201
    assert store.halts(WITHDRAWAL)[VALIDATORS[1]] == "halted again"
