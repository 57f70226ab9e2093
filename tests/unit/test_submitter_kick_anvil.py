"""Quorum-triggered submission on two real anvil chains: the validator whose signature completes a
checkpoint's quorum kicks the submitter once and the kicked tick delivers it; a kicked tick that
meets a running one returns at once without reading the chain; a running tick picks up a quorum
from the store's mark without waiting for its poll; a quorum completing while a tick only confirms
kicks the next tick at its end. Every deposit is credited exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from relayer.config import SubmitterConfig
from relayer.store.lease import lease
from relayer.store.redis_store import Store
from relayer.submitter import service
from relayer.submitter.service import SubmitResult, Submitter
from relayer.types import RouteId
from relayer.validator.publish import RedisPublisher
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from anvil_route_net import (
    DEPOSIT_ROUTE,
    SCALE,
    SUBMITTER_KEY,
    THRESHOLD,
    VALIDATOR_KEYS,
    Net,
    _credited,
    _deposit,
    _finalize,
    net_fixture,
    pytestmark,  # noqa: F401  (skipped without the contract artifacts)
    store_fixture,
)
from local_services import fixed_port

HUB_PORT, SPOKE_PORT = fixed_port(8752), fixed_port(8753)
DEADLINE_S = 60.0


class Kicks:
    """A recording kick hook (what relayer.worker.kick sends through the broker)."""

    def __init__(self) -> None:
        self.calls: list[tuple[RouteId, int]] = []
        self._lock = threading.Lock()

    def __call__(self, route: RouteId, nonce: int) -> None:
        with self._lock:
            self.calls.append((route, nonce))

    def take(self) -> list[tuple[RouteId, int]]:
        with self._lock:
            out, self.calls = self.calls, []
            return out


net = net_fixture(HUB_PORT, SPOKE_PORT)
store = store_fixture("kick")


@pytest.fixture(scope="module")
def published() -> Kicks:
    return Kicks()


@pytest.fixture(scope="module")
def validators(net: Net, store: Store, published: Kicks, tmp_path_factory: pytest.TempPathFactory) -> list[Validator]:
    root: Path = tmp_path_factory.mktemp("validators")
    return [
        Validator(f"v{i}", VALIDATOR_KEYS[i], SignerDb(root / f"v{i}.sqlite"), RedisPublisher(store, published),
                  net.deployment, net.clients)
        for i in range(THRESHOLD)
    ]


def _submitter(net: Net, store: Store, kicks: Kicks, pipeline_s: float = 5.0) -> Submitter:
    config = SubmitterConfig(key=SecretStr(SUBMITTER_KEY), stuck_after_s=30, pipeline_s=pipeline_s)
    return Submitter(config, store, net.deployment, net.clients, on_quorum=kicks)


def _sign(net: Net, validators: list[Validator], amounts: list[int]) -> None:
    _deposit(net, amounts)
    _finalize(net.spoke)
    for v in validators:
        assert v.tick(DEPOSIT_ROUTE).signed


def _nonce(net: Net, submitter: Submitter) -> int:
    return submitter.reader(DEPOSIT_ROUTE).dest_state().nonce


@contextmanager
def _tick_with_first_batch_held(net: Net, submitter: Submitter) -> Iterator[list[SubmitResult]]:
    """A submitter tick running in a thread while the hub mines nothing: entered once its first
    batch is in the hub's pool; on leaving, the hub mines again and the tick is joined (its result
    is in the yielded list)."""
    net.hub.provider.make_request("evm_setAutomine", [False])
    result: list[SubmitResult] = []
    tick = threading.Thread(target=lambda: result.append(submitter.tick(DEPOSIT_ROUTE)), daemon=True)
    try:
        tick.start()
        _until("the first batch in the hub's pool", lambda: _pooled(net) == 1)
        yield result
    finally:
        net.hub.provider.make_request("evm_setAutomine", [True])
        net.hub.provider.make_request("evm_mine", [])
    tick.join(timeout=DEADLINE_S)

def test_the_last_signature_of_a_quorum_kicks_once_and_the_kicked_tick_delivers(
    net: Net, store: Store, validators: list[Validator], published: Kicks
) -> None:
    own = Kicks()
    submitter = _submitter(net, store, own)
    assert submitter.tick(DEPOSIT_ROUTE).reason == "up-to-date"  # reads the threshold: the hint the publish needs
    before = _credited(net)
    _sign(net, validators, [1, 2])
    assert published.take() == [(DEPOSIT_ROUTE, 2)]  # the third validator's publish, only
    result = submitter.tick(DEPOSIT_ROUTE, kicked=True)
    assert result.delivered and (result.first_nonce, result.last_nonce) == (1, 2), result
    assert _credited(net) == before + 3 * SCALE
    assert own.take() == []  # nothing above what it delivered
    for v in validators:
        v.tick(DEPOSIT_ROUTE)  # republishing what is still needed kicks nothing
    assert published.take() == []


def test_a_kicked_tick_meeting_a_running_one_returns_without_reading_the_chain(
    net: Net, store: Store, validators: list[Validator], published: Kicks
) -> None:
    submitter = _submitter(net, store, Kicks())
    _sign(net, validators, [4])
    assert published.take() == [(DEPOSIT_ROUTE, 3)]
    before = _credited(net)
    with lease(store, f"submit:{DEPOSIT_ROUTE}", ttl_s=30):
        busy = submitter.tick(DEPOSIT_ROUTE, kicked=True)
        beat = submitter.tick(DEPOSIT_ROUTE)
    assert (busy.reason, busy.processed_nonce, busy.delivered) == ("busy", -1, False)
    assert (beat.reason, beat.processed_nonce) == ("busy", 2)  # a beat tick still reports the chain's nonce
    assert _credited(net) == before
    assert submitter.tick(DEPOSIT_ROUTE).delivered
    assert _credited(net) == before + 4 * SCALE


def test_a_running_tick_sends_a_newly_completed_quorum_without_a_new_tick(
    net: Net, store: Store, validators: list[Validator], published: Kicks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick with a batch in flight (the hub mines only when the test says) sees the quorum the
    validators complete meanwhile and sends it behind the first: two batches, one tick. Its
    periodic look at Redis is pushed out of reach, so only the quorum mark can have woken it."""
    monkeypatch.setattr(service, "NEW_CHECKPOINT_POLL_S", 600.0)
    submitter = _submitter(net, store, Kicks(), pipeline_s=600)
    before = _credited(net)
    _sign(net, validators, [5])
    published.take()
    with _tick_with_first_batch_held(net, submitter) as result:
        _sign(net, validators, [6])
        assert [n for _, n in published.take()] == [5]  # above the batch in flight: kicked (it would meet the lease)
        _until("the second batch sent by the running tick", lambda: _pooled(net) == 2)  # the tick saw the mark
    assert result and result[0].delivered and result[0].batches == 2, result
    assert _credited(net) == before + 11 * SCALE


