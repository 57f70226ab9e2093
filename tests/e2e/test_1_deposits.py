"""Deposits from both spokes reach the hub ledger exactly once."""

from __future__ import annotations

from helpers import deposit_routes, fresh_account, hub_balance, processed_counts, wait_caught_up

from relayer.services.routes import route_status

SCALE_USDC = 10**12  # 6-decimal USDC -> 18-decimal ledger asset


def test_deposits_from_both_spokes_are_credited_exactly_once(ctx, depositors) -> None:
    alice, bob = fresh_account("both-spokes-alice"), fresh_account("both-spokes-bob")
    sent = [
        depositors[("alice", "spoke-a")].send([("USDC", 100_000_000, alice), ("USDC", 5_000_000, alice), ("WETH", 10**18, bob)]),
        depositors[("bob", "spoke-b")].send([("USDC", 7_000_000, bob), ("ETH", 3 * 10**17, alice)]),
    ]
    depositors[("alice", "spoke-a")].wait(sent[0])
    depositors[("bob", "spoke-b")].wait(sent[1])

    statuses = wait_caught_up(ctx, deposit_routes(ctx))

    assert hub_balance(ctx, alice, "USDC") == 105_000_000 * SCALE_USDC
    assert hub_balance(ctx, alice, "ETH") == 3 * 10**17
    assert hub_balance(ctx, bob, "USDC") == 7_000_000 * SCALE_USDC
    assert hub_balance(ctx, bob, "ETH") == 10**18
    for status in statuses:
        route = next(r for r in deposit_routes(ctx) if str(r) == status.route)
        # every message of the route was applied by exactly one batch: no gap, no double count
        assert processed_counts(ctx, route) == status.processed_nonce == status.source_nonce


def test_a_credited_route_stays_put_without_new_deposits(ctx) -> None:
    """Nothing is credited twice later: processed nonces do not move past the source."""
    before = {str(r): route_status(ctx, r) for r in deposit_routes(ctx)}
    after = wait_caught_up(ctx, deposit_routes(ctx))
    for status in after:
        assert status.processed_nonce == status.source_nonce
        assert status.processed_nonce >= before[status.route].processed_nonce
