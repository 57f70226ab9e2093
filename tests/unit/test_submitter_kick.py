"""Quorum kicks on a private redis-server: the publish that completes a quorum (the route's
threshold, as the submitter last read it) asks for a kick exactly once, only above what the
submitter has sent, and raises the route's quorum mark; the kicker's message lands on the route's
destination queue as a `submit_route(route, nonce)` task that expires."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from relayer.config import Settings
from relayer.store.redis_store import Store
from relayer.types import RouteId
from relayer.worker.app import SUBMIT_TASK, submitter_queue
from relayer.worker.kick import SubmitKicker

ROUTE = RouteId.parse("deposit:31338->31337")
VALIDATORS = ["0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3, 0xD4, 0xE5)]
H1, H2 = b"\x01" * 32, b"\x02" * 32


@pytest.fixture
def store(private_redis_url: str) -> Store:
    redis.Redis.from_url(private_redis_url).flushdb()
    return Store(private_redis_url)


def sig(n: int) -> bytes:
    return bytes([n]) * 65


def test_the_signature_completing_a_quorum_kicks_once(store: Store) -> None:
    store.note_threshold(ROUTE, 3)
    kicks = [store.publish_signature(ROUTE, 10, H1, v, sig(k)) for k, v in enumerate(VALIDATORS)]
    assert kicks == [False, False, True, False, False]  # the third of five, only
    assert store.publish_signature(ROUTE, 10, H1, VALIDATORS[2], sig(2)) is False  # re-published: no transition
    assert store.quorum_mark(ROUTE) == 10
    # a second head at the same nonce counts its own signers (an equivocation never adds up across heads)
    assert [store.publish_signature(ROUTE, 10, H2, v, sig(9)) for v in VALIDATORS[:2]] == [False, False]


def test_no_kick_at_or_below_what_the_submitter_sent_but_the_mark_still_rises(store: Store) -> None:
    store.note_threshold(ROUTE, 2)
    store.note_sent(ROUTE, 20)
    assert [store.publish_signature(ROUTE, 15, H1, v, sig(1)) for v in VALIDATORS[:2]] == [False, False]
    assert store.quorum_mark(ROUTE) == 15
    assert [store.publish_signature(ROUTE, 21, H1, v, sig(1)) for v in VALIDATORS[:2]] == [False, True]
    assert store.quorum_mark(ROUTE) == 21
    assert [store.publish_signature(ROUTE, 18, H1, v, sig(1)) for v in VALIDATORS[:2]] == [False, False]
    assert store.quorum_mark(ROUTE) == 21  # the mark only rises


def test_without_a_threshold_hint_nothing_kicks(store: Store) -> None:
    assert not any(store.publish_signature(ROUTE, 5, H1, v, sig(1)) for v in VALIDATORS)
    assert store.quorum_mark(ROUTE) == -1


def test_the_api_path_kicks_too_and_keeps_its_head_limit(store: Store) -> None:
    store.note_threshold(ROUTE, 2)
    first = store.publish_signature_within(ROUTE, 7, H1, VALIDATORS[0], sig(1))
    second = store.publish_signature_within(ROUTE, 7, H1, VALIDATORS[1], sig(2))
    assert (first.stored, first.kick, second.stored, second.kick) == (True, False, True, True)
    store.publish_signature_within(ROUTE, 8, H1, VALIDATORS[0], sig(1), max_heads=1)
    refused = store.publish_signature_within(ROUTE, 8, H2, VALIDATORS[0], sig(1), max_heads=1)
    assert (refused.stored, refused.held, refused.kick) == (False, 1, False)


def test_validators_publishing_at_once_kick_exactly_once(store: Store) -> None:
    """Five validators publish one head concurrently, for twenty nonces: one kick per nonce."""
    store.note_threshold(ROUTE, 3)
    for nonce in range(100, 120):
        barrier = threading.Barrier(len(VALIDATORS))

        def publish(v: str, nonce: int = nonce, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait(timeout=10)
            return store.publish_signature(ROUTE, nonce, H1, v, sig(1))

        with ThreadPoolExecutor(len(VALIDATORS)) as pool:
            assert sum(pool.map(publish, VALIDATORS)) == 1
    assert store.quorum_mark(ROUTE) == 119


def test_a_kick_is_a_submit_route_task_on_the_destination_queue(private_redis_url: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(private_redis_url)
    client.flushdb()
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    kicker = SubmitKicker(Settings(redis_url=private_redis_url, chains={}, deployment_file=deployment))
    kicker(ROUTE, 42)
    queue = submitter_queue(ROUTE.dest_chain_id)
    raw = client.lrange(queue, 0, -1)
    assert len(raw) == 1 and kicker.sent == 1
    message = json.loads(raw[0])
    assert message["headers"]["task"] == SUBMIT_TASK
    assert message["headers"]["expires"] is not None
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([str(ROUTE), 42], {})


def test_a_kick_that_cannot_be_sent_is_only_logged(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    kicker = SubmitKicker(Settings(redis_url="redis://127.0.0.1:1/0", chains={}, deployment_file=deployment))
    kicker(ROUTE, 1)  # nobody listens on port 1: no exception, nothing counted
    assert kicker.sent == 0


def test_quorum_rules_are_read_once_a_tick_only_when_needed_and_refreshed_for_the_hint() -> None:
    """An idle tick reads no rules (they are only needed to check signatures), a busy one reads
    them once; a route idle for THRESHOLD_HINT_REFRESH_S is read anyway (it refreshes the hint)."""
    from relayer.submitter.rules import THRESHOLD_HINT_REFRESH_S, RouteRules

    now = [0.0]
    reads: list[RouteId] = []

    def read(route: RouteId) -> tuple[list[str], int]:
        reads.append(route)
        return VALIDATORS, 3

    rules = RouteRules(read, clock=lambda: now[0])
    rules.for_tick(ROUTE)  # never read: read at once
    assert reads == [ROUTE]
    now[0] += 1.0
    idle = rules.for_tick(ROUTE)
    assert reads == [ROUTE]  # an idle tick reads nothing
    busy = rules.for_tick(ROUTE)
    assert busy.get() == (VALIDATORS, 3) and busy.get() == (VALIDATORS, 3) and len(reads) == 2  # once a tick
    del idle
    now[0] += THRESHOLD_HINT_REFRESH_S
    rules.for_tick(ROUTE)
    assert len(reads) == 3  # idle too long: read for the hint
