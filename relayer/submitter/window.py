"""The in-flight window of one route (pure): batches sent with consecutive transaction nonces and
not yet confirmed, and what each confirmation means for the ones behind it.

A route's batches must land in order (the destination accepts a batch only if it continues the
processed nonce), and one account's transactions are mined in nonce order, so a submitter may send
batch k+1 before batch k's receipt: if k lands, k+1 continues it. If k does not apply (a revert:
another submitter was first, the gas ran out, a predecessor was lost), everything behind it in the
window was built on a nonce the chain never reached: nothing more is sent, the rest is only
confirmed (each one that still applies is counted, the others revert harmlessly: the hash chain
refuses them), and sending resumes from the chain's processed nonce once the window is empty.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(str, Enum):
    """What a confirmed batch transaction did."""

    DELIVERED = "delivered"
    """Mined with status 1: the destination applied exactly this batch."""
    DELIVERED_BY_OTHER = "delivered-by-other"
    """Reverted with BatchNonceMismatch and the chain's processed nonce covers the batch."""
    FAILED = "failed"
    """Reverted otherwise (or with the chain short of the batch): its messages still need delivering."""


def classify(status: int, nonce_mismatch: bool, processed_now: int, last: int) -> Outcome:
    """The outcome of a mined batch transaction ending at nonce `last`: its receipt `status`,
    whether replaying it now reverts with BatchNonceMismatch, and the chain's processed nonce now."""
    if status == 1:
        return Outcome.DELIVERED
    if nonce_mismatch and processed_now >= last:
        return Outcome.DELIVERED_BY_OTHER
    return Outcome.FAILED


@dataclass
class InFlight(Generic[T]):
    """One sent batch: nonces `first..last` of the route."""

    first: int
    last: int
    data: T
    """What the sender keeps about it (its pending transaction)."""
    simulated: bool
    """Sent after a successful simulation (the window was empty: the chain's state was its base)."""


@dataclass
class Window(Generic[T]):
    """Sent, unconfirmed batches of one route, oldest first, and where the next batch starts."""

    base: int
    """The route's processed nonce on the destination, as last known (confirmed or read)."""
    size: int
    """Most batches in flight at once."""
    batches: deque[InFlight[T]] = field(default_factory=deque)
    broken: bool = False
    """A batch did not apply: send nothing more until the window drains and the base is re-read."""
    recoveries: int = 0
    delivered: list[InFlight[T]] = field(default_factory=list)
    """Batches this window's owner delivered itself, in order."""
    by_other: list[InFlight[T]] = field(default_factory=list)
    failed: list[InFlight[T]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"window size must be at least 1, got {self.size}")

    @property
    def next_first(self) -> int:
        """The nonce the next batch must start at: just after the newest in flight (or the base)."""
        return (self.batches[-1].last if self.batches else self.base) + 1

    @property
    def empty(self) -> bool:
        """Nothing in flight."""
        return not self.batches

    def can_send(self) -> bool:
        """True if another batch may be sent now."""
        return not self.broken and len(self.batches) < self.size

    def sent(self, first: int, last: int, data: T, simulated: bool) -> InFlight[T]:
        """Record a batch just broadcast; it must continue the window."""
        if not self.can_send():
            raise ValueError("the window is full or broken: nothing may be sent")
        if first != self.next_first or last < first:
            raise ValueError(f"batch {first}..{last} does not continue the window at {self.next_first}")
        item = InFlight(first, last, data, simulated)
        self.batches.append(item)
        return item

    def oldest(self) -> InFlight[T] | None:
        """The batch to confirm next (transactions of one account are mined in nonce order)."""
        return self.batches[0] if self.batches else None

    def confirmed(self, outcome: Outcome) -> InFlight[T]:
        """The oldest batch's outcome: delivered moves the base; anything else breaks the window."""
        item = self.batches.popleft()
        if outcome is Outcome.DELIVERED:
            self.base = item.last
            self.delivered.append(item)
        else:
            (self.by_other if outcome is Outcome.DELIVERED_BY_OTHER else self.failed).append(item)
            self.broken = True
        return item

    def abandon(self) -> list[InFlight[T]]:
        """Stop tracking every batch still in flight (its transactions may still land: the chain
        decides); the window is broken until `resume`."""
        gone = list(self.batches)
        self.batches.clear()
        if gone:
            self.broken = True
        return gone

    def needs_resume(self) -> bool:
        """True when a broken window has drained: the base must be re-read from the chain."""
        return self.broken and not self.batches

    def resume(self, processed_now: int) -> None:
        """Start again from the chain's processed nonce (after a break, once drained)."""
        if self.batches:
            raise ValueError("resume only once the window has drained")
        self.base = processed_now
        self.broken = False
        self.recoveries += 1
