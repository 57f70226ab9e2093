"""NonceManager under the Redis lock every process shares (relayer.store.nonces): distinct nonces across
threads, failures give nonces back, a wiped Redis falls back to the chain."""

from __future__ import annotations

import threading
import time

import pytest

from relayer.chain.nonces import NonceManager
from relayer.store.nonces import RedisNonceLock, shared_nonces
from relayer.store.redis_store import Store
from relayer.types import ChainId

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)

SENDER = "0x70997970C51812dc3A010C7d01849Aa0d79C79C8"


@pytest.fixture
def store(roles_redis_url: str) -> Store:  # noqa: F811
    store = Store(roles_redis_url, prefix=f"test-nonce-{time.monotonic_ns()}")
    yield store
    store.redis.close()


def test_two_threads_never_get_the_same_nonce(store: Store) -> None:
    chain_pending = 7  # the node never sees these transactions: the worst case
    taken: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        manager = shared_nonces(store, ChainId(31337), SENDER, lambda: chain_pending)  # one per thread, shared Redis
        try:
            for _ in range(15):
                with manager.reserve() as nonce:
                    seen = list(taken)
                    time.sleep(0.001)  # widen the race window inside the lock
                    taken.append(nonce)
                    assert nonce not in seen
        except BaseException as err:  # noqa: BLE001 - any failure in the thread is surfaced below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(taken) == list(range(7, 7 + 30))


def test_failed_broadcast_gives_the_nonce_back(store: Store) -> None:
    manager = shared_nonces(store, ChainId(31337), SENDER, lambda: 3)
    with pytest.raises(RuntimeError):
        with manager.reserve() as nonce:
            assert nonce == 3
            raise RuntimeError("node rejected the transaction")
    with manager.reserve() as nonce:
        assert nonce == 3
    with manager.reserve() as nonce:
        assert nonce == 4


def test_chain_pending_count_wins_when_ahead(store: Store) -> None:
    pending = {"n": 0}
    manager = shared_nonces(store, ChainId(31337), SENDER, lambda: pending["n"])
    with manager.reserve() as nonce:
        assert nonce == 0
    pending["n"] = 10  # transactions sent by another tool
    with manager.reserve() as nonce:
        assert nonce == 10


def test_wiping_redis_falls_back_to_the_chain(store: Store) -> None:
    lock = RedisNonceLock(store, ChainId(31337), SENDER)
    manager = NonceManager(lock, lambda: 5)
    for _ in range(3):
        with manager.reserve():
            pass
    assert lock.remembered() == 8
    store.redis.delete(lock.key)  # what a FLUSHALL does
    with manager.reserve() as nonce:
        assert nonce == 5


def test_managers_of_different_chains_or_senders_are_independent(store: Store) -> None:
    a = shared_nonces(store, ChainId(31337), SENDER, lambda: 0)
    b = shared_nonces(store, ChainId(31338), SENDER, lambda: 0)
    with a.reserve() as na, b.reserve() as nb:  # would deadlock if they shared the lock
        assert (na, nb) == (0, 0)


def test_resync_forgets_the_remembered_nonce_so_a_lost_one_is_filled(store: Store) -> None:
    """A keeper whose transaction at nonce 5 was lost (never mined) re-syncs: the next nonce is the
    chain's pending count again (5: the gap), not the remembered 8; LocalNonceLock does the same."""
    from relayer.chain.nonces import LocalNonceLock

    for lock in (RedisNonceLock(store, ChainId(31337), SENDER), LocalNonceLock()):
        manager = NonceManager(lock, lambda: 5)
        for _ in range(3):
            with manager.reserve():
                pass
        assert lock.remembered() == 8
        manager.resync()
        assert lock.remembered() is None
        with manager.reserve() as nonce:
            assert nonce == 5
