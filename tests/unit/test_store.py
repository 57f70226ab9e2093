"""relayer.store.redis_store on a private redis-server: signatures and alarms."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from eth_utils import to_checksum_address as cs

from relayer.errors import StoreUnavailableError
from relayer.store.redis_store import HALT_TTL_S, MAX_HEADS_PER_VALIDATOR, Store
from relayer.types import RouteId

DEPOSIT = RouteId.parse("deposit:31338->31337")
WITHDRAWAL = RouteId.parse("withdrawal:31337->31338")
V1, V2, V3 = ("0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3))
H1, H2 = b"\x01" * 32, b"\x02" * 32


@pytest.fixture
def store(private_redis_url):
    """A Store on the private server, emptied before each test."""
    redis.Redis.from_url(private_redis_url).flushdb()
    return Store(private_redis_url)


def sig(n: int) -> bytes:
    return bytes([n]) * 65


def test_signatures_group_by_head_and_validator(store):
    store.publish_signature(DEPOSIT, 100, H1, V1, sig(1))
    store.publish_signature(DEPOSIT, 100, H1, V2.lower(), sig(2))
    store.publish_signature(DEPOSIT, 100, H2, V3, sig(3))
    store.publish_signature(DEPOSIT, 100, H1, V1, sig(1))  # idempotent re-publication
    got = store.signatures_for(DEPOSIT, 100)
    assert got == {H1: {cs(V1): sig(1), cs(V2): sig(2)}, H2: {cs(V3): sig(3)}}  # checksummed keys
    assert store.signatures_for(WITHDRAWAL, 100) == {} and store.signatures_for(DEPOSIT, 99) == {}


def test_signed_nonces_sort_numerically_and_prune(store):
    for nonce in (100, 9, 2, 10):
        store.publish_signature(WITHDRAWAL, nonce, H1, V1, sig(nonce))
    assert store.signed_nonces(WITHDRAWAL) == [2, 9, 10, 100]
    assert store.signed_nonces(DEPOSIT) == []
    assert store.forget_below(WITHDRAWAL, 10) == 2
    assert store.signed_nonces(WITHDRAWAL) == [10, 100]
    assert store.signatures_for(WITHDRAWAL, 9) == {} and store.signatures_for(WITHDRAWAL, 10) != {}
    assert store.forget_below(WITHDRAWAL, 0) == 0


def test_signatures_expire(private_redis_url):
    redis.Redis.from_url(private_redis_url).flushdb()
    short = Store(private_redis_url, signature_ttl_s=1)
    short.publish_signature(DEPOSIT, 1, H1, V1, sig(1))
    deadline = time.monotonic() + 5
    while short.signed_nonces(DEPOSIT) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert short.signed_nonces(DEPOSIT) == [] and short.signatures_for(DEPOSIT, 1) == {}


def test_alarms_newest_first(store):
    store.raise_alarm(DEPOSIT, "signing conflict at nonce 7")
    store.raise_alarm("withdrawal:31337->31338", "stuck tx")
    alarms = store.alarms()
    assert [(a.route, a.text) for a in alarms] == [
        ("withdrawal:31337->31338", "stuck tx"),
        ("deposit:31338->31337", "signing conflict at nonce 7"),
    ]
    assert alarms[0].at >= alarms[1].at > 0


def test_after_flushdb_the_store_answers_empty(private_redis_url, store):
    store.publish_signature(DEPOSIT, 5, H1, V1, sig(5))
    store.raise_alarm(DEPOSIT, "x")
    redis.Redis.from_url(private_redis_url).flushdb()
    assert store.signatures_for(DEPOSIT, 5) == {}
    assert store.signed_nonces(DEPOSIT) == []
    assert store.alarms() == []
    store.publish_signature(DEPOSIT, 5, H1, V1, sig(5))  # and it keeps working
    assert store.signed_nonces(DEPOSIT) == [5]


def test_redis_down_raises_store_unavailable_without_credentials():
    down = Store("redis://:hunter2@127.0.0.1:6390/0")
    assert down.ping() is False
    with pytest.raises(StoreUnavailableError) as info:
        down.signatures_for(DEPOSIT, 1)
    assert "127.0.0.1:6390/0" in str(info.value) and "hunter2" not in str(info.value)


def test_price_queue_round_trips_answers_in_order(store):
    from relayer.keeper.oracle_service import PriceQueue

    queue = PriceQueue(store)
    assert queue.pop("ETH") is None and queue.last("ETH") is None
    assert queue.enqueue("ETH", [156_000_000_000, 150_000_000_000]) == 2
    assert queue.last("ETH") == 150_000_000_000 and queue.pending("ETH") == 2
    assert queue.pop("ETH") == 156_000_000_000
    queue.put_back("ETH", 156_000_000_000)  # a failed push goes back to the front
    assert [queue.pop("ETH"), queue.pop("ETH"), queue.pop("ETH")] == [156_000_000_000, 150_000_000_000, None]


def test_keeper_rounds_add_up_per_keeper_for_the_metrics(store):
    keeper = "0x" + "ab" * 20
    assert store.keeper_stats() == []
    store.record_keeper_round(keeper, liquidatable=3, liquidated=2, deleveraged=1)
    store.record_keeper_round(keeper.upper().replace("0X", "0x"), liquidatable=0, liquidated=1, deleveraged=2,
                              feeds_latched=1)
    (stats,) = store.keeper_stats()
    assert stats.keeper == cs(keeper) and stats.liquidatable == 0  # the last round's gauge
    assert (stats.liquidations, stats.deleverages, stats.feed_latches) == (3, 3, 1)  # totals: counters
    assert stats.last_round > 0


def test_the_head_limit_holds_exactly_under_concurrent_publications(store):
    """Sixteen threads publish sixteen different heads of one validator for one nonce at once
    (check and write are one Lua step): exactly MAX_HEADS_PER_VALIDATOR are stored, every round."""
    for nonce in range(1, 6):
        heads = [bytes([nonce, i]) * 16 for i in range(16)]
        barrier = threading.Barrier(len(heads))

        def publish(head: bytes, nonce: int = nonce, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait(timeout=10)
            return store.publish_signature_within(DEPOSIT, nonce, head, V1, sig(1))[0]

        with ThreadPoolExecutor(len(heads)) as pool:
            stored = list(pool.map(publish, heads))
        assert sum(stored) == MAX_HEADS_PER_VALIDATOR
        kept = store.signatures_for(DEPOSIT, nonce)
        assert len(kept) == MAX_HEADS_PER_VALIDATOR
        assert {h for h, ok in zip(heads, stored, strict=True) if ok} == set(kept)
        again = store.publish_signature_within(DEPOSIT, nonce, next(iter(kept)), V1, sig(1))
        assert (again.stored, again.held) == (True, 2)  # idempotent
        assert store.publish_signature_within(DEPOSIT, nonce, heads[0], V2, sig(2))[0]  # the limit is per validator
    assert store.signed_nonces(DEPOSIT) == [1, 2, 3, 4, 5]


def test_a_halt_is_recorded_only_above_the_last_stamp_and_shows_while_reported(store):
    assert store.record_halt(DEPOSIT, V1, "reorg", 1_000) is None
    assert store.record_halt(DEPOSIT, V1, "replayed", 1_000) == 1_000  # same stamp: refused
    assert store.record_halt(DEPOSIT, V1, "older", 999) == 1_000
    assert store.halts(DEPOSIT) == {cs(V1): "reorg"}
    assert store.record_halt(DEPOSIT, V2, "other validator", 5) is None  # stamps are per validator
    assert store.record_halt(DEPOSIT, V1, "newer", 1_001) is None
    assert store.halts(DEPOSIT) == {cs(V1): "newer", cs(V2): "other validator"}
    # no report for HALT_TTL_S: the validator was resumed (or stopped); the stamp is still kept
    assert store.halts(DEPOSIT, now=time.time() + HALT_TTL_S + 1) == {}
    assert store.record_halt(DEPOSIT, V1, "replayed after the resume", 1_001) == 1_001
