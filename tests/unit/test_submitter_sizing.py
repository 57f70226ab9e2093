"""Batch sizing by gas (relayer.submitter.sizing): the destination block's gas limit bounds a batch."""

from __future__ import annotations

from relayer.submitter.sizing import BATCH_BASE_GAS, MESSAGE_GAS, BatchSizer, quorum_window
from relayer.types import MAX_BATCH, ChainId, RouteId, RouteKind

DEPOSIT = RouteId(kind=RouteKind.DEPOSIT, source_chain_id=ChainId(31338), dest_chain_id=ChainId(31337))
WITHDRAWAL = RouteId(kind=RouteKind.WITHDRAWAL, source_chain_id=ChainId(31337), dest_chain_id=ChainId(31338))


def test_cap_is_the_gas_share_over_the_worst_message() -> None:
    sizer = BatchSizer(block_gas_share=0.4, ceiling=1000)
    expected = (12_000_000 - BATCH_BASE_GAS) // MESSAGE_GAS[RouteKind.DEPOSIT]
    assert sizer.cap(DEPOSIT, 30_000_000) == expected > MAX_BATCH  # 396 deposits in 40% of 30M
    assert sizer.cap(WITHDRAWAL, 30_000_000) < expected  # releases cost more per message


def test_cap_respects_the_ceiling_and_never_drops_below_one() -> None:
    assert BatchSizer(block_gas_share=1.0, ceiling=150).cap(DEPOSIT, 30_000_000) == 150
    assert BatchSizer(block_gas_share=0.01, ceiling=1000).cap(DEPOSIT, 1_000_000) == 1


def test_observed_batches_raise_the_per_message_figure_never_lower_it() -> None:
    sizer = BatchSizer(block_gas_share=0.4, ceiling=1000)
    before = sizer.cap(DEPOSIT, 30_000_000)
    sizer.observe(DEPOSIT, BATCH_BASE_GAS + 100 * 11_000, 100)  # existing balances: cheaper, ignored
    assert sizer.cap(DEPOSIT, 30_000_000) == before
    sizer.observe(DEPOSIT, BATCH_BASE_GAS + 100 * 40_000, 100)  # dearer than assumed: learned
    assert sizer.per_message(DEPOSIT) == 40_000
    assert sizer.cap(DEPOSIT, 30_000_000) == (12_000_000 - BATCH_BASE_GAS) // 40_000
    sizer.observe(DEPOSIT, BATCH_BASE_GAS + 5 * 90_000, 5)  # too small a batch to say
    assert sizer.per_message(DEPOSIT) == 40_000
    assert sizer.per_message(WITHDRAWAL) == MESSAGE_GAS[RouteKind.WITHDRAWAL]  # per route


def test_quorum_window_never_below_the_validators_spacing() -> None:
    assert quorum_window(10) == MAX_BATCH
    assert quorum_window(400) == 400


def test_a_batch_behind_one_in_flight_gets_its_worst_case_gas() -> None:
    sizer = BatchSizer(block_gas_share=0.4, ceiling=1000)
    assert sizer.gas_limit(DEPOSIT, 10) == 120_000 + 10 * 30_000
    sizer.observe(DEPOSIT, 120_000 + 50 * 40_000, 50)  # batches turned out dearer: budgeted higher
    assert sizer.gas_limit(DEPOSIT, 10) == 120_000 + 10 * 40_000
    # the largest batch the cap allows still fits the block share it was sized for
    cap = sizer.cap(DEPOSIT, 30_000_000)
    assert sizer.gas_limit(DEPOSIT, cap) <= 0.4 * 30_000_000
