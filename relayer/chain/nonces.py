"""Transaction nonces per (chain, sender): two holders never get the same one.

The chain's `pending` count is the truth; a `NonceLock` adds mutual exclusion and a short memory of
the next nonce handed out, to cover the gap between reserving a nonce and the node seeing the
transaction (and a failover RPC whose pool lags). The lock shared by every process lives with the
store (`relayer.store.nonces.RedisNonceLock`); `LocalNonceLock` serves one process (the deployer,
benchmarks). A reservation that fails before broadcast gives its nonce back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from relayer.types import Nonce

NONCE_MEMORY_S = 30.0
"""How long the next nonce is remembered; after that the chain's pending count alone decides,
so a reserved nonce whose transaction vanished cannot leave a permanent gap."""


class NonceLock(Protocol):
    """Mutual exclusion and a short memory of the next nonce, for one (chain, sender)."""

    def held(self) -> AbstractContextManager[object]:
        """Hold the sender's lock for the duration of the block."""
        ...

    def remembered(self) -> int | None:
        """The next nonce handed out recently (None: forgotten or never)."""
        ...

    def remember(self, next_nonce: int) -> None:
        """Remember the next nonce for a short while."""
        ...

    def forget(self) -> None:
        """Drop the remembered next nonce: the chain's pending count alone decides the next one."""
        ...


class LocalNonceLock:
    """A NonceLock for one process: a thread lock and an in-memory next nonce with an expiry."""

    def __init__(self, memory_s: float = NONCE_MEMORY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._memory_s = memory_s
        self._clock = clock
        self._next: tuple[int, float] | None = None

    def held(self) -> AbstractContextManager[object]:
        """The thread lock."""
        return self._lock

    def remembered(self) -> int | None:
        """The remembered next nonce unless it expired."""
        if self._next is None or self._clock() >= self._next[1]:
            return None
        return self._next[0]

    def remember(self, next_nonce: int) -> None:
        """Remember `next_nonce` for `memory_s` seconds."""
        self._next = (next_nonce, self._clock() + self._memory_s)

    def forget(self) -> None:
        """Drop the remembered next nonce."""
        self._next = None


class NonceManager:
    """Hands out one sender's nonces on one chain: max(chain pending count, remembered next)."""

    def __init__(self, lock: NonceLock, pending_nonce: Callable[[], int]) -> None:
        self.lock = lock
        self._pending_nonce = pending_nonce

    @contextmanager
    def reserve(self) -> Iterator[Nonce]:
        """Hold the sender's lock and yield its next nonce. Broadcast inside the block; on a clean
        exit the nonce counts as used, on an error it does not."""
        with self.lock.held():
            remembered = self.lock.remembered()
            nonce = Nonce(max(int(self._pending_nonce()), remembered if remembered is not None else 0))
            yield nonce
            self.lock.remember(nonce + 1)

    def resync(self) -> None:
        """Re-sync from the chain: forget the remembered next nonce, so the next reservation takes the
        chain's pending count. After a transaction was lost (dropped for good, or its nonce taken),
        the memory may point past a gap that nothing will ever fill; the pending count points at it,
        and the next transaction fills it (those queued behind it can then be mined)."""
        with self.lock.held():
            self.lock.forget()
