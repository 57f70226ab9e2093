"""relayer.chain.client and relayer.chain.contracts against real anvils (dead ports for failover)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web3 import HTTPProvider, Web3

from relayer.chain.abi import build_dir, load_artifact
from relayer.chain.client import ChainClient, redact
from relayer.chain.contracts import contract
from relayer.chain.headers import check_header, header_hash
from relayer.config import ChainConfig
from relayer.errors import ChainCallError, ConfigError, HeaderMismatchError, RpcUnavailableError, WrongChainError
from relayer.types import checksum

from local_services import fixed_port

ALIVE, SECOND, DEAD, DEAD2 = (fixed_port(p) for p in (8721, 8722, 8729, 8728))
CHAIN_ID = 31339
EMITTER_INIT = "0x600e600c600039600e6000f3" + "3660006000373360aa366000a200"  # LOG2(0xaa, caller, calldata)
ANSWER_INIT = "0x600a600c600039600a6000f3" + "602a60005260206000f3"  # returns uint256 42 to any call
ANSWER_ABI = [{"type": "function", "name": "answer", "inputs": [], "outputs": [{"name": "", "type": "uint256"}], "stateMutability": "view"}]


def url(port: int, suffix: str = "") -> str:
    return f"http://127.0.0.1:{port}{suffix}"


def config(*ports: int, **extra) -> ChainConfig:
    values = {"name": "spoke_b", "chain_id": CHAIN_ID, "rpc_urls": [url(p) for p in ports], "role": "spoke",
              "confirmations": 2, "rpc_timeout_s": 2.0, "rpc_retries": 2}
    values.update(extra)
    return ChainConfig(**values)


class Sleeps(list):
    """Records backoff sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def chains(anvil_factory):
    """Two live anvils of chain 31339 (ports 8721, 8722); 8728/8729 stay dead."""
    return {ALIVE: anvil_factory(ALIVE, CHAIN_ID), SECOND: anvil_factory(SECOND, CHAIN_ID)}


def test_dead_first_url_fails_over_to_the_live_one_and_sticks(chains):
    sleeps = Sleeps()
    client = ChainClient(config(DEAD, ALIVE), sleep=sleeps)
    client.verify_chain_id()
    assert client.block_number() >= 0
    assert client.provider.active_url == url(ALIVE)
    before = client.provider.calls["eth_blockNumber"]
    client.block_number()
    assert client.provider.calls["eth_blockNumber"] == before + 1  # straight to the live URL now
    assert sleeps == []


def test_all_urls_dead_raises_rpc_unavailable_with_a_clear_message():
    sleeps = Sleeps()
    client = ChainClient(config(DEAD, DEAD2), sleep=sleeps)
    with pytest.raises(RpcUnavailableError) as info:
        client.block_number()
    message = str(info.value)
    assert "chain spoke_b" in message and "eth_blockNumber" in message
    assert url(DEAD) in message and url(DEAD2) in message and "ConnectionError" in message
    assert sleeps == [0.1, 0.2]  # capped exponential backoff between rounds
    assert client.provider.calls["eth_blockNumber"] == 6  # 3 rounds x 2 URLs, then stop


def test_api_keys_in_rpc_urls_never_reach_errors():
    client = ChainClient(config(DEAD, rpc_urls=[url(DEAD, "/v3/SECRETKEY?apikey=zzz")], rpc_retries=0))
    with pytest.raises(RpcUnavailableError) as info:
        client.block_number()
    assert "SECRETKEY" not in str(info.value) and "zzz" not in str(info.value)
    assert redact("https://user:pw@rpc.example.org:8443/key") == "https://rpc.example.org:8443"


def test_unsafe_method_fails_over_only_when_the_request_was_never_sent(chains):
    client = ChainClient(config(DEAD, ALIVE))
    sender = client.w3.eth.accounts[0]  # eth_accounts: not in the retry list, refused -> next URL
    tx_hash = client.w3.eth.send_transaction({"from": sender, "to": sender, "value": 1})
    assert client.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 1
    assert client.provider.calls["eth_sendTransaction"] == 1


