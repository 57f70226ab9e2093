"""relayer.chain.routes: the compiled ABIs against docs/protocol.md, log decoding, and reads on real anvils.

The real Lockbox / MarginLedger integration test lives with the devnet; here an event-echo contract
(raw bytecode) emits logs with the protocol's exact topics and answers views, so the decoding,
topic filters, view selectors and block-pinned calls are exercised against a real node.
"""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import Web3

from relayer.chain.abi import abi_of, load_artifact
from relayer.chain.client import ChainClient
from relayer.chain.routes import (
    DEPOSITED,
    DEPOSITS_PROCESSED,
    WITHDRAWAL_QUEUED,
    WITHDRAWALS_PROCESSED,
    RouteReader,
    decode_message_log,
)
from relayer.config import ChainConfig, Deployment
from relayer.errors import ChainCallError
from relayer.proofs.hashchain import ZERO_HEAD, check_chain, deposit_leaf, extend, withdrawal_leaf
from relayer.types import NATIVE_TOKEN, RouteId, RouteKind

from local_services import fixed_port

HUB, SPOKE, OTHER = 31337, 31338, 31339
HUB_PORT, SPOKE_PORT = fixed_port(8726), fixed_port(8725)
# calldata >= 128 bytes: LOG4(topics = first four words, data = rest); shorter calldata (a view call):
# return (uint256 block.number, bytes32 keccak256(calldata)), so tests see which view was called, at which block.
EVENT_ECHO_INIT = (
    "0x6038600c60003960386000f360803610602157366000600037606051604051602051600051608036036080a400"
    "5b366000600037366000206020524360005260406000f3"
)
SIGNATURES = {
    "Deposited": "Deposited(uint64,address,address,address,uint256,bytes32)",
    "WithdrawalQueued": "WithdrawalQueued(uint64,uint64,address,address,address,uint256,bytes32)",
    "DepositsProcessed": "DepositsProcessed(uint64,uint64,bytes32,uint256)",
    "WithdrawalsProcessed": "WithdrawalsProcessed(uint64,bytes32,uint256)",
}
A, B, C = ("0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3))


def topic(value: int | str) -> bytes:
    return (value if isinstance(value, int) else int(value, 16)).to_bytes(32, "big")


def topic0(name: str) -> bytes:
    return keccak(text=SIGNATURES[name])


def test_event_abis_match_protocol_signatures():
    from eth_utils import event_abi_to_log_topic

    for abi in (DEPOSITED, WITHDRAWAL_QUEUED, DEPOSITS_PROCESSED, WITHDRAWALS_PROCESSED):
        assert event_abi_to_log_topic(abi) == topic0(abi["name"])


PROTOCOL_VIEWS = {
    "Lockbox": ["depositRoute()", "withdrawalRoute()", "validatorsOf(uint64)", "thresholdOf(uint64)"],
    "MarginLedger": ["depositRoute(uint64)", "withdrawalRoute(uint64)", "validatorsOf(uint64)", "thresholdOf(uint64)"],
}
"""What the relayer calls on each contract, as docs/protocol.md states it (the ABIs come from the artifacts)."""


@pytest.mark.parametrize("name", sorted(PROTOCOL_VIEWS))
def test_compiled_contracts_expose_the_protocol_abi(name):
    compiled = load_artifact(name).abi
    signatures = {f"{i['name']}({','.join(p['type'] for p in i['inputs'])})" for i in compiled if i["type"] == "function"}
    assert set(PROTOCOL_VIEWS[name]) <= signatures, f"{name} differs from docs/protocol.md"


def _log(address: str, topics: list[bytes], data: bytes, **extra) -> dict:
    return {"address": address, "topics": topics, "data": data, "blockNumber": 7, "blockHash": b"\x07" * 32,
            "transactionHash": b"\x08" * 32, "transactionIndex": 2, "logIndex": 5, **extra}


def test_decode_message_log_by_hand_encoded_logs():
    lockbox = Web3().eth.contract(address=Web3.to_checksum_address(C), abi=abi_of("Lockbox"))
    head = b"\x42" * 32
    log = _log(lockbox.address, [topic0("Deposited"), topic(9), topic(A), topic(B)],
               encode(["address", "uint256", "bytes32"], [NATIVE_TOKEN, 10**18, head]))
    msg = decode_message_log(RouteKind.DEPOSIT, lockbox, log)
    assert (msg.nonce, msg.head, msg.block_number, msg.tx_index, msg.log_index) == (9, head, 7, 2, 5)
    assert msg.message.as_tuple() == (Web3.to_checksum_address(A), Web3.to_checksum_address(B), NATIVE_TOKEN, 10**18)
    with pytest.raises(ChainCallError, match="expected"):
        decode_message_log(RouteKind.DEPOSIT, lockbox, {**log, "address": Web3.to_checksum_address(A)})
    with pytest.raises(ChainCallError, match="undecodable"):
        decode_message_log(RouteKind.DEPOSIT, lockbox, {**log, "topics": [topic0("DepositsProcessed"), *log["topics"][1:]]})

    ledger = Web3().eth.contract(address=Web3.to_checksum_address(C), abi=abi_of("MarginLedger"))
    wlog = _log(ledger.address, [topic0("WithdrawalQueued"), topic(SPOKE), topic(4), topic(A)],
                encode(["address", "address", "uint256", "bytes32"], [B, C, 5, head]))
    wmsg = decode_message_log(RouteKind.WITHDRAWAL, ledger, wlog)
    assert wmsg.nonce == 4 and wmsg.message.recipient == Web3.to_checksum_address(B) and wmsg.message.amount == 5


@pytest.fixture(scope="module")
def setup(anvil_factory):
    """Event-echo contracts as lockbox (spoke 31338) and ledger (hub), and readers for both routes."""
    anvil_factory(SPOKE_PORT, SPOKE)
    anvil_factory(HUB_PORT, HUB)
    clients = {
        cid: ChainClient(ChainConfig(name=name, chain_id=cid, rpc_urls=[f"http://127.0.0.1:{port}"], role=role, log_chunk=4))
        for cid, name, port, role in ((SPOKE, "spoke_a", SPOKE_PORT, "spoke"), (HUB, "hub", HUB_PORT, "hub"))
    }
    addresses = {}
    for cid, client in clients.items():
        tx = client.w3.eth.send_transaction({"from": client.w3.eth.accounts[0], "data": EVENT_ECHO_INIT, "gas": 300_000})
        addresses[cid] = client.w3.eth.wait_for_transaction_receipt(tx, timeout=10)["contractAddress"]
    deployment = Deployment(hub={"chain_id": HUB, "ledger": addresses[HUB]}, spokes={SPOKE: {"lockbox": addresses[SPOKE]}},
                            validators=[A], threshold=1)
    deposit = RouteReader(RouteId(kind=RouteKind.DEPOSIT, source_chain_id=SPOKE, dest_chain_id=HUB), deployment, clients)
    withdrawal = RouteReader(RouteId(kind=RouteKind.WITHDRAWAL, source_chain_id=HUB, dest_chain_id=SPOKE), deployment, clients)
    return {"clients": clients, "addresses": addresses, "deposit": deposit, "withdrawal": withdrawal}


def _emit(client: ChainClient, address: str, topics: list[bytes], data: bytes) -> int:
    w3 = client.w3
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": address, "data": b"".join(topics) + data, "gas": 100_000})
    return w3.eth.wait_for_transaction_receipt(tx, timeout=10)["blockNumber"]


def test_scan_messages_decodes_a_real_deposit_chain(setup):
    spoke, lockbox = setup["clients"][SPOKE], setup["addresses"][SPOKE]
    head, blocks = ZERO_HEAD, []
    for nonce in (1, 2, 3):
        head = extend(head, deposit_leaf(nonce, Web3.to_checksum_address(A), Web3.to_checksum_address(B), NATIVE_TOKEN, nonce * 100))
        data = encode(["address", "uint256", "bytes32"], [NATIVE_TOKEN, nonce * 100, head])
        blocks.append(_emit(spoke, lockbox, [topic0("Deposited"), topic(nonce), topic(A), topic(B)], data))
    reader = setup["deposit"]
    messages = reader.scan_messages(0, spoke.block_number())
    assert [m.nonce for m in messages] == [1, 2, 3] and [m.block_number for m in messages] == blocks
    assert check_chain(ZERO_HEAD, 0, messages) == head
    cp = reader.checkpoint(3, head)
    assert (cp.source_chain_id, cp.source, reader.dest_address) == (SPOKE, lockbox, setup["addresses"][HUB])


def test_scan_messages_keeps_only_its_spoke_withdrawals(setup):
    hub, ledger = setup["clients"][HUB], setup["addresses"][HUB]
    head = extend(ZERO_HEAD, withdrawal_leaf(1, Web3.to_checksum_address(A), Web3.to_checksum_address(B), Web3.to_checksum_address(C), 5))
    data = encode(["address", "address", "uint256", "bytes32"], [B, C, 5, head])
    _emit(hub, ledger, [topic0("WithdrawalQueued"), topic(OTHER), topic(1), topic(A)], data)
    mine = _emit(hub, ledger, [topic0("WithdrawalQueued"), topic(SPOKE), topic(1), topic(A)], data)
    messages = setup["withdrawal"].scan_messages(0, hub.block_number())
    assert [(m.nonce, m.block_number) for m in messages] == [(1, mine)]
    assert check_chain(ZERO_HEAD, 0, messages) == head


def _selector(signature: str, *args: int) -> bytes:
    return function_signature_to_4byte_selector(signature) + b"".join(a.to_bytes(32, "big") for a in args)


def test_state_views_call_the_protocol_functions_at_the_given_block(setup):
    deposit, withdrawal = setup["deposit"], setup["withdrawal"]
    spoke_head = setup["clients"][SPOKE].block_number()
    assert deposit.source_state(spoke_head - 1) == (spoke_head - 1, keccak(_selector("depositRoute()")))
    assert deposit.dest_state() == (setup["clients"][HUB].block_number(), keccak(_selector("depositRoute(uint64)", SPOKE)))
    assert withdrawal.source_state(2) == (2, keccak(_selector("withdrawalRoute(uint64)", SPOKE)))
    assert withdrawal.dest_state(3) == (3, keccak(_selector("withdrawalRoute()")))


def test_block_of_nonce_bisects_source_state(setup):
    reader, head = setup["deposit"], setup["clients"][SPOKE].block_number()
    # The echo's "nonce" is the block number, so the first block reaching nonce n is block n.
    # Block 1 holds the deployment: before it there is no code to call.
    assert [reader.block_of_nonce(n, 1, head) for n in (0, 1, 2, head // 2, head)] == [1, 1, 2, head // 2, head]
    assert reader.block_of_nonce(head + 1, 1, head) is None
    with pytest.raises(ChainCallError, match="depositRoute"):
        reader.source_state(0)
