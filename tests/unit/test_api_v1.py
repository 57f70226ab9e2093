"""API v1 through real HTTP: the published OpenAPI document is what the app serves, malformed input is
a 4xx with a stable code and a sentence saying what is wrong, the web app's files are served."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn
import yaml

from relayer.api.app import create_app
from relayer.api.openapi import PUBLISHED, render, v1_spec
from relayer.config import load_settings
from relayer.context import Context
from relayer.devnet._proc import poll

HUB, SPOKE = 31337, 31338
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LOCKBOX = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
VALIDATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ALICE_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # anvil dev key 2: DEV ONLY


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a free port over a deployment whose chains do not answer (only input checks are reached)."""
    root: Path = tmp_path_factory.mktemp("api-v1")
    deployment = {
        "hub": {"chain_id": HUB, "ledger": LEDGER}, "spokes": {str(SPOKE): {"lockbox": LOCKBOX}},
        "assets": {"USDC": 1}, "validators": [VALIDATOR], "threshold": 1,
    }
    (root / "deployment.json").write_text(json.dumps(deployment))
    config = {
        "chains": {
            "hub": {"chain_id": HUB, "rpc_urls": ["http://127.0.0.1:9"], "role": "hub"},
            "spoke-a": {"chain_id": SPOKE, "rpc_urls": ["http://127.0.0.1:9"], "role": "spoke"},
        },
        "deployment_file": str(root / "deployment.json"),
        "api": {"demo_accounts": {"alice": ALICE_KEY}},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    app = create_app(context=Context(load_settings(root / "config.yaml"), quick=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    poll(lambda: server.started, "API server to start", 10)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_published_openapi_document_is_what_the_app_serves(url) -> None:
    served = requests.get(f"{url}/v1/openapi.json", timeout=5).json()
    assert render(served) == PUBLISHED.read_text(), "run `python -m relayer.api.openapi` to republish"
    assert "/v1/accounts/{address}/pending" in served["paths"] and "/v1/explorer" in served["paths"]
    assert "/v1/events" in served["paths"] and "/v1/routes/history" in served["paths"]


def test_the_document_does_not_depend_on_the_deployment() -> None:
    from relayer.config import Settings

    bare = create_app(Settings.model_validate({"chains": {}, "deployment_file": "/nonexistent"}))
    assert render(v1_spec(bare)) == PUBLISHED.read_text()


@pytest.mark.parametrize("path", ["/v1/accounts/0x1234", "/v1/accounts/0x1234/pending", "/v1/events?account=zz",
                                  "/v1/vault?owner=0x1234", "/v1/vault/0x1234"])
def test_a_bad_address_is_a_400_saying_so(url, path) -> None:
    reply = requests.get(f"{url}{path}", timeout=5)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "bad_address" and "not an address" in error["message"]


def test_the_vault_without_a_margin_engine_is_a_404_saying_so(url) -> None:
    reply = requests.get(f"{url}/v1/vault", timeout=5)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "no_margin_engine"


def test_an_unknown_asset_is_a_400_listing_the_known_ones(url) -> None:
    body = {"account": "alice", "asset": "DOGE", "amount": "1", "to_chain": "spoke-a"}
    reply = requests.post(f"{url}/v1/actions/withdraw", json=body, timeout=5)
    assert reply.status_code == 400
    assert reply.json()["error"] == {"code": "unknown_asset", "message": "unknown asset 'DOGE'; known: USDC"}


def test_a_body_missing_fields_is_a_400_naming_them(url) -> None:
    reply = requests.post(f"{url}/v1/actions/deposit", json={"account": "alice"}, timeout=5)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_input"
    assert "chain: Field required" in error["message"] and "amount: Field required" in error["message"]


def test_a_lookup_that_is_neither_account_hash_nor_nonce_is_a_400(url) -> None:
    reply = requests.get(f"{url}/v1/explorer", params={"q": "hello"}, timeout=5)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_input"
    assert "not an account, transaction hash or nonce" in reply.json()["error"]["message"]


def test_an_unreachable_chain_is_a_503_in_the_v1_shape(url) -> None:
    reply = requests.get(f"{url}/v1/routes", timeout=30)
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "unavailable"


def test_demo_accounts_and_the_web_app_are_served(url) -> None:
    accounts = requests.get(f"{url}/v1/demo-accounts", timeout=5).json()
    assert accounts == [{"name": "alice", "address": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"}]
    page = requests.get(f"{url}/app/", timeout=5)
    assert page.status_code == 200 and "<title>xmargin</title>" in page.text
    for module in ("app.js", "common.js", "account.js", "actions.js", "wallet.js", "operator.js"):
        script = requests.get(f"{url}/app/{module}", timeout=5)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"], module
    assert requests.get(f"{url}/", timeout=5, allow_redirects=False).headers["location"] == "/app/"


DEPOSIT_ROUTE = f"deposit:{SPOKE}->{HUB}"


@pytest.mark.parametrize(("path", "params", "code", "words"), [
    ("/v1/routes/history", {"route": "bogus"}, "unknown_route", "unknown route 'bogus'"),
    ("/v1/routes/history", {"route": DEPOSIT_ROUTE, "limit": 0}, "invalid_input", "limit"),
    ("/v1/explorer", {"q": "1", "route": "bogus"}, "unknown_route", "unknown route 'bogus'"),
    ("/v1/explorer", {"q": "abc", "route": DEPOSIT_ROUTE}, "invalid_input", "nonce 'abc' is not a number"),
])
def test_malformed_explorer_queries_are_400s_even_with_the_chains_down(url, path, params, code, words) -> None:
    reply = requests.get(f"{url}{path}", params=params, timeout=5)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == code and words in reply.json()["error"]["message"]


@pytest.mark.parametrize(("action", "body", "code", "words"), [
    ("deposit", {"chain": "hub", "token": "USDC", "amount": "1"}, "unknown_chain", "not a spoke"),
    ("deposit", {"chain": "spoke-a", "token": "DOGE", "amount": "1"}, "unknown_token", "no token 'DOGE'"),
    ("withdraw", {"asset": "USDC", "amount": "1", "to_chain": "hub"}, "unknown_chain", "not a spoke"),
    ("withdraw", {"asset": "USDC", "amount": "NaN", "to_chain": "spoke-a"}, "invalid_input", "is not a number"),
    ("withdraw", {"asset": "USDC", "amount": "Infinity", "to_chain": "spoke-a"}, "invalid_input", "is not a number"),
    ("withdraw", {"asset": "USDC", "amount": "-2", "to_chain": "spoke-a"}, "invalid_input", "must be positive"),
])
def test_malformed_actions_are_400s_before_any_chain_is_asked(url, action, body, code, words) -> None:
    reply = requests.post(f"{url}/v1/actions/{action}", json={"account": "alice", **body}, timeout=5)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == code and words in reply.json()["error"]["message"]


def test_both_sdk_clients_raise_the_api_errors_with_their_code(url) -> None:
    import asyncio

    from relayer.sdk import ApiRequestError, AsyncClient, Client

    async def async_errors() -> list[tuple[int, str]]:
        out = []
        async with AsyncClient(url) as client:
            for call in (client.lookup("hello"), client.account("0x1234"), client.history("bogus")):
                with pytest.raises(ApiRequestError) as caught:
                    await call
                out.append((caught.value.status, caught.value.code))
        return out

    sync = Client(url)
    expected = []
    for call in (lambda: sync.lookup("hello"), lambda: sync.account("0x1234"), lambda: sync.history("bogus")):
        with pytest.raises(ApiRequestError) as caught:
            call()
        expected.append((caught.value.status, caught.value.code))
    assert expected == [(400, "invalid_input"), (400, "bad_address"), (400, "unknown_route")]
    assert asyncio.run(async_errors()) == expected


WALLET = "0x00000000000000000000000000000000deadbeef"


@pytest.mark.parametrize(("path", "body", "status", "code", "says"), [
    ("/v1/tx/deposit", {"account": "0x1234", "chain": "spoke-a", "token": "USDC", "amount": "1"},
     400, "bad_address", "not an address: '0x1234'"),
    ("/v1/tx/deposit", {"account": WALLET, "chain": "nowhere", "token": "USDC", "amount": "1"},
     400, "unknown_chain", "unknown chain 'nowhere'"),
    ("/v1/tx/deposit", {"account": WALLET, "chain": "spoke-a", "token": "DOGE", "amount": "1"},
     400, "unknown_token", "no token 'DOGE' on spoke-a"),
    ("/v1/tx/deposit", {"account": WALLET, "chain": "spoke-a", "token": "USDC", "amount": "1",
                        "beneficiary": "zz"}, 400, "bad_address", "not an address: 'zz'"),
    ("/v1/tx/withdraw", {"account": WALLET, "asset": "DOGE", "amount": "1", "to_chain": "spoke-a"},
     400, "unknown_asset", "unknown asset 'DOGE'; known: USDC"),
    ("/v1/tx/recover", {"account": WALLET, "chain": "spoke-a", "nonce": 3, "new_recipient": ""},
     400, "bad_address", "not an address: ''"),
    ("/v1/tx/recover", {"account": WALLET, "chain": "spoke-a", "nonce": 0}, 400, "invalid_input", "nonce:"),
    ("/v1/tx/retry", {"account": WALLET, "chain": "hub", "nonce": 1}, 400, "unknown_chain",
     "unknown chain 'hub' for a retry: not a spoke of the deployment; spokes: spoke-a"),
    ("/v1/tx/retry", {"account": WALLET, "chain": "spoke-a", "nonce": 0}, 400, "invalid_input", "nonce:"),
    ("/v1/actions/retry", {"account": "mallory", "chain": "spoke-a", "nonce": 1}, 400, "unknown_account",
     "unknown demo account 'mallory'"),
    ("/v1/tx/vault-execute", {"account": WALLET, "redemption_id": 0}, 400, "invalid_input", "redemption_id:"),
    ("/v1/tx/vault-redeem", {"account": WALLET}, 404, "no_margin_engine", "no margin engine"),
    ("/v1/tx/order", {"account": WALLET, "market": "ETH-USD", "size": "1"}, 404, "no_margin_engine", "no margin"),
    ("/v1/actions/vault-redeem", {"account": "alice"}, 404, "no_margin_engine", "no margin engine"),
    ("/v1/actions/recover", {"account": "mallory", "chain": "spoke-a", "nonce": 1}, 400, "unknown_account",
     "unknown demo account 'mallory'; known: alice"),
])
def test_wallet_transactions_refuse_bad_input_before_any_chain_call(url, path, body, status, code, says) -> None:
    reply = requests.post(f"{url}{path}", json=body, timeout=5)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and says in error["message"], error


def test_a_wallet_transaction_needing_a_chain_that_does_not_answer_is_a_503(url) -> None:
    body = {"account": WALLET, "asset": "USDC", "amount": "1", "to_chain": "spoke-a"}
    reply = requests.post(f"{url}/v1/tx/withdraw", json=body, timeout=30)
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "unavailable"


def test_the_transaction_routes_are_published(url) -> None:
    paths = requests.get(f"{url}/v1/openapi.json", timeout=5).json()["paths"]
    for action in ("deposit", "withdraw", "order", "close", "vault-deposit", "vault-redeem", "vault-execute",
                   "vault-cancel", "recover", "retry"):
        assert f"/v1/tx/{action}" in paths, action
        assert paths[f"/v1/tx/{action}"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/TxPlan"}
    assert "/v1/actions/recover" in paths and "/v1/actions/vault-execute" in paths
    assert paths["/v1/actions/retry"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReleaseRetried"}