def test_node_side_errors_are_chain_call_errors_without_failover(chains):
    sleeps = Sleeps()
    client = ChainClient(config(ALIVE, SECOND), sleep=sleeps)
    with pytest.raises(ChainCallError, match="eth_getBlock"):
        client.get_block(10**9)
    assert client.provider.active_url == url(ALIVE) and sleeps == []


def test_failover_when_the_active_node_dies(anvil_factory):
    first = anvil_factory(fixed_port(8723), CHAIN_ID)
    anvil_factory(fixed_port(8724), CHAIN_ID)
    client = ChainClient(config(fixed_port(8723), fixed_port(8724)))
    client.block_number()
    assert client.provider.active_url == url(fixed_port(8723))
    first.kill()
    first.wait(timeout=10)
    client.verify_chain_id()
    assert client.provider.active_url == url(fixed_port(8724))


def test_wrong_chain_id_is_detected(chains):
    client = ChainClient(config(ALIVE, chain_id=1))
    with pytest.raises(WrongChainError, match="reports chain id 31339, configured 1"):
        client.verify_chain_id()
    with pytest.raises(WrongChainError):  # refused for good: no request goes to it again
        client.block_number()
    assert client.provider.calls["eth_blockNumber"] == 0


def test_failover_to_a_wrong_chain_url_is_refused(chains, anvil_factory):
    """The first URL dies; the next one serves chain 31338: refused, the third (right chain) is used."""
    other = fixed_port(8727)
    anvil_factory(other, 31338)
    client = ChainClient(config(ALIVE, other, SECOND), sleep=Sleeps())
    assert client.block_number() >= 0 and client.provider.active_url == url(ALIVE)
    client.provider._providers[0] = HTTPProvider(url(DEAD), exception_retry_configuration=None)
    client.block_number()
    assert client.provider.active_url == url(SECOND)
    assert set(client.provider.refused) == {1}
    assert "31338" in str(client.provider.refused[1])


def test_block_header_hash_is_recomputed_from_its_fields(chains):
    client = ChainClient(config(ALIVE))
    block = client.get_block("latest")  # checked on the way in
    assert header_hash(block) == bytes(block["hash"])
    forged = dict(block, stateRoot=b"\x11" * 32)
    with pytest.raises(HeaderMismatchError, match="not the hash of its fields"):
        check_header("spoke_b", forged)


def test_tag_policies_read_the_node_tags(chains):
    client = ChainClient(config(ALIVE, finality="finalized", confirmations=12))
    assert client.finalized_block() == client.get_block("finalized")["number"]
    assert ChainClient(config(ALIVE, finality="safe")).finalized_block() == client.get_block("safe")["number"]


def _deploy(w3: Web3, init_code: str) -> str:
    tx_hash = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": init_code, "gas": 200_000})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["contractAddress"]


def test_get_logs_is_chunked_and_complete(chains):
    client = ChainClient(config(ALIVE, log_chunk=3))
    w3 = client.w3
    emitter = _deploy(w3, EMITTER_INIT)
    first = client.block_number() + 1
    for i in range(7):  # automine: one block per log
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": emitter, "data": "0x" + bytes([i]).hex()})
        w3.eth.wait_for_transaction_receipt(tx, timeout=10)
    last = client.block_number()
    assert last - first + 1 == 7
    before = client.provider.calls["eth_getLogs"]
    topic0 = "0x" + (0xAA).to_bytes(32, "big").hex()
    logs = client.get_logs(emitter, [topic0], first - 1, last)  # 8 blocks -> 3 requests
    assert [bytes(entry["data"]) for entry in logs] == [bytes([i]) for i in range(7)]
    assert client.provider.calls["eth_getLogs"] - before == 3
    assert client.get_logs(emitter, ["0x" + "00" * 32], first, last) == []
    assert client.get_logs(emitter, [], last, last - 1) == []


