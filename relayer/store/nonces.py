"""The Redis side of transaction nonces: a lease per (chain, sender) shared by every process, and
the next nonce remembered for a short while (see relayer.chain.nonces for the rules)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from redis.exceptions import RedisError

from relayer.chain.nonces import NONCE_MEMORY_S, NonceManager
from relayer.errors import StoreUnavailableError
from relayer.store.lease import lease
from relayer.store.redis_store import Store
from relayer.types import ChainId, checksum

T = TypeVar("T")
NONCE_LOCK_TTL_S = 10.0
"""Lease ttl of the sender's lock (renewed while held; freed this fast if its holder dies)."""
NONCE_LOCK_WAIT_S = 30.0


class RedisNonceLock:
    """A NonceLock shared by every process using the same Redis: key `nonce:<chain>:<sender>`."""

    def __init__(
        self,
        store: Store,
        chain_id: ChainId,
        sender: str,
        lock_ttl_s: float = NONCE_LOCK_TTL_S,
        lock_wait_s: float = NONCE_LOCK_WAIT_S,
        memory_s: float = NONCE_MEMORY_S,
    ) -> None:
        self.store = store
        self.sender = checksum(sender)
        self.lock_name = f"nonce:{chain_id}:{self.sender}"
        self.key = f"{store.prefix}:nonce:{chain_id}:{self.sender}"
        self._lock_ttl_s = lock_ttl_s
        self._lock_wait_s = lock_wait_s
        self._memory_ms = max(1, int(memory_s * 1000))

    def held(self) -> AbstractContextManager[object]:
        """The sender's lease (LockUnavailableError after `lock_wait_s`)."""
        return lease(self.store, self.lock_name, ttl_s=self._lock_ttl_s, wait_s=self._lock_wait_s)

    def remembered(self) -> int | None:
        """The next nonce Redis remembers, if any."""
        raw = self._redis("get", lambda: self.store.redis.get(self.key))
        return int(raw) if raw is not None else None

    def remember(self, next_nonce: int) -> None:
        """Remember the next nonce for `memory_s`."""
        self._redis("set", lambda: self.store.redis.set(self.key, next_nonce, px=self._memory_ms))

    def forget(self) -> None:
        """Drop the remembered next nonce (every process then reads the chain's pending count)."""
        self._redis("delete", lambda: self.store.redis.delete(self.key))

    def _redis(self, operation: str, fn: Callable[[], T]) -> T:
        """One Redis call; failures become StoreUnavailableError."""
        try:
            return fn()
        except RedisError as err:
            raise StoreUnavailableError(self.store.where, f"nonce {operation}", str(err)) from err


def shared_nonces(store: Store, chain_id: ChainId, sender: str, pending_nonce: Callable[[], int]) -> NonceManager:
    """A NonceManager of `sender` on `chain_id` under the Redis lock every process shares."""
    return NonceManager(RedisNonceLock(store, chain_id, sender), pending_nonce)
