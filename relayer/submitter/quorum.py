"""Pick the checkpoint to deliver from published signatures (pure: recovery is off-chain maths)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pydantic import BaseModel, ConfigDict

from relayer.errors import SignatureError
from relayer.proofs.checkpoint import Checkpoint, pack_signatures, recover
from relayer.types import Address, Bytes32, ChainId, Nonce, checksum, to_bytes32

SignatureBook = Mapping[int, Mapping[bytes, Mapping[str, bytes]]]
"""nonce -> head -> claimed validator -> 65-byte signature (as the store returns them)."""


class QuorumChoice(BaseModel):
    """A checkpoint with exactly `threshold` valid signatures, packed for the destination."""

    model_config = ConfigDict(frozen=True)

    checkpoint: Checkpoint
    signers: tuple[Address, ...]
    """Exactly `threshold` distinct validators, ascending by address."""
    signatures: bytes
    """Their signatures concatenated in the same order."""

    @property
    def nonce(self) -> Nonce:
        """Checkpoint nonce: the last nonce the batch delivers."""
        return Nonce(self.checkpoint.nonce)

    @property
    def head(self) -> Bytes32:
        """Checkpoint head."""
        return self.checkpoint.head


def valid_signers(
    checkpoint: Checkpoint,
    signatures: Mapping[str, bytes],
    validators: Iterable[str],
    dest_chain_id: int,
    dest_contract: str,
) -> dict[str, bytes]:
    """Recovered signer -> signature for the signatures that recover to a current validator.

    The claimed validator name is ignored: only the recovered address counts, so a forged label,
    a signature for another checkpoint, contract or chain, or a malleable one is dropped."""
    members = {checksum(v) for v in validators}
    out: dict[str, bytes] = {}
    for sig in signatures.values():
        try:
            signer = recover(checkpoint, ChainId(dest_chain_id), dest_contract, bytes(sig))
        except SignatureError:
            continue
        if signer in members:
            out[signer] = bytes(sig)
    return out


def quorum_candidates(
    book: SignatureBook,
    *,
    processed_nonce: int,
    max_batch: int,
    validators: Iterable[str],
    threshold: int,
    source_chain_id: int,
    source: str,
    dest_chain_id: int,
    dest_contract: str,
) -> Iterator[QuorumChoice]:
    """Checkpoints in (processed, processed + max_batch] whose one head has >= threshold valid
    signatures of distinct current validators, highest nonce first (heads ascending on a tie)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    members = [checksum(v) for v in validators]
    window = range(processed_nonce + 1, processed_nonce + max_batch + 1)
    for nonce in sorted((n for n in book if n in window), reverse=True):
        for head, signatures in sorted(book[nonce].items()):
            cp = Checkpoint(source_chain_id=ChainId(source_chain_id), source=source, nonce=nonce, head=to_bytes32(head))
            good = valid_signers(cp, signatures, members, dest_chain_id, dest_contract)
            if len(good) < threshold:
                continue
            chosen = sorted(good, key=lambda a: int(a, 16))[:threshold]
            picked = {a: good[a] for a in chosen}
            yield QuorumChoice(checkpoint=cp, signers=tuple(chosen), signatures=pack_signatures(picked))


def select_quorum(
    book: SignatureBook,
    *,
    processed_nonce: int,
    max_batch: int,
    validators: Iterable[str],
    threshold: int,
    source_chain_id: int,
    source: str,
    dest_chain_id: int,
    dest_contract: str,
) -> QuorumChoice | None:
    """The best candidate of `quorum_candidates` (highest nonce), or None if none has a quorum."""
    candidates = quorum_candidates(
        book,
        processed_nonce=processed_nonce,
        max_batch=max_batch,
        validators=validators,
        threshold=threshold,
        source_chain_id=source_chain_id,
        source=source,
        dest_chain_id=dest_chain_id,
        dest_contract=dest_contract,
    )
    return next(candidates, None)


def within_batch(candidates: Iterable[QuorumChoice], processed: int, max_batch: int) -> Iterator[QuorumChoice]:
    """The candidates (highest first) that keep the batch within `max_batch`; if none does, the
    smallest one: validators only promise a checkpoint every MAX_BATCH nonces and at block ends, so
    a smaller configured batch must give way rather than stall the route. Lazy: signatures of
    nonces below the first fitting candidate are only recovered if that one is refused."""
    smallest_too_big: QuorumChoice | None = None
    fitted = False
    for choice in candidates:
        if choice.nonce - processed <= max_batch:
            fitted = True
            yield choice
        else:
            smallest_too_big = choice
    if not fitted and smallest_too_big is not None:
        yield smallest_too_big