def test_finalized_block_and_receipts_and_call_at_block(chains):
    client = ChainClient(config(ALIVE, confirmations=2))
    address = _deploy(client.w3, ANSWER_INIT)
    deployed_at = client.block_number()
    client.w3.provider.make_request("anvil_mine", [3])
    assert client.finalized_block() == client.block_number() - 2
    assert ChainClient(config(ALIVE, confirmations=10**6)).finalized_block() == 0
    receipts = client.block_receipts(deployed_at)
    assert [checksum(r["contractAddress"]) for r in receipts] == [address]  # as the node sent it (hex text)
    answer = client.w3.eth.contract(address=address, abi=ANSWER_ABI).functions.answer()
    assert client.call(answer, deployed_at) == 42
    with pytest.raises(ChainCallError, match="answer"):
        client.call(answer, deployed_at - 1)  # no code there yet


def test_load_artifact_reads_compiled_abi():
    if not (build_dir() / "QuorumVerifier.json").exists():
        pytest.skip(f"no compiled artifacts in {build_dir()}: run `brownie compile` first")
    artifact = load_artifact("QuorumVerifier")
    names = {item.get("name") for item in artifact.abi}
    assert {"checkpointDigest", "setValidators", "validatorsOf", "ValidatorSetUpdated"} <= names
    assert artifact.name == "QuorumVerifier"


def test_artifact_dir_from_env_and_missing_artifact(tmp_path, monkeypatch, chains):
    (tmp_path / "Answer.json").write_text(json.dumps({"contractName": "Answer", "abi": ANSWER_ABI, "bytecode": ANSWER_INIT[2:]}))
    monkeypatch.setenv("XMARGIN_BUILD_DIR", str(tmp_path))
    assert build_dir() == tmp_path
    artifact = load_artifact("Answer")
    client = ChainClient(config(ALIVE))
    address = _deploy(client.w3, "0x" + artifact.bytecode)
    bound = contract(client, "Answer", address.lower())
    assert bound.address == address and client.call(bound.functions.answer()) == 42
    with pytest.raises(ConfigError, match="Lockbox.*brownie compile"):
        load_artifact("Lockbox")
    (tmp_path / "Broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="Broken"):
        load_artifact("Broken")


class _FlakyNode:
    """An HTTP JSON-RPC endpoint answering `failures` requests with a JSON-RPC error of `code`, then
    eth_blockNumber = 0x10 (what a provider under load, or the soak's fault proxy, does); its chain id
    is always answered and not counted."""

    def __init__(self, failures: int, code: int) -> None:
        node = self
        self.failures, self.requests = failures, 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if request["method"] == "eth_chainId":  # the client's chain-id check, always answered
                    body = {"jsonrpc": "2.0", "id": request["id"], "result": hex(CHAIN_ID)}
                else:
                    node.requests += 1
                    if node.requests <= node.failures:
                        body = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": "busy"}}
                    else:
                        body = {"jsonrpc": "2.0", "id": request["id"], "result": "0x10"}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("code", [-32603, -32005])
def test_internal_error_answers_to_reads_are_retried_like_dropped_requests(code):
    node = _FlakyNode(failures=2, code=code)
    try:
        sleeps = Sleeps()
        client = ChainClient(config(node.port), sleep=sleeps)
        assert client.block_number() == 16
        assert node.requests == 3 and sleeps == [0.1, 0.2]

        node.failures, node.requests = 10, 0  # more than the retries: the node counts as unavailable
        with pytest.raises(RpcUnavailableError, match=f"JSON-RPC error {code}"):
            client.block_number()
        assert node.requests == 3
    finally:
        node.server.shutdown()


def test_other_json_rpc_errors_are_not_retried():
    node = _FlakyNode(failures=1, code=3)  # e.g. execution reverted: asking again changes nothing
    try:
        sleeps = Sleeps()
        client = ChainClient(config(node.port), sleep=sleeps)
        with pytest.raises(ChainCallError):
            client.block_number()
        assert node.requests == 1 and sleeps == []
    finally:
        node.server.shutdown()
