"""Checkpoint nonce selection: block boundaries plus every multiple of MAX_BATCH."""

from __future__ import annotations

import pytest

from relayer.types import MAX_BATCH
from relayer.validator.selection import checkpoint_nonces


def test_last_nonce_of_each_block_is_chosen() -> None:
    messages = [(1, 10), (2, 10), (3, 11), (4, 13), (5, 13), (6, 13)]
    assert checkpoint_nonces(messages) == [2, 3, 6]


def test_multiples_of_max_batch_are_chosen_inside_a_block() -> None:
    messages = [(n, 50) for n in range(95, 260)]
    assert checkpoint_nonces(messages) == [100, 200, 259]


def test_multiple_that_ends_a_block_appears_once() -> None:
    messages = [(99, 1), (100, 1), (101, 2)]
    assert checkpoint_nonces(messages, max_batch=MAX_BATCH) == [100, 101]


def test_every_window_of_max_batch_holds_a_checkpoint() -> None:
    messages = [(n, 7) for n in range(1, 1001)]  # one huge block
    chosen = checkpoint_nonces(messages, max_batch=100)
    for p in range(1000):
        assert any(p < n <= p + 100 for n in chosen), p


def test_empty_and_invalid_inputs() -> None:
    assert checkpoint_nonces([]) == []
    with pytest.raises(ValueError):
        checkpoint_nonces([(0, 1)])
    with pytest.raises(ValueError):
        checkpoint_nonces([(1, 1)], max_batch=0)


def test_all_validators_choose_the_same_nonces_regardless_of_scan_windows() -> None:
    messages = [(n, 10 + n // 3) for n in range(1, 250)]
    whole = checkpoint_nonces(messages)
    split = checkpoint_nonces(messages[:59]) + checkpoint_nonces(messages[59:])
    # windows cut at a block boundary give the same set (scans always stop at block ends)
    assert messages[58][1] != messages[59][1]
    assert sorted(set(split)) == whole
