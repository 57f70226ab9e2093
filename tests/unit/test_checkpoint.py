"""relayer.proofs.checkpoint: EIP-712 encoding cross-checked against eth_account and the reference."""

from __future__ import annotations

from itertools import pairwise

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from pydantic import SecretStr, ValidationError

from relayer.errors import SignatureError
from relayer.proofs.checkpoint import (
    Checkpoint,
    digest,
    pack_signatures,
    recover,
    sign,
    typed_data,
    unpack_signatures,
)

HUB = 31337
LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LOCKBOX = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
CP = Checkpoint(source_chain_id=31338, source=LOCKBOX, nonce=100, head=bytes(range(32)))
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_digest_equals_eth_account_typed_data_hash():
    expected = _hash_eip191_message(encode_typed_data(full_message=typed_data(CP, HUB, LEDGER)))
    assert digest(CP, HUB, LEDGER) == bytes(expected)


def test_every_field_and_the_domain_change_the_digest():
    base = digest(CP, HUB, LEDGER)
    variants = [
        digest(CP.model_copy(update={"nonce": 101}), HUB, LEDGER),
        digest(CP.model_copy(update={"source_chain_id": 31339}), HUB, LEDGER),
        digest(CP.model_copy(update={"source": LEDGER}), HUB, LEDGER),
        digest(CP.model_copy(update={"head": bytes(32)}), HUB, LEDGER),
        digest(CP, HUB + 1, LEDGER),
        digest(CP, HUB, LOCKBOX),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_signature_bytes_match_reference_signer(ref):
    """RFC 6979 signatures are deterministic, so both implementations must give the same bytes."""
    key = ref.VALIDATOR_KEYS[0]
    ours = sign(CP, HUB, LEDGER, key)
    theirs = ref.sign_checkpoint([key], HUB, LEDGER, CP.source_chain_id, CP.source, CP.nonce, CP.head)
    assert ours == theirs and len(ours) == 65 and ours[64] in (27, 28)


def test_packed_blob_matches_reference_for_a_quorum(ref):
    keys = ref.VALIDATOR_KEYS[:5]
    blob = pack_signatures({Account.from_key(k).address: sign(CP, HUB, LEDGER, k) for k in keys})
    assert blob == ref.sign_checkpoint(keys, HUB, LEDGER, CP.source_chain_id, CP.source, CP.nonce, CP.head)
    signers = [recover(CP, HUB, LEDGER, sig) for sig in unpack_signatures(blob)]
    assert [int(a, 16) for a in signers] == sorted(int(a, 16) for a in ref.addresses(keys))
    assert all(int(a, 16) < int(b, 16) for a, b in pairwise(signers))


def test_sign_then_recover_gives_signer_and_only_for_that_domain(ref):
    key = ref.VALIDATOR_KEYS[3]
    address = Account.from_key(key).address
    sig = sign(CP, HUB, LEDGER, SecretStr("0x" + key.hex()))
    assert recover(CP, HUB, LEDGER, sig) == address
    # The same signature replayed for another contract, chain or state names someone else.
    assert recover(CP, HUB, LOCKBOX, sig) != address
    assert recover(CP, 1, LEDGER, sig) != address
    assert recover(CP.model_copy(update={"nonce": 99}), HUB, LEDGER, sig) != address


def test_recover_rejects_malleable_and_malformed_signatures(ref):
    sig = sign(CP, HUB, LEDGER, ref.VALIDATOR_KEYS[1])
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the malleable twin
    with pytest.raises(SignatureError, match="high-s"):
        recover(CP, HUB, LEDGER, high_s)
    with pytest.raises(SignatureError, match="v = 1"):
        recover(CP, HUB, LEDGER, sig[:64] + bytes([v - 27]))
    with pytest.raises(SignatureError, match="length 64"):
        recover(CP, HUB, LEDGER, sig[:64])
    with pytest.raises(SignatureError):
        recover(CP, HUB, LEDGER, bytes(32) + sig[32:])


def test_pack_rejects_duplicate_signer_and_bad_lengths(ref):
    key = ref.VALIDATOR_KEYS[2]
    address = Account.from_key(key).address
    sig = sign(CP, HUB, LEDGER, key)
    with pytest.raises(SignatureError, match="two signatures"):
        pack_signatures({address: sig, address.lower(): sig})
    with pytest.raises(SignatureError):
        pack_signatures({address: sig[:64]})
    with pytest.raises(SignatureError, match="multiple of 65"):
        unpack_signatures(sig + b"\x00")
    assert pack_signatures({}) == b""


def test_checkpoint_model_rejects_out_of_range_fields():
    with pytest.raises(ValidationError):
        Checkpoint(source_chain_id=1, source=LOCKBOX, nonce=2**64, head=bytes(32))
    with pytest.raises(ValidationError):
        Checkpoint(source_chain_id=1, source=LOCKBOX, nonce=1, head=bytes(31))
    for chain_id in (0, 2**64):  # a chain id is a uint64 above 0, as in RouteId
        with pytest.raises(ValidationError, match="source_chain_id"):
            Checkpoint(source_chain_id=chain_id, source=LOCKBOX, nonce=1, head=bytes(32))
    hexed = Checkpoint(source_chain_id=1, source=LOCKBOX.lower(), nonce=1, head="0x" + "ab" * 32)
    assert hexed.head == b"\xab" * 32 and hexed.source == LOCKBOX
    assert Checkpoint.model_validate_json(hexed.model_dump_json()) == hexed
