"""Crash and cache-loss faults: a SIGKILLed worker and a wiped Redis lose nothing and double nothing."""

from __future__ import annotations

import redis
from helpers import deposit_routes, fresh_account, hub_balance, processed_counts, wait_caught_up, wait_processed_beyond

from relayer.devnet import processes
from relayer.services.routes import route_status

SCALE_USDC = 10**12
WAVE = 6


def _waves(depositors, account: str, wave: int) -> list:
    """One wave: WAVE USDC deposits of 1 + wave USDC on each spoke, for `account`."""
    units = (1 + wave) * 10**6
    return [
        (depositors[("alice", "spoke-a")], depositors[("alice", "spoke-a")].send([("USDC", units, account)] * WAVE)),
        (depositors[("bob", "spoke-b")], depositors[("bob", "spoke-b")].send([("USDC", units, account)] * WAVE)),
    ]


def _mined(sent) -> None:
    for depositor, hashes in sent:
        depositor.wait(hashes)


def _assert_exactly_once(ctx, account: str, waves: int) -> None:
    statuses = wait_caught_up(ctx, deposit_routes(ctx))
    expected = sum(2 * WAVE * (1 + w) * 10**6 for w in range(waves)) * SCALE_USDC
    assert hub_balance(ctx, account, "USDC") == expected
    for route in deposit_routes(ctx):
        status = next(s for s in statuses if s.route == str(route))
        assert processed_counts(ctx, route) == status.processed_nonce == status.source_nonce


def test_workers_killed_with_sigkill_mid_run_still_credit_every_deposit_once(devnet, ctx, depositors) -> None:
    account = fresh_account("sigkill")
    routes = deposit_routes(ctx)
    start = {r: route_status(ctx, r).processed_nonce for r in routes}
    _mined(_waves(depositors, account, 0))
    wait_processed_beyond(ctx, routes, start)  # the relayer is at work on this wave

    for name in ("submitter", "validator-1"):
        devnet.find(name).kill()  # SIGKILL to the whole process group, no clean shutdown
    _mined(_waves(depositors, account, 1))  # arrives while they are dead
    for name in ("submitter", "validator-1"):
        devnet.replace(name, processes.restart(name, devnet.layout))

    _assert_exactly_once(ctx, account, waves=2)


def test_redis_wiped_mid_run_loses_nothing(devnet, ctx, depositors, flush_redis) -> None:
    account = fresh_account("flush")
    routes = deposit_routes(ctx)
    start = {r: route_status(ctx, r).processed_nonce for r in routes}
    _mined(_waves(depositors, account, 0))
    wait_processed_beyond(ctx, routes, start)

    client = redis.Redis.from_url(devnet.layout.redis_url)
    wipe = client.pipeline(transaction=True)  # one MULTI: no worker write can land between the two
    wipe.execute_command(flush_redis)  # signatures, cursors, locks and queued tasks are gone
    wipe.dbsize()
    assert wipe.execute()[-1] == 0
    _mined(_waves(depositors, account, 1))

    _assert_exactly_once(ctx, account, waves=2)
