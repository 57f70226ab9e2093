"""A deposit whose block is reorged away before finality is never credited; its re-included version once."""

from __future__ import annotations

from helpers import deposit_routes, fresh_account, hub_balance, wait_caught_up

from relayer.devnet._proc import poll
from relayer.devnet.chains import rpc_call
from relayer.services.routes import route_status

SCALE_USDC = 10**12


def test_deposit_reorged_away_before_finality_is_never_credited(devnet, ctx, depositors) -> None:
    layout = devnet.layout
    url = layout.rpc_url(layout.chain("spoke-a"))
    route = next(r for r in deposit_routes(ctx) if r.source_chain_id == layout.chain("spoke-a").chain_id)
    kept, dropped = fresh_account("reorg-kept"), fresh_account("reorg-dropped")
    alice, bob = depositors[("alice", "spoke-a")], depositors[("bob", "spoke-a")]
    wait_caught_up(ctx, [route])
    nonce_before = route_status(ctx, route).source_nonce

    rpc_call(url, "evm_setIntervalMining", [0])
    try:
        kept_raw, _ = alice.deposit_tx("USDC", 11 * 10**6, kept)
        dropped_raw, _ = bob.deposit_tx("USDC", 22 * 10**6, dropped)
        for raw in (kept_raw, dropped_raw):
            rpc_call(url, "eth_sendRawTransaction", ["0x" + raw.hex()])
        rpc_call(url, "evm_mine")  # block N: both deposits (nonces n+1, n+2)
        rpc_call(url, "evm_mine")  # block N+1: one confirmation, still short of the 2 required
        assert route_status(ctx, route).source_nonce == nonce_before + 2
        # Replace N and N+1: `kept` is re-included in the second new block, `dropped` is gone.
        rpc_call(url, "anvil_reorg", [2, [["0x" + kept_raw.hex(), 1]]])
        assert route_status(ctx, route).source_nonce == nonce_before + 1
    finally:
        rpc_call(url, "evm_setIntervalMining", [layout.block_time])
    bob.nonce -= 1  # bob's dropped transaction no longer uses its nonce

    status = wait_caught_up(ctx, [route])[0]
    assert status.processed_nonce == nonce_before + 1
    assert hub_balance(ctx, kept, "USDC") == 11 * 10**6 * SCALE_USDC
    assert hub_balance(ctx, dropped, "USDC") == 0
    # and it stays that way once the replacement blocks are final
    poll(lambda: route_status(ctx, route).lag_blocks == 0, "route to stay caught up", 10)
    assert hub_balance(ctx, dropped, "USDC") == 0
