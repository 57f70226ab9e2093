"""Quorum selection over published signatures: threshold, one head, distinct members, packing."""

from __future__ import annotations

from eth_account import Account
from eth_utils import keccak

from relayer.proofs.checkpoint import Checkpoint, recover, sign, unpack_signatures
from relayer.submitter.quorum import quorum_candidates
from relayer.submitter.service import within_batch

KEYS = [keccak(text=f"xmargin-test-validator-{i}") for i in range(5)]
ADDRS = [Account.from_key(k).address for k in KEYS]
OUTSIDER = keccak(text="not-a-validator")
SOURCE_CHAIN, SOURCE = 31338, "0x1111111111111111111111111111111111111111"
DEST_CHAIN, DEST = 31337, "0x2222222222222222222222222222222222222222"
HEAD_A, HEAD_B = b"\xaa" * 32, b"\xbb" * 32


def cp(nonce: int, head: bytes) -> Checkpoint:
    return Checkpoint(source_chain_id=SOURCE_CHAIN, source=SOURCE, nonce=nonce, head=head)


def sig(key: bytes, nonce: int, head: bytes, *, dest: str = DEST, dest_chain: int = DEST_CHAIN) -> bytes:
    return sign(cp(nonce, head), dest_chain, dest, key)


def choose(book, processed: int = 0, max_batch: int = 100, threshold: int = 3, validators=ADDRS[:4]):
    candidates = quorum_candidates(
        book,
        processed_nonce=processed,
        max_batch=max_batch,
        validators=validators,
        threshold=threshold,
        source_chain_id=SOURCE_CHAIN,
        source=SOURCE,
        dest_chain_id=DEST_CHAIN,
        dest_contract=DEST,
    )
    return next(candidates, None)  # the highest nonce with a quorum, as the submitter takes it


def entries(keys, nonce: int, head: bytes) -> dict[str, bytes]:
    return {Account.from_key(k).address: sig(k, nonce, head) for k in keys}


def test_highest_nonce_with_quorum_wins_and_packs_exactly_threshold_ascending() -> None:
    book = {
        5: {HEAD_A: entries(KEYS[:4], 5, HEAD_A)},
        9: {HEAD_B: entries(KEYS[:4], 9, HEAD_B)},
        12: {HEAD_A: entries(KEYS[:2], 12, HEAD_A)},  # below threshold
    }
    choice = choose(book)
    assert choice is not None and choice.nonce == 9 and choice.head == HEAD_B
    assert len(choice.signers) == 3
    assert list(choice.signers) == sorted(choice.signers, key=lambda a: int(a, 16))
    blobs = unpack_signatures(choice.signatures)
    assert [recover(cp(9, HEAD_B), DEST_CHAIN, DEST, b) for b in blobs] == list(choice.signers)


def test_signatures_over_different_heads_do_not_add_up() -> None:
    split = {**entries(KEYS[:2], 4, HEAD_A)}
    book = {4: {HEAD_A: split, HEAD_B: entries(KEYS[2:4], 4, HEAD_B)}}
    assert choose(book) is None


def test_duplicates_and_relabelled_signatures_count_once() -> None:
    one = sig(KEYS[0], 3, HEAD_A)
    book = {3: {HEAD_A: {ADDRS[0]: one, ADDRS[1]: one, ADDRS[2]: sig(KEYS[2], 3, HEAD_A)}}}
    assert choose(book) is None
    book[3][HEAD_A][ADDRS[3]] = sig(KEYS[3], 3, HEAD_A)
    assert choose(book).signers == tuple(sorted([ADDRS[0], ADDRS[2], ADDRS[3]], key=lambda a: int(a, 16)))


def test_bad_signatures_are_ignored() -> None:
    good = entries(KEYS[:2], 7, HEAD_A)
    wrong_contract = sig(KEYS[2], 7, HEAD_A, dest="0x3333333333333333333333333333333333333333")
    wrong_chain = sig(KEYS[3], 7, HEAD_A, dest_chain=1)
    malformed = b"\x00" * 64
    high_s = bytearray(sig(KEYS[2], 7, HEAD_A))
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(high_s[32:64], "big")
    high_s[32:64] = (n - s).to_bytes(32, "big")
    high_s[64] = 55 - high_s[64]  # flip v with s: same signer, malleable form
    outsider = sig(OUTSIDER, 7, HEAD_A)
    book = {
        7: {
            HEAD_A: {
                **good,
                ADDRS[2]: wrong_contract,
                ADDRS[3]: wrong_chain,
                "x": malformed,
                "y": bytes(high_s),
                Account.from_key(OUTSIDER).address: outsider,
            }
        }
    }
    assert choose(book) is None
    book[7][HEAD_A][ADDRS[3]] = sig(KEYS[3], 7, HEAD_A)
    assert choose(book).nonce == 7


def test_signer_outside_the_current_set_does_not_count() -> None:
    book = {2: {HEAD_A: entries(KEYS[2:5], 2, HEAD_A)}}
    assert choose(book, validators=ADDRS[:3]) is None  # only KEYS[2] is a member
    assert choose(book, validators=ADDRS[2:5]).nonce == 2


def test_window_is_processed_exclusive_to_processed_plus_max_batch() -> None:
    book = {n: {HEAD_A: entries(KEYS[:3], n, HEAD_A)} for n in (10, 20, 111)}
    assert choose(book, processed=10, max_batch=100).nonce == 20  # 10 is done, 111 too far
    assert choose(book, processed=11, max_batch=100).nonce == 111
    assert choose(book, processed=111, max_batch=100) is None


def _candidates(book, processed: int = 0):
    return quorum_candidates(
        book, processed_nonce=processed, max_batch=100, validators=ADDRS[:4], threshold=3,
        source_chain_id=SOURCE_CHAIN, source=SOURCE, dest_chain_id=DEST_CHAIN, dest_contract=DEST,
    )


def test_submitter_batch_limit_prefers_fitting_checkpoints_and_never_stalls() -> None:
    book = {n: {HEAD_A: entries(KEYS[:3], n, HEAD_A)} for n in (30, 60, 90)}
    assert [c.nonce for c in within_batch(_candidates(book), 0, 100)] == [90, 60, 30]
    assert [c.nonce for c in within_batch(_candidates(book), 0, 60)] == [60, 30]
    # nothing within 20: the smallest signed batch is taken rather than waiting forever
    assert [c.nonce for c in within_batch(_candidates(book), 0, 20)] == [30]
    assert list(within_batch(_candidates({}), 0, 20)) == []
