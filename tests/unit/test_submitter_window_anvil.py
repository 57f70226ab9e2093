"""Several batches of one route in flight at once, on two real anvil chains: every deposit credited
exactly once when they all land, when one of them is dropped from the hub's pool, and when one's
transaction nonce is taken by another transaction (so it and everything behind it must be sent
again from the hub's processed nonce). Blocks are mined by the test; waits poll with deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from pydantic import SecretStr

from relayer.config import SubmitterConfig
from relayer.store.redis_store import Store
from relayer.submitter.service import SubmitResult, Submitter
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from anvil_route_net import (
    ASSET_ID,
    DEPOSIT_ROUTE,
    HUB_ID,
    SCALE,
    SUBMITTER_KEY,
    VALIDATOR_KEYS,
    Net,
    _credited,
    _deposit,
    _finalize,
    make_validators,
    net_fixture,
    pytestmark,  # noqa: F401  (skipped without the contract artifacts)
    store_fixture,
)
from local_services import fixed_port

HUB_PORT, SPOKE_PORT = fixed_port(8740), fixed_port(8741)
IN_FLIGHT = 3
PER_BATCH = 2
DEADLINE_S = 60.0
SUBMITTER = Account.from_key(SUBMITTER_KEY).address


net = net_fixture(HUB_PORT, SPOKE_PORT)
store = store_fixture("window")


@pytest.fixture(scope="module")
def validators(net: Net, store: Store, tmp_path_factory: pytest.TempPathFactory) -> list[Validator]:
    return make_validators(net, store, tmp_path_factory.mktemp("validators"))


@pytest.fixture(scope="module")
def submitter(net: Net, store: Store) -> Submitter:
    # two deposits per batch (one spoke block each: a checkpoint at every block end), three in flight
    config = SubmitterConfig(
        key=SecretStr(SUBMITTER_KEY), max_batch=PER_BATCH, max_in_flight=IN_FLIGHT, stuck_after_s=30,
        pipeline_s=600,  # the tick ends once nothing is left to send; a short budget would cut recovery under load
    )
    return Submitter(config, store, net.deployment, net.clients)


@pytest.fixture
def manual_hub(net: Net) -> Iterator[None]:
    net.hub.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        net.hub.provider.make_request("evm_setAutomine", [True])
        net.hub.provider.make_request("evm_mine", [])


def _signed_batches(net: Net, validators: list[Validator], amounts: list[int]) -> None:
    """IN_FLIGHT spoke blocks of PER_BATCH deposits each, final and signed by every validator."""
    for k in range(IN_FLIGHT):
        _deposit(net, amounts[k * PER_BATCH:(k + 1) * PER_BATCH])
    _finalize(net.spoke)
    for v in validators:
        assert len(v.tick(DEPOSIT_ROUTE).signed) == IN_FLIGHT


def _pool(net: Net) -> list[dict[str, Any]]:
    """The submitter's transactions waiting in the hub's pool, by nonce."""
    content = net.hub.provider.make_request("txpool_content", [])["result"]
    mine: dict[str, Any] = {}
    for section in ("pending", "queued"):
        for sender, by_nonce in content.get(section, {}).items():
            if sender.lower() == SUBMITTER.lower():
                mine.update(by_nonce)
    return [mine[n] for n in sorted(mine, key=int)]


def _poll(what: str, done: Callable[[], bool], step: Callable[[], None] = lambda: None) -> None:
    """Poll `done` until it holds (running `step` between looks), failing after DEADLINE_S."""
    end = time.monotonic() + DEADLINE_S
    while not done():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        step()


class Tick(threading.Thread):
    """One submitter tick running beside the test (which mines the hub's blocks)."""

    def __init__(self, submitter: Submitter) -> None:
        super().__init__(daemon=True)
        self.submitter = submitter
        self.result: SubmitResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.submitter.tick(DEPOSIT_ROUTE)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.error = err


def _run_to_the_end(net: Net, tick: Tick) -> SubmitResult:
    """Mine hub blocks until the tick ends; its result."""

    def mine() -> None:
        net.hub.provider.make_request("evm_mine", [])
        tick.join(timeout=0.1)

    _poll("the tick to confirm every batch", lambda: not tick.is_alive(), mine)
    assert tick.error is None, tick.error
    assert tick.result is not None
    return tick.result


def _start_with_full_window(net: Net, submitter: Submitter) -> tuple[Tick, list[dict[str, Any]]]:
    """Start a tick and wait until all IN_FLIGHT batches sit in the pool together (nothing mined)."""
    tick = Tick(submitter)
    tick.start()
    _poll("a full window in the pool", lambda: len(_pool(net)) == IN_FLIGHT or not tick.is_alive(),
          lambda: tick.join(timeout=0.05))
    assert tick.error is None, tick.error
    pool = _pool(net)
    assert [int(t["nonce"], 16) for t in pool] == list(range(int(pool[0]["nonce"], 16), int(pool[0]["nonce"], 16) + 3))
    return tick, pool


def test_three_batches_in_flight_land_in_order_and_credit_once(
    net: Net, validators: list[Validator], submitter: Submitter, manual_hub: None
) -> None:
    amounts = [1, 2, 3, 4, 5, 6]
    _signed_batches(net, validators, amounts)
    before = _credited(net)
    tick, _ = _start_with_full_window(net, submitter)  # sent back to back, before any receipt
    result = _run_to_the_end(net, tick)
    assert result.delivered and result.batches == IN_FLIGHT and result.not_applied == 0, result
    assert (result.first_nonce, result.last_nonce) == (1, 6)
    assert _credited(net) == before + sum(amounts) * SCALE
    assert submitter.reader(DEPOSIT_ROUTE).dest_state().nonce == 6


def test_a_batch_dropped_from_the_pool_is_sent_again_and_the_rest_follow(
    net: Net, validators: list[Validator], submitter: Submitter, manual_hub: None
) -> None:
    amounts = [10, 20, 30, 40, 50, 60]
    _signed_batches(net, validators, amounts)
    before = _credited(net)
    tick, pool = _start_with_full_window(net, submitter)
    net.hub.provider.make_request("anvil_dropTransaction", [pool[1]["hash"]])  # the middle one vanishes
    assert [t["hash"] for t in _pool(net)] == [pool[0]["hash"]]  # anvil drops the one queued behind it too
    result = _run_to_the_end(net, tick)
    assert result.delivered and result.batches == IN_FLIGHT and result.not_applied == 0, result
    assert (result.first_nonce, result.last_nonce) == (7, 12)
    assert _credited(net) == before + sum(amounts) * SCALE


def test_a_batch_whose_nonce_is_taken_is_resent_with_everything_behind_it_exactly_once(
    net: Net, validators: list[Validator], submitter: Submitter, manual_hub: None
) -> None:
    amounts = [100, 200, 300, 400, 500, 600]
    _signed_batches(net, validators, amounts)
    before = _credited(net)
    tick, pool = _start_with_full_window(net, submitter)
    # the middle batch's nonce goes to a plain transfer (an operator's cancel, another process with
    # the same key): that batch never lands and the one behind it reverts (the hub refuses the gap)
    middle = pool[1]
    cancel = {
        "type": 2, "chainId": HUB_ID, "nonce": int(middle["nonce"], 16), "to": SUBMITTER, "value": 0, "gas": 21_000,
        "maxFeePerGas": 3 * int(middle["maxFeePerGas"], 16),
        "maxPriorityFeePerGas": 3 * int(middle["maxPriorityFeePerGas"], 16),
    }
    net.hub.eth.send_raw_transaction(Account.from_key(SUBMITTER_KEY).sign_transaction(cancel).raw_transaction)
    result = _run_to_the_end(net, tick)
    # delivered: the first batch, then, sent again from the hub's processed nonce, the other two
    assert result.delivered and result.batches == IN_FLIGHT, result
    assert result.not_applied == 2 and result.recoveries == 1, result
    assert (result.first_nonce, result.last_nonce) == (13, 18)
    assert _credited(net) == before + sum(amounts) * SCALE
    assert submitter.reader(DEPOSIT_ROUTE).dest_state().nonce == 18
    assert net.ledger.functions.balanceOf(net.user, ASSET_ID).call() == _credited(net)


class _Recording(Validator):
    """A validator that notes when it proves a block's receipts."""

    events: list[tuple[str, int]]

    def _prove_block(self, route, reader, header, receipts, items):  # type: ignore[no-untyped-def]
        self.events.append(("prove", items[0].block_number))
        return super()._prove_block(route, reader, header, receipts, items)


class _Publisher:
    """Notes every signature published (and nothing else)."""

    def __init__(self, events: list[tuple[str, int]]) -> None:
        self.events = events

    def signature(self, route: object, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        self.events.append(("publish", nonce))

    def halt(self, route: object, validator: str, reason: str) -> None:
        raise AssertionError(reason)

    def alarm(self, route: object, text: str) -> None:
        raise AssertionError(text)


def test_a_validator_behind_by_several_blocks_publishes_each_block_before_proving_the_next(
    net: Net, tmp_path: Path
) -> None:
    _deposit(net, [1])
    _deposit(net, [2, 3])
    _deposit(net, [4])
    _finalize(net.spoke)
    events: list[tuple[str, int]] = []
    late = _Recording("late", VALIDATOR_KEYS[3], SignerDb(tmp_path / "late.sqlite"), _Publisher(events),  # type: ignore[arg-type]
                      net.deployment, net.clients)
    late.events = events
    result = late.tick(DEPOSIT_ROUTE)  # every block of the route so far, in one tick
    signed = list(result.signed)
    published = [k for k, (kind, _) in enumerate(events) if kind == "publish"]
    scan = events[: published[len(signed) - 1] + 1]  # then the tick re-publishes what the hub still needs
    proves = [block for kind, block in scan if kind == "prove"]
    assert len(proves) >= 3 and proves == sorted(proves)
    assert [n for kind, n in scan if kind == "publish"] == signed
    # strictly interleaved: a block's checkpoints leave before the next block's receipts are fetched
    assert scan[0][0] == "prove" and scan[-1][0] == "publish"
    assert all(kind == "publish" for (kind, _), (nxt, _) in zip(scan, scan[1:], strict=False) if nxt == "prove")
