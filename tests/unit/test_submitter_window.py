"""relayer.submitter.window: the bookkeeping of batches in flight and what a receipt means for the
batches behind it (pure: no chain, no Redis)."""

from __future__ import annotations

import pytest

from relayer.submitter.window import Outcome, Window, classify


def test_a_mined_batch_is_delivered_whatever_the_chain_says_later() -> None:
    assert classify(1, nonce_mismatch=False, processed_now=0, last=10) is Outcome.DELIVERED
    assert classify(1, nonce_mismatch=True, processed_now=99, last=10) is Outcome.DELIVERED


def test_a_revert_counts_as_delivered_by_another_only_if_the_chain_covers_the_batch() -> None:
    assert classify(0, nonce_mismatch=True, processed_now=10, last=10) is Outcome.DELIVERED_BY_OTHER
    assert classify(0, nonce_mismatch=True, processed_now=15, last=10) is Outcome.DELIVERED_BY_OTHER
    # the chain is short of the batch: its predecessor never applied; its messages are still owed
    assert classify(0, nonce_mismatch=True, processed_now=4, last=10) is Outcome.FAILED
    # any other revert (out of gas, a refused signature) leaves the messages owed too
    assert classify(0, nonce_mismatch=False, processed_now=10, last=10) is Outcome.FAILED


def test_batches_are_sent_back_to_back_up_to_the_window_and_must_continue_it() -> None:
    window: Window[str] = Window(base=4, size=3)
    assert window.next_first == 5 and window.empty
    window.sent(5, 7, "a", simulated=True)
    window.sent(8, 8, "b", simulated=False)
    with pytest.raises(ValueError):
        window.sent(10, 12, "gap", simulated=False)  # must start at 9
    with pytest.raises(ValueError):
        window.sent(8, 9, "overlap", simulated=False)
    window.sent(9, 12, "c", simulated=False)
    assert not window.can_send() and window.next_first == 13
    with pytest.raises(ValueError):
        window.sent(13, 13, "full", simulated=False)
    assert [b.data for b in window.batches] == ["a", "b", "c"]


def test_confirmations_in_order_move_the_base_and_free_room() -> None:
    window: Window[str] = Window(base=0, size=2)
    window.sent(1, 3, "a", simulated=True)
    window.sent(4, 6, "b", simulated=False)
    assert window.oldest() is not None and window.oldest().data == "a"  # type: ignore[union-attr]
    window.confirmed(Outcome.DELIVERED)
    assert window.base == 3 and window.can_send() and window.next_first == 7
    window.confirmed(Outcome.DELIVERED)
    assert window.base == 6 and window.empty and not window.needs_resume()
    assert [(b.first, b.last) for b in window.delivered] == [(1, 3), (4, 6)]


def test_a_batch_that_did_not_apply_stops_sending_until_the_rest_drain_then_resumes_from_the_chain() -> None:
    window: Window[str] = Window(base=0, size=4)
    for first, last in ((1, 2), (3, 4), (5, 6), (7, 8)):
        window.sent(first, last, f"{first}", simulated=first == 1)
    window.confirmed(Outcome.DELIVERED)  # 1..2 applied
    window.confirmed(Outcome.FAILED)  # 3..4 lost
    assert window.broken and not window.can_send() and not window.needs_resume()
    window.confirmed(Outcome.FAILED)  # 5..6 reverted behind it
    window.confirmed(Outcome.FAILED)  # 7..8 too
    assert window.needs_resume() and not window.can_send()
    with pytest.raises(ValueError):
        window.sent(3, 4, "again", simulated=True)
    window.resume(2)  # what the destination says now
    assert window.next_first == 3 and window.can_send() and window.recoveries == 1
    window.sent(3, 8, "again", simulated=True)
    window.confirmed(Outcome.DELIVERED)
    # every message counted once: delivered ranges are disjoint and cover 1..8
    assert [(b.first, b.last) for b in window.delivered] == [(1, 2), (3, 8)]
    assert [(b.first, b.last) for b in window.failed] == [(3, 4), (5, 6), (7, 8)]


def test_a_batch_behind_one_delivered_by_another_may_still_apply_and_is_counted() -> None:
    window: Window[str] = Window(base=0, size=3)
    window.sent(1, 2, "a", simulated=True)
    window.sent(3, 4, "b", simulated=False)
    window.confirmed(Outcome.DELIVERED_BY_OTHER)  # another submitter delivered exactly 1..2 first
    window.confirmed(Outcome.DELIVERED)  # ours continued it
    assert [(b.first, b.last) for b in window.delivered] == [(3, 4)]
    assert [(b.first, b.last) for b in window.by_other] == [(1, 2)]
    assert window.needs_resume()  # the base is read from the chain again before sending more


def test_resume_refuses_while_batches_are_still_in_flight() -> None:
    window: Window[str] = Window(base=0, size=2)
    window.sent(1, 1, "a", simulated=True)
    with pytest.raises(ValueError):
        window.resume(0)


def test_abandoned_batches_break_the_window() -> None:
    window: Window[str] = Window(base=0, size=2)
    window.sent(1, 1, "a", simulated=True)
    assert [b.data for b in window.abandon()] == ["a"]
    assert window.empty and window.needs_resume()
    assert Window(base=0, size=1).abandon() == []


def test_a_window_holds_at_least_one_batch() -> None:
    with pytest.raises(ValueError):
        Window(base=0, size=0)