def test_a_quorum_completed_while_a_tick_only_confirms_kicks_the_next_tick_at_its_end(
    net: Net, store: Store, validators: list[Validator], published: Kicks
) -> None:
    own = Kicks()
    submitter = _submitter(net, store, own, pipeline_s=0.01)  # sends one batch, then only confirms
    before = _credited(net)
    _sign(net, validators, [7])
    published.take()
    with _tick_with_first_batch_held(net, submitter) as result:
        _sign(net, validators, [8])
        kicked = published.take()  # sent hint = the batch in flight, below the new quorum: kicked (it meets the lease)
        assert [n for _, n in kicked] == [_nonce(net, submitter) + 2]
    assert result and result[0].delivered and result[0].batches == 1, result
    assert own.take() == [(DEPOSIT_ROUTE, result[0].last_nonce + 1)]  # the tick kicked its successor
    assert submitter.tick(DEPOSIT_ROUTE, kicked=True).delivered
    assert _credited(net) == before + 15 * SCALE


def _pooled(net: Net) -> int:
    content = net.hub.provider.make_request("txpool_content", [])["result"]
    return sum(len(by_nonce) for by_nonce in content.get("pending", {}).values())


def _until(what: str, done: object) -> None:
    assert callable(done)
    end = time.monotonic() + DEADLINE_S
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
