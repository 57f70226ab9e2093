"""Receipt trie proofs: rebuild a block's receiptsRoot from RPC receipts, prove and verify inclusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import rlp
from eth_utils import keccak, to_checksum_address
from rlp.exceptions import RLPException
from trie import HexaryTrie
from trie.exceptions import InvalidNode, MissingTrieNode, ValidationError as TrieValidationError

from relayer.errors import ReceiptProofError

EMPTY_TRIE_ROOT = keccak(rlp.encode(b""))
_LEGACY_TYPE = 0


class ReceiptLog(NamedTuple):
    """One log of a receipt: emitting contract, topics, data."""

    address: str
    topics: list[bytes]
    data: bytes


def _int(value: Any) -> int:
    """An RPC quantity (hex string or int) as int."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _bytes(value: Any) -> bytes:
    """An RPC data field (0x-hex string or bytes) as bytes."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def encode_receipt(receipt: Mapping[str, Any]) -> bytes:
    """Consensus encoding of an RPC receipt: [type byte ||] rlp([status, cumulativeGasUsed, logsBloom, logs])."""
    logs = [
        [_bytes(log["address"]), [_bytes(t) for t in log["topics"]], _bytes(log["data"])]
        for log in receipt["logs"]
    ]
    body: bytes = rlp.encode(
        [_int(receipt["status"]), _int(receipt["cumulativeGasUsed"]), _bytes(receipt["logsBloom"]), logs]
    )
    tx_type = _int(receipt.get("type", _LEGACY_TYPE))
    return body if tx_type == _LEGACY_TYPE else bytes([tx_type]) + body


def _key(index: int) -> bytes:
    """Trie key of transaction `index`: rlp(index)."""
    key: bytes = rlp.encode(index)
    return key


def build_receipts_trie(receipts: Sequence[Mapping[str, Any]]) -> tuple[bytes, HexaryTrie]:
    """(receiptsRoot, trie) of one block's receipts, given in transaction-index order."""
    trie = HexaryTrie(db={})
    for position, receipt in enumerate(receipts):
        if "transactionIndex" in receipt and _int(receipt["transactionIndex"]) != position:
            raise ReceiptProofError(position, f"receipt has transactionIndex {receipt['transactionIndex']}")
        trie[_key(position)] = encode_receipt(receipt)
    return bytes(trie.root_hash), trie


def receipt_proof(receipts: Sequence[Mapping[str, Any]], index: int) -> list[bytes]:
    """RLP-encoded trie nodes proving receipt `index` (root node first)."""
    if not 0 <= index < len(receipts):
        raise ReceiptProofError(index, f"block has {len(receipts)} receipts")
    _, trie = build_receipts_trie(receipts)
    return trie_proof(trie, index)


def trie_proof(trie: HexaryTrie, index: int) -> list[bytes]:
    """Proof of receipt `index` from an already built trie: build once per block, prove many."""
    return [rlp.encode(node) for node in trie.get_proof(_key(index))]


def verify_receipt_proof(receipts_root: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    """The encoded receipt at `index` under `receipts_root`; ReceiptProofError if the proof fails."""
    nodes = {keccak(node): bytes(node) for node in proof}
    if bytes(receipts_root) not in nodes:
        raise ReceiptProofError(index, "proof does not contain the root node")
    try:
        value = HexaryTrie(nodes, root_hash=bytes(receipts_root)).get(_key(index))
    except MissingTrieNode as err:
        raise ReceiptProofError(index, f"proof lacks node {err.missing_node_hash.hex()}") from err
    except (InvalidNode, TrieValidationError, RLPException, ValueError, TypeError, IndexError) as err:
        raise ReceiptProofError(index, f"malformed proof node: {err}") from err
    if not value:
        raise ReceiptProofError(index, "no receipt at this index under the root")
    return bytes(value)


def decode_receipt_logs(encoded: bytes) -> list[ReceiptLog]:
    """The logs of a consensus-encoded receipt (typed or legacy)."""
    body = encoded[1:] if encoded and encoded[0] < 0x80 else encoded
    try:
        _status, _gas, _bloom, logs = rlp.decode(body)
        return [
            ReceiptLog(to_checksum_address(address), [bytes(t) for t in topics], bytes(data))
            for address, topics, data in logs
        ]
    except (RLPException, ValueError, TypeError) as err:
        raise ReceiptProofError(-1, f"receipt does not decode: {err}") from err
