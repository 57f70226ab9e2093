"""Which nonces a validator signs (pure): block boundaries and every multiple of MAX_BATCH.

All honest validators derive the same set from the same finalized chain, so their signatures
meet on the same checkpoints, and for any processed nonce p a checkpoint exists in (p, p+MAX_BATCH].
"""

from __future__ import annotations

from collections.abc import Iterable

from relayer.types import MAX_BATCH


def checkpoint_nonces(messages: Iterable[tuple[int, int]], max_batch: int = MAX_BATCH) -> list[int]:
    """Nonces to sign among `(nonce, block_number)` pairs: the last nonce of every block holding
    messages, plus every nonce that is a multiple of `max_batch`; ascending, without repeats."""
    if max_batch <= 0:
        raise ValueError(f"max_batch must be positive, got {max_batch}")
    last_of_block: dict[int, int] = {}
    chosen: set[int] = set()
    for nonce, block in messages:
        if nonce <= 0:
            raise ValueError(f"nonces start at 1, got {nonce}")
        last_of_block[block] = max(nonce, last_of_block.get(block, 0))
        if nonce % max_batch == 0:
            chosen.add(nonce)
    chosen.update(last_of_block.values())
    return sorted(chosen)
