"""relayer.proofs.receipts against a real anvil block (several tx types, logs, a revert) and fuzzed tries."""

from __future__ import annotations

import random

import pytest
import rlp
from web3 import Web3

from relayer.errors import ReceiptProofError
from relayer.proofs.receipts import (
    EMPTY_TRIE_ROOT,
    build_receipts_trie,
    decode_receipt_logs,
    encode_receipt,
    receipt_logs,
    receipt_proof,
    receipts_root,
    rlp_encode,
    verify_receipt_proof,
)

# Runtime: copy calldata to memory, LOG2(topic0 = 0xaa, topic1 = caller, data = calldata), stop.
EMITTER_INIT = "0x600e600c600039600e6000f3" + "3660006000373360aa366000a200"
# Runtime: revert(0, 0).
REVERTER_INIT = "0x6005600c60003960056000f3" + "60006000fd"
GAS = 100_000


def _deploy(w3: Web3, sender: str, init_code: str) -> str:
    tx_hash = w3.eth.send_transaction({"from": sender, "data": init_code, "gas": 200_000})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["contractAddress"]


@pytest.fixture(scope="module")
def mined_block(anvil_url):
    """One block holding legacy, EIP-2930 and EIP-1559 txs, two with logs and one that reverts."""
    w3 = Web3(Web3.HTTPProvider(anvil_url))
    accounts = w3.eth.accounts
    emitter = _deploy(w3, accounts[0], EMITTER_INIT)
    reverter = _deploy(w3, accounts[0], REVERTER_INIT)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [
            {"from": accounts[1], "to": accounts[2], "value": 1, "gas": 21_000, "gasPrice": 2 * base_fee, "type": 0},
            {"from": accounts[2], "to": emitter, "data": "0x" + "ab" * 40, "gas": GAS,
             "maxFeePerGas": 3 * base_fee, "maxPriorityFeePerGas": 1, "type": 2},
            {"from": accounts[3], "to": emitter, "data": "0x01", "gas": GAS, "gasPrice": 2 * base_fee,
             "accessList": [{"address": emitter, "storageKeys": ["0x" + "00" * 32]}], "type": 1},
            {"from": accounts[4], "to": reverter, "gas": GAS, "maxFeePerGas": 3 * base_fee,
             "maxPriorityFeePerGas": 1, "type": 2},
            {"from": accounts[5], "to": accounts[1], "value": 7, "gas": 21_000, "gasPrice": 2 * base_fee, "type": 0},
        ]
        hashes = [w3.eth.send_transaction(tx) for tx in txs]
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    receipt = w3.eth.wait_for_transaction_receipt(hashes[0], timeout=10)
    block = w3.eth.get_block(receipt["blockNumber"])
    raw = w3.provider.make_request("eth_getBlockReceipts", [hex(block["number"])])["result"]
    return {"w3": w3, "block": block, "raw": raw, "hashes": hashes, "emitter": emitter, "senders": accounts}


def test_block_holds_all_txs_of_several_types(mined_block):
    raw, hashes = mined_block["raw"], mined_block["hashes"]
    assert len(raw) == len(hashes) == len(mined_block["block"]["transactions"])
    assert {int(r["type"], 16) for r in raw} == {0, 1, 2}
    assert sorted(int(r["status"], 16) for r in raw) == [0, 1, 1, 1, 1]
    assert sum(len(r["logs"]) for r in raw) == 2


def test_rebuilt_trie_root_equals_block_receipts_root(mined_block):
    root, _ = build_receipts_trie(mined_block["raw"])
    assert root == bytes(mined_block["block"]["receiptsRoot"])
    # web3's decoded receipts (HexBytes, ints) encode identically to the raw JSON ones.
    decoded = mined_block["w3"].eth.get_block_receipts(mined_block["block"]["number"])
    assert [encode_receipt(r) for r in decoded] == [encode_receipt(r) for r in mined_block["raw"]]


def test_every_receipt_proves_and_logs_decode(mined_block):
    raw, root = mined_block["raw"], bytes(mined_block["block"]["receiptsRoot"])
    for index, receipt in enumerate(raw):
        proof = receipt_proof(raw, index)
        assert verify_receipt_proof(root, index, proof) == encode_receipt(receipt)
    tx_index = next(i for i, r in enumerate(raw) if r["logs"] and int(r["type"], 16) == 2)
    logs = decode_receipt_logs(verify_receipt_proof(root, tx_index, receipt_proof(raw, tx_index)))
    sender = raw[tx_index]["from"]
    assert logs == [
        (mined_block["emitter"], [(0xAA).to_bytes(32, "big"), bytes(12) + bytes.fromhex(sender[2:])], b"\xab" * 40)
    ]


