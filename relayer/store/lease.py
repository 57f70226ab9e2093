"""Redis leases: a lock with a short ttl that a heartbeat thread renews while its holder works.

A long fixed ttl would keep a route blocked for minutes after its holder is SIGKILLed; a short one
without renewal would expire under a slow delivery. A lease is both: it frees itself within `ttl_s`
of its holder's death, and never expires under a live holder (unless Redis itself loses it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import LockError, RedisError

from relayer.errors import LockUnavailableError, StoreUnavailableError
from relayer.store.redis_store import Store

log = logging.getLogger(__name__)

DEFAULT_LEASE_TTL_S = 10.0
RENEWALS_PER_TTL = 3
"""The heartbeat renews the lease this many times per ttl, so one missed beat does not lose it."""


class Lease:
    """What the holder of a lease can check: whether it was lost (Redis wiped, or renewal failed)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lost = threading.Event()


@contextmanager
def lease(store: Store, name: str, ttl_s: float = DEFAULT_LEASE_TTL_S, wait_s: float = 0.0) -> Iterator[Lease]:
    """Hold the lock `name` (key `<prefix>:lock:<name>`) with heartbeat renewal.
    LockUnavailableError if another holder keeps it for `wait_s` seconds (0: do not wait)."""
    lock = store.redis.lock(f"{store.prefix}:lock:{name}", timeout=ttl_s, thread_local=False)
    try:
        acquired = lock.acquire(blocking=wait_s > 0, blocking_timeout=wait_s if wait_s > 0 else None)
    except RedisError as err:
        raise StoreUnavailableError(store.where, f"lease {name}", str(err)) from err
    if not acquired:
        raise LockUnavailableError(name, f"held elsewhere (waited {wait_s}s)")
    held = Lease(name)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl_s / RENEWALS_PER_TTL):
            try:
                lock.reacquire()
            except LockError:
                log.warning("lease %s was lost (expired or wiped); its holder carries on", name, extra={"lease": name})
                held.lost.set()
                return
            except RedisError as err:
                log.warning("lease %s: renewal failed: %s", name, err)

    beat = threading.Thread(target=heartbeat, name=f"lease:{name}", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join()
        try:
            lock.release()
        except LockError:
            held.lost.set()
            log.warning("lease %s was gone at release", name)
        except RedisError as err:
            log.warning("lease %s: release failed (it expires within %.0fs): %s", name, ttl_s, err)
