"""SignerSet's assembly ecrecover held against OpenZeppelin's `ECDSA.tryRecover` (both exposed by
contracts/test/verification/SignerSetHarness.sol, called on anvil): for random digests and keys,
their high-s twins, every v, random bytes and wrong lengths, both must return the same signer, and
zero exactly where OpenZeppelin reports an error. Fixed-input cases sit beside the fuzzed ones."""

import pytest
from brownie import SignerSetHarness
from eth_keys import keys
from hypothesis import HealthCheck, given, settings, strategies as st

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x0000000000000000000000000000000000000000"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

private_keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)


@pytest.fixture(scope="module")
def harness(accounts):
    return SignerSetHarness.deploy({"from": accounts[0]})


def _sign(digest: bytes, key: bytes) -> tuple[bytes, str]:
    private = keys.PrivateKey(key)
    signature = private.sign_msg_hash(digest)
    r, s, v = signature.r, signature.s, signature.v + 27  # eth_keys signs low-s
    packed = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    return packed, private.public_key.to_checksum_address()


def _high_s_twin(signature: bytes) -> bytes:
    """The same point with s' = n - s and the other v: valid for the raw precompile, malleable."""
    s = int.from_bytes(signature[32:64], "big")
    v = 55 - signature[64]  # 27 <-> 28
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v])


def _agree(harness, digest: bytes, signature: bytes) -> str:
    ours = harness.recoverAssembly(digest, signature)
    oz_signer, oz_error = harness.recoverOpenZeppelin(digest, signature)
    assert ours == oz_signer, (signature.hex(), ours, oz_signer, oz_error)
    assert (ours == ZERO) == (oz_error != 0), (signature.hex(), ours, oz_error)
    if len(signature) == 65:
        assert harness.recoverPackedAssembly(digest, signature, 0) == ours
    return ours


@FUZZ
@given(digest=digests, key=private_keys)
def test_valid_signatures_recover_the_signer_as_openzeppelin_does(harness, digest, key):
    signature, signer = _sign(digest, key)
    assert _agree(harness, digest, signature) == signer


@FUZZ
@given(digest=digests, key=private_keys)
def test_high_s_twins_are_rejected_as_openzeppelin_does(harness, digest, key):
    signature, _ = _sign(digest, key)
    assert _agree(harness, digest, _high_s_twin(signature)) == ZERO


@FUZZ
@given(digest=digests, key=private_keys, v=st.integers(0, 255))
def test_every_v_agrees_with_openzeppelin(harness, digest, key, v):
    signature, signer = _sign(digest, key)
    recovered = _agree(harness, digest, signature[:64] + bytes([v]))
    if v not in (27, 28):
        assert recovered == ZERO
    elif v == signature[64]:
        assert recovered == signer


@FUZZ
@given(digest=digests, signature=st.binary(min_size=0, max_size=130))
def test_random_bytes_and_wrong_lengths_agree_with_openzeppelin(harness, digest, signature):
    recovered = _agree(harness, digest, signature)
    if len(signature) != 65:
        assert recovered == ZERO


@FUZZ
@given(
    digest=digests,
    r=st.sampled_from([0, 1, SECP256K1_N - 1, SECP256K1_N, 2**256 - 1]),
    s=st.sampled_from([0, 1, SECP256K1_N // 2, SECP256K1_N // 2 + 1, SECP256K1_N - 1, 2**256 - 1]),
    v=st.sampled_from([0, 1, 27, 28, 29]),
)
def test_edge_values_of_r_s_v_agree_with_openzeppelin(harness, digest, r, s, v):
    _agree(harness, digest, r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v]))


def test_fixed_signature_its_twin_and_truncations(harness):
    digest = bytes(range(32))
    signature, signer = _sign(digest, (7).to_bytes(32, "big"))
    assert _agree(harness, digest, signature) == signer
    assert _agree(harness, digest, _high_s_twin(signature)) == ZERO
    assert _agree(harness, digest, signature[:64]) == ZERO
    assert _agree(harness, digest, signature + b"\x00") == ZERO
    assert _agree(harness, digest, b"") == ZERO


def _verify(harness, digest, blob, members, threshold) -> tuple[int, int]:
    outcome, index = harness.verify.call(digest, blob, members, threshold)
    return int(outcome), int(index)


def test_verify_reports_each_failure_with_its_index(harness):
    digest = bytes(32)
    signed = sorted((_sign(digest, (k).to_bytes(32, "big")) for k in range(1, 5)), key=lambda x: int(x[1], 16))
    members = [signer for _, signer in signed]
    blob = b"".join(sig for sig, _ in signed)
    assert _verify(harness, digest, blob, members, 4) == (0, 0)  # verified
    assert _verify(harness, digest, blob[:-1], members, 4) == (1, len(blob) - 1)  # malformed
    assert _verify(harness, digest, blob[:130], members, 3) == (2, 2)  # quorum not met
    assert _verify(harness, digest, blob, members, 0) == (2, 4)  # a threshold of 0 never passes
    assert _verify(harness, digest, blob[:65] + _high_s_twin(blob[65:130]), members, 2) == (3, 1)  # invalid
    assert _verify(harness, digest, blob[65:130] + blob[:65], members, 2) == (4, 1)  # not ascending
    assert _verify(harness, digest, blob, members[:3], 2) == (5, 3)  # last signer not a member
