"""Validators and a submitter on two real anvil chains: deposits credited once, withdrawals
released once, a Redis wipe loses nothing, replays are recognised, finality is waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from pydantic import SecretStr
from web3.exceptions import ContractCustomError

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from local_services import fixed_port, start_anvil, stop_process
from relayer.chain.abi import load_artifact
from relayer.chain.sender import TxRequest
from relayer.config import SubmitterConfig
from relayer.errors import HeadMismatchError
from relayer.proofs.checkpoint import pack_signatures, sign
from relayer.store.lease import lease
from relayer.store.redis_store import Store
from relayer.submitter.service import Submitter, is_batch_nonce_mismatch
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

from anvil_route_net import (
    ASSET_ID,
    CONFIRMATIONS,
    DEPOSIT_ROUTE,
    HUB_ID,
    Net,
    SCALE,
    SPOKE_ID,
    SUBMITTER_KEY,
    THRESHOLD,
    USER_KEY,
    VALIDATOR_KEYS,
    WITHDRAWAL_ROUTE,
    _credited,
    _deposit,
    _finalize,
    _setup,
    _wait,
    make_validators,
    net_fixture,
    store_fixture,
)
from anvil_route_net import pytestmark  # noqa: F401  (skipped without the contract artifacts)

HUB_PORT, SPOKE_PORT = fixed_port(8730), fixed_port(8731)


net = net_fixture(HUB_PORT, SPOKE_PORT)
store = store_fixture("it")


@pytest.fixture(scope="module")
def validators(net: Net, store: Store, tmp_path_factory: pytest.TempPathFactory) -> list[Validator]:
    return make_validators(net, store, tmp_path_factory.mktemp("validators"))  # exactly the threshold


@pytest.fixture(scope="module")
def submitter(net: Net, store: Store) -> Submitter:
    config = SubmitterConfig(key=SecretStr(SUBMITTER_KEY), stuck_after_s=20)
    return Submitter(config, store, net.deployment, net.clients)


def test_deposit_is_credited_once_after_finality(
    net: Net, validators: list[Validator], submitter: Submitter
) -> None:
    _deposit(net, [1_000_000])
    for v in validators:  # not final yet: nothing signed, nothing to deliver
        assert v.tick(DEPOSIT_ROUTE).signed == ()
    assert submitter.tick(DEPOSIT_ROUTE).reason == "up-to-date"
    _finalize(net.spoke)
    assert [v.tick(DEPOSIT_ROUTE).signed for v in validators] == [(1,)] * 3
    result = submitter.tick(DEPOSIT_ROUTE)
    assert result.delivered and (result.first_nonce, result.last_nonce) == (1, 1), result
    assert _credited(net) == 1_000_000 * SCALE
    # ticking again changes nothing
    assert [v.tick(DEPOSIT_ROUTE).signed for v in validators] == [()] * 3
    again = submitter.tick(DEPOSIT_ROUTE)
    assert not again.delivered and again.reason == "up-to-date" and again.processed_nonce == 1
    assert _credited(net) == 1_000_000 * SCALE


def test_below_threshold_nothing_is_delivered(net: Net, validators: list[Validator], submitter: Submitter) -> None:
    _deposit(net, [5])
    _finalize(net.spoke)
    for v in validators[:2]:
        assert v.tick(DEPOSIT_ROUTE).signed == (2,)
    assert submitter.tick(DEPOSIT_ROUTE).reason == "no-quorum"
    assert validators[2].tick(DEPOSIT_ROUTE).signed == (2,)
    assert submitter.tick(DEPOSIT_ROUTE).last_nonce == 2
    assert _credited(net) == (1_000_000 + 5) * SCALE


def test_batch_over_several_blocks_delivers_the_highest_checkpoint(
    net: Net, validators: list[Validator], submitter: Submitter
) -> None:
    _deposit(net, [10, 20, 30])  # nonces 3..5 in one block
    _deposit(net, [40])  # nonce 6
    _finalize(net.spoke)
    assert [v.tick(DEPOSIT_ROUTE).signed for v in validators] == [(5, 6)] * 3  # block boundaries only
    result = submitter.tick(DEPOSIT_ROUTE)
    assert (result.first_nonce, result.last_nonce) == (3, 6)
    assert _credited(net) == (1_000_000 + 5 + 100) * SCALE


def test_redis_wipe_loses_nothing(
    net: Net, store: Store, validators: list[Validator], submitter: Submitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deposit(net, [7])
    _finalize(net.spoke)
    for v in validators:
        assert v.tick(DEPOSIT_ROUTE).signed == (7,)
    assert [v.tick(DEPOSIT_ROUTE).republished for v in validators] == [0] * 3  # just published: not again yet
    store.redis.flushdb()  # the private Redis of this module only
    assert submitter.tick(DEPOSIT_ROUTE).reason == "up-to-date"
    for v in validators:  # as if republish_every_s had passed
        monkeypatch.setattr(v, "republish_every_s", 0.0)
    ticks = [v.tick(DEPOSIT_ROUTE) for v in validators]
    assert all(t.signed == () and t.republished == 1 for t in ticks)
    assert submitter.tick(DEPOSIT_ROUTE).last_nonce == 7


def test_second_submitter_backs_off_while_the_route_is_being_delivered(
    net: Net, validators: list[Validator], submitter: Submitter, store: Store
) -> None:
    _deposit(net, [3])
    _finalize(net.spoke)
    for v in validators:
        v.tick(DEPOSIT_ROUTE)
    before = _credited(net)
    with lease(store, f"submit:{DEPOSIT_ROUTE}", ttl_s=30):  # another submitter is mid-delivery
        busy = submitter.tick(DEPOSIT_ROUTE)
    assert busy.reason == "busy" and not busy.delivered and _credited(net) == before
    assert submitter.tick(DEPOSIT_ROUTE).delivered
    assert _credited(net) == before + 3 * SCALE


def test_replayed_batch_is_recognised_as_already_delivered(net: Net, submitter: Submitter, store: Store) -> None:
    reader = submitter.reader(DEPOSIT_ROUTE)
    assert reader.dest_state().nonce == 8
    assert store.signed_nonces(DEPOSIT_ROUTE) == [8]  # only the latest delivered checkpoint is kept
    head = submitter.source.fetch(DEPOSIT_ROUTE, 1, 7)[-1].head
    by_validator = {
        Account.from_key(k).address: sign(reader.checkpoint(7, head), HUB_ID, reader.dest_address, k)
        for k in VALIDATOR_KEYS[:THRESHOLD]
    }
    message = submitter.source.fetch(DEPOSIT_ROUTE, 7, 7)
    dest = submitter.dest_contract(DEPOSIT_ROUTE)
    replay = dest.functions.processDeposits(
        [m.message.as_tuple() for m in message],
        reader.checkpoint(7, head).as_tuple(),
        pack_signatures(by_validator),
    )
    with pytest.raises(ContractCustomError) as info:
        replay.call({"from": submitter.account.address})
    assert is_batch_nonce_mismatch(info.value)


def test_quorum_over_a_head_the_source_chain_does_not_show_is_refused(
    net: Net, validators: list[Validator], submitter: Submitter, store: Store
) -> None:
    reader = submitter.reader(DEPOSIT_ROUTE)
    processed = reader.dest_state().nonce
    _deposit(net, [4])
    _finalize(net.spoke)
    forged = reader.checkpoint(processed + 1, b"\x66" * 32)  # e.g. an amount of 4_000_000 instead
    for key in VALIDATOR_KEYS[:THRESHOLD]:  # stolen keys, or a lying RPC behind every validator
        store.publish_signature(
            DEPOSIT_ROUTE, forged.nonce, forged.head, Account.from_key(key).address,
            sign(forged, HUB_ID, reader.dest_address, key),
        )
    before = _credited(net)
    with pytest.raises(HeadMismatchError):
        submitter.tick(DEPOSIT_ROUTE)
    assert any("differs from the source chain" in a.text for a in store.alarms())
    assert reader.dest_state().nonce == processed and _credited(net) == before
    for v in validators:  # the honest checkpoint appears beside the forged one: it is the one delivered
        assert v.tick(DEPOSIT_ROUTE).signed == (processed + 1,)
    assert submitter.tick(DEPOSIT_ROUTE).delivered
    assert _credited(net) == before + 4 * SCALE


def test_withdrawal_route_is_served_by_the_same_code(
    net: Net, validators: list[Validator], submitter: Submitter
) -> None:
    recipient = Account.from_key(keccak(text="xmargin-test-recipient")).address
    request = net.ledger.functions.requestWithdrawal(ASSET_ID, 400 * SCALE, SPOKE_ID, recipient)
    _wait(net.hub, request.transact({"from": net.user}))
    assert submitter.tick(WITHDRAWAL_ROUTE).reason == "up-to-date"
    _finalize(net.hub)
    assert [v.tick(WITHDRAWAL_ROUTE).signed for v in validators] == [(1,)] * 3
    result = submitter.tick(WITHDRAWAL_ROUTE)
    assert result.delivered and result.last_nonce == 1
    assert net.usdc.functions.balanceOf(recipient).call() == 400
    assert submitter.tick(WITHDRAWAL_ROUTE).reason == "up-to-date"
    assert net.usdc.functions.balanceOf(recipient).call() == 400


def test_nonces_of_concurrent_sends_from_one_account_never_collide(net: Net, submitter: Submitter) -> None:
    sender = submitter.sender(SPOKE_ID)
    results, errors = [], []

    def send() -> None:
        try:
            results.append(sender.send(TxRequest(to=net.user, value=1, gas=21_000)))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len({r.nonce for r in results}) == 4
    assert all(r.status == 1 for r in results)

def test_deposit_over_the_inflow_limit_is_credited_later_exactly_once(
    net: Net, validators: list[Validator], submitter: Submitter
) -> None:
    """The hub queues what is above the (spoke, asset) bucket; the submitter's deposit ticks
    release it as the bucket refills, in full and once."""
    limit = net.ledger.functions.setInflowLimit
    _wait(net.hub, limit(SPOKE_ID, ASSET_ID, 10 * 10**6 * SCALE, 5 * 10**6 * SCALE).transact())  # 10 USDC, 5/s
    before = _credited(net)
    try:
        _deposit(net, [25 * 10**6])
        _finalize(net.spoke)
        for v in validators:
            v.tick(DEPOSIT_ROUTE)
        submitter.releases._checked.clear()  # look at the queue on this very tick
        assert submitter.tick(DEPOSIT_ROUTE).delivered
        credited_at_once = _credited(net) - before
        assert credited_at_once < 25 * 10**6 * SCALE  # the rest is queued, not lost
        limiter = net.hub.eth.contract(
            address=net.ledger.functions.inflowLimiter().call(), abi=load_artifact("InflowLimiter").abi
        )
        queued = limiter.functions.deferredOf(SPOKE_ID, ASSET_ID).call()[1]
        assert queued * SCALE == 25 * 10**6 * SCALE - credited_at_once
        deadline = time.monotonic() + 60
        released: dict[str, str] = {}
        while _credited(net) - before < 25 * 10**6 * SCALE and time.monotonic() < deadline:
            released |= submitter.tick(DEPOSIT_ROUTE).released
            time.sleep(0.5)
            net.hub.provider.make_request("evm_mine", [])  # the hub's clock moves with its blocks
        assert _credited(net) - before == 25 * 10**6 * SCALE, "the queued rest was not credited in time"
        assert released and "USDC" in released
        assert limiter.functions.deferredOf(SPOKE_ID, ASSET_ID).call()[:2] == [0, 0]
        time.sleep(3.5)  # past the release check interval: a further tick credits nothing twice
        assert submitter.tick(DEPOSIT_ROUTE).released == {}
        assert _credited(net) - before == 25 * 10**6 * SCALE
    finally:
        _wait(net.hub, limit(SPOKE_ID, ASSET_ID, 0, 0).transact())



@pytest.fixture(scope="module")
def fresh_net() -> Iterator[Net]:
    """A second, separate pair of chains for the reorg test (it rewrites spoke history)."""
    procs = [start_anvil(HUB_PORT + 2, HUB_ID), start_anvil(SPOKE_PORT + 2, SPOKE_ID)]
    try:
        yield _setup(HUB_PORT + 2, SPOKE_PORT + 2)
    finally:
        for proc in procs:
            stop_process(proc)


def test_reorg_deeper_than_a_signed_checkpoint_halts_the_route_and_signs_nothing_more(
    fresh_net: Net, roles_redis_url: str, tmp_path: Path  # noqa: F811
) -> None:
    net = fresh_net
    store = Store(roles_redis_url, prefix="reorg")
    db = SignerDb(tmp_path / "v0.sqlite")
    validator = Validator("v0", VALIDATOR_KEYS[0], db, store, net.deployment, net.clients)
    user_nonce = net.spoke.eth.get_transaction_count(net.user)
    _deposit(net, [111])
    _finalize(net.spoke)
    assert validator.tick(DEPOSIT_ROUTE).signed == (1,)
    signed_head = validator.db.signed(DEPOSIT_ROUTE, net.lockbox.address, net.ledger.address, 1).head

    # The deposit block and the two on top of it are replaced: nonce 1 now carries another amount,
    # in a block of another boundary (a filler block first, so the deposit moves one block up).
    other = net.lockbox.functions.deposit(net.usdc.address, 222, net.user).build_transaction(
        {"from": net.user, "nonce": user_nonce, "gas": 300_000, "maxFeePerGas": 10**11,
         "maxPriorityFeePerGas": 10**9, "chainId": SPOKE_ID}
    )
    raw = Account.from_key(USER_KEY).sign_transaction(other).raw_transaction
    net.spoke.provider.make_request("anvil_reorg", [1 + CONFIRMATIONS, [["0x" + bytes(raw).hex(), 1]]])
    _finalize(net.spoke)
    assert net.lockbox.functions.depositRoute().call()[0] == 1

    result = validator.tick(DEPOSIT_ROUTE)
    assert result.halted is not None and "reorg past a signed checkpoint" in result.halted
    assert result.signed == ()
    assert validator.db.halted(DEPOSIT_ROUTE) is not None
    texts = [a.text for a in store.alarms() if a.route == str(DEPOSIT_ROUTE)]
    assert any("replaced" in t for t in texts) and any("route halted" in t for t in texts)
    assert store.halts(DEPOSIT_ROUTE) == {validator.address: validator.db.halted(DEPOSIT_ROUTE)}
    # no second signature for nonce 1, now or on later ticks; the halt is reported again after a wipe
    assert list(store.signatures_for(DEPOSIT_ROUTE, 1)) == [signed_head]
    store.redis.delete(store._halts_key(DEPOSIT_ROUTE))
    for _ in range(2):
        _finalize(net.spoke)
        assert validator.tick(DEPOSIT_ROUTE).halted is not None
    assert list(store.signatures_for(DEPOSIT_ROUTE, 1)) == [signed_head]
    assert validator.db.signed(DEPOSIT_ROUTE, net.lockbox.address, net.ledger.address, 1).head == signed_head
    assert validator.address in store.halts(DEPOSIT_ROUTE)
    store.redis.close()
