"""Leases: exclusive, kept alive past their ttl by a live holder, freed soon after a SIGKILLed one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from relayer.errors import LockUnavailableError
from relayer.store.lease import lease
from relayer.store.redis_store import Store

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(roles_redis_url: str) -> Store:  # noqa: F811
    store = Store(roles_redis_url, prefix=f"lease-{time.monotonic_ns()}")
    yield store
    store.redis.close()


def _free(store: Store, name: str) -> bool:
    try:
        with lease(store, name, ttl_s=5):
            return True
    except LockUnavailableError:
        return False


def test_lease_is_exclusive_and_names_are_independent(store: Store) -> None:
    with lease(store, "route-x", ttl_s=5):
        assert not _free(store, "route-x")
        with pytest.raises(LockUnavailableError, match="held elsewhere"):
            with lease(store, "route-x", ttl_s=5):
                pass
        assert _free(store, "route-y")
    assert _free(store, "route-x")


def test_waiting_holders_take_turns(roles_redis_url: str, store: Store) -> None:  # noqa: F811
    events: list[tuple[str, int]] = []

    def worker(ident: int) -> None:
        other = Store(roles_redis_url, prefix=store.prefix)  # its own connection, as another process would have
        for _ in range(5):
            with lease(other, "nonce:31337:relayer", ttl_s=5, wait_s=10):
                events.append(("enter", ident))
                time.sleep(0.005)
                events.append(("exit", ident))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(events) == 30
    for k in range(0, 30, 2):  # every enter is followed by the same holder's exit
        assert events[k][0] == "enter" and events[k + 1] == ("exit", events[k][1])


def test_live_holder_keeps_its_lease_past_the_ttl(store: Store) -> None:
    with lease(store, "slow", ttl_s=0.6) as held:
        end = time.monotonic() + 2.0  # more than three ttls of work
        while time.monotonic() < end:
            assert not _free(store, "slow")
            time.sleep(0.1)
        assert not held.lost.is_set()
    assert _free(store, "slow")


def test_lease_of_a_sigkilled_holder_frees_itself_within_its_ttl(store: Store) -> None:
    script = (
        "import sys, time\n"
        "from relayer.store.redis_store import Store\n"
        "from relayer.store.lease import lease\n"
        "store = Store(sys.argv[1], prefix=sys.argv[2])\n"
        "with lease(store, 'doomed', ttl_s=1.0):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    url = store.redis.connection_pool.connection_kwargs
    redis_url = f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, redis_url, store.prefix], stdout=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
        time.sleep(1.5)  # past its ttl: the heartbeat keeps it
        assert not _free(store, "doomed")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.monotonic()
        while not _free(store, "doomed"):
            assert time.monotonic() - killed_at < 3.0, "lease outlived its dead holder"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_wiped_lease_is_reported_lost_not_raised(store: Store) -> None:
    with lease(store, "wiped", ttl_s=0.6) as held:
        store.redis.delete(f"{store.prefix}:lock:wiped")  # what a FLUSHALL does
        end = time.monotonic() + 3
        while not held.lost.is_set():
            assert time.monotonic() < end
            time.sleep(0.05)
