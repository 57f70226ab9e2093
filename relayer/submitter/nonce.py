"""Transaction nonces per (chain, sender), handed out under a Redis lock shared by every process.

The chain's `pending` count is the truth; Redis only remembers the next nonce handed out for a
short while, to cover the gap between reserving a nonce and the node seeing the transaction (and
a failover RPC whose pool lags). A reservation that fails before broadcast gives its nonce back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from redis.exceptions import RedisError

from relayer.errors import StoreUnavailableError
from relayer.store.redis_store import Store
from relayer.submitter.lease import lease
from relayer.types import checksum

T = TypeVar("T")
NONCE_LOCK_TTL_S = 10.0
"""Lease ttl of the sender's lock (renewed while held; freed this fast if its holder dies)."""
NONCE_MEMORY_S = 30
"""How long Redis remembers the next nonce; after that the chain's pending count alone decides,
so a reserved nonce whose transaction vanished cannot leave a permanent gap."""


class NonceManager:
    """Hands out the sender's nonces on one chain; two holders never get the same nonce."""

    def __init__(
        self,
        store: Store,
        chain_id: int,
        sender: str,
        pending_nonce: Callable[[], int],
        lock_ttl_s: float = NONCE_LOCK_TTL_S,
        lock_wait_s: float = 30.0,
        memory_s: int = NONCE_MEMORY_S,
    ) -> None:
        self.store = store
        self.chain_id = chain_id
        self.sender = checksum(sender)
        self._pending_nonce = pending_nonce
        self._lock_ttl_s = lock_ttl_s
        self._lock_wait_s = lock_wait_s
        self._memory_s = memory_s
        self.lock_name = f"nonce:{chain_id}:{self.sender}"
        self._key = f"{store.prefix}:nonce:{chain_id}:{self.sender}"

    @contextmanager
    def reserve(self) -> Iterator[int]:
        """Hold the sender's lock and yield its next nonce: max(chain pending, remembered next).
        Broadcast inside the block; on a clean exit the nonce counts as used, on an error it does not."""
        with lease(self.store, self.lock_name, ttl_s=self._lock_ttl_s, wait_s=self._lock_wait_s):
            remembered = self._redis("get", lambda: self.store.redis.get(self._key))
            nonce = max(int(self._pending_nonce()), int(remembered) if remembered is not None else 0)
            yield nonce
            self._redis("set", lambda: self.store.redis.set(self._key, nonce + 1, ex=self._memory_s))

    def forget(self) -> None:
        """Drop the remembered next nonce (the chain's pending count decides again)."""
        self._redis("delete", lambda: self.store.redis.delete(self._key))

    def _redis(self, operation: str, fn: Callable[[], T]) -> T:
        """One Redis call; failures become StoreUnavailableError."""
        try:
            return fn()
        except RedisError as err:
            raise StoreUnavailableError(self.store.where, f"nonce {operation}", str(err)) from err