def test_tampered_proof_or_wrong_index_or_root_is_rejected(mined_block):
    raw, root = mined_block["raw"], bytes(mined_block["block"]["receiptsRoot"])
    proof = receipt_proof(raw, 1)
    last = bytearray(proof[-1])
    last[-5] ^= 0x01  # flip one bit inside the receipt bytes
    with pytest.raises(ReceiptProofError):
        verify_receipt_proof(root, 1, [*proof[:-1], bytes(last)])
    with pytest.raises(ReceiptProofError):
        verify_receipt_proof(root, 2, proof)
    with pytest.raises(ReceiptProofError):
        verify_receipt_proof(root, 1, proof[:-1])
    with pytest.raises(ReceiptProofError, match="root node"):
        verify_receipt_proof(bytes(mined_block["block"]["parentHash"]), 1, proof)
    with pytest.raises(ReceiptProofError, match="lacks node"):
        verify_receipt_proof(root, len(raw) + 3, receipt_proof(raw, 0))
    _, trie = build_receipts_trie(raw)
    absence = [rlp.encode(node) for node in trie.get_proof(rlp.encode(len(raw) + 3))]
    with pytest.raises(ReceiptProofError, match="no receipt at this index"):
        verify_receipt_proof(root, len(raw) + 3, absence)
    with pytest.raises(ReceiptProofError, match="5 receipts"):
        receipt_proof(raw, 5)


def test_receipts_out_of_order_are_refused(mined_block):
    raw = mined_block["raw"]
    with pytest.raises(ReceiptProofError, match="transactionIndex"):
        build_receipts_trie([raw[1], raw[0], *raw[2:]])


def _fake_receipt(rng: random.Random, index: int) -> dict:
    logs = [
        {
            "address": "0x" + rng.randbytes(20).hex(),
            "topics": ["0x" + rng.randbytes(32).hex()],
            "data": "0x" + rng.randbytes(rng.randrange(70)).hex(),
        }
        for _ in range(rng.randrange(3))
    ]
    return {
        "type": hex(rng.choice([0, 1, 2, 3, 4])), "status": hex(rng.randrange(2)), "transactionIndex": hex(index),
        "cumulativeGasUsed": hex(21_000 * (index + 1)), "logsBloom": "0x" + rng.randbytes(256).hex(), "logs": logs,
    }


@pytest.mark.parametrize("count", [1, 2, 17, 130])
def test_fuzzed_blocks_prove_every_index(count):
    rng = random.Random(count)
    receipts = [_fake_receipt(rng, i) for i in range(count)]
    root, _ = build_receipts_trie(receipts)
    for index in rng.sample(range(count), min(count, 20)):
        encoded = verify_receipt_proof(root, index, receipt_proof(receipts, index))
        assert encoded == encode_receipt(receipts[index])
        expected = [lg["data"][2:] for lg in receipts[index]["logs"]]
        assert [lg.data.hex() for lg in decode_receipt_logs(encoded)] == expected


def test_empty_block_root():
    assert build_receipts_trie([])[0] == EMPTY_TRIE_ROOT


@pytest.mark.parametrize("count", [0, 1, 2, 3, 15, 16, 17, 127, 128, 129, 130, 300])
def test_receipts_root_equals_the_trie_root(count):
    """The database-free root the validators use is the root of py-trie's HexaryTrie, around the
    key lengths where rlp(index) and the trie's shape change (1 byte below 128, 2 above)."""
    rng = random.Random(1000 + count)
    receipts = [_fake_receipt(rng, i) for i in range(count)]
    assert receipts_root(receipts) == build_receipts_trie(receipts)[0]


def test_receipts_root_refuses_receipts_out_of_order():
    rng = random.Random(7)
    receipts = [_fake_receipt(rng, i) for i in range(3)]
    with pytest.raises(ReceiptProofError, match="transactionIndex"):
        receipts_root([receipts[1], receipts[0], receipts[2]])


@pytest.mark.parametrize(
    "value",
    [0, 1, 127, 128, 255, 256, 2**64, b"", b"\x00", b"\x7f", b"\x80", b"x" * 55, b"x" * 56, b"x" * 300, [],
     [b"", [1, [b"a" * 60] * 5]], [[[]]]],
)
def test_rlp_encode_matches_pyrlp(value):
    assert rlp_encode(value) == rlp.encode(value)


def test_receipt_logs_are_what_the_encoding_commits_to():
    rng = random.Random(3)
    receipt = _fake_receipt(rng, 0)
    receipt["logs"] = [{"address": "0x" + rng.randbytes(20).hex(), "topics": ["0x" + rng.randbytes(32).hex()],
                        "data": "0x" + rng.randbytes(40).hex()}]
    assert receipt_logs(receipt) == decode_receipt_logs(encode_receipt(receipt))
