"""Withdrawals to any spoke: released exactly once, also when the submitter is SIGKILLed and Redis
wiped mid-withdrawal."""

from __future__ import annotations

import redis
from eth_account import Account
from eth_utils import keccak
from helpers import deposit_routes, hub_balance, wait_caught_up
from web3 import Web3

from relayer.devnet import processes
from relayer.devnet.chains import rpc_call
from relayer.services import transfers
from relayer.services.audit import audit
from relayer.types import RouteKind

SCALE_USDC = 10**12


def _trader(ctx, devnet, label: str) -> tuple[str, str]:
    """A fresh hub account with gas on the hub (anvil_setBalance) and its key."""
    key = "0x" + keccak(text=f"xmargin-e2e-trader-{label}").hex()
    address = Account.from_key(key).address
    hub = devnet.layout.chain("hub")
    rpc_call(devnet.layout.rpc_url(hub), "anvil_setBalance", [address, hex(10**20)])
    return address, key


def _usdc(ctx, chain_id: int, owner: str) -> int:
    token = ctx.deployment.tokens[chain_id]["USDC"].address
    erc20 = ctx.erc20(chain_id, token)
    return int(erc20.functions.balanceOf(Web3.to_checksum_address(owner)).call())


def _withdrawal_routes(ctx):
    return [r for r in ctx.deployment.routes() if r.kind is RouteKind.WITHDRAWAL]


def test_withdrawals_to_both_spokes_are_released_exactly_once(devnet, ctx, depositors, flush_redis) -> None:
    spoke_a, spoke_b = devnet.layout.chain("spoke-a").chain_id, devnet.layout.chain("spoke-b").chain_id
    trader, key = _trader(ctx, devnet, "round-trip")
    recipient = Account.from_key(keccak(text="xmargin-e2e-recipient-round-trip")).address
    liquidity_provider = Account.from_key(keccak(text="xmargin-e2e-lp-round-trip")).address
    sent_a = depositors[("alice", "spoke-a")].send([("USDC", 100 * 10**6, trader)])
    sent_b = depositors[("bob", "spoke-b")].send([("USDC", 50 * 10**6, liquidity_provider)])  # USDC liquidity on B
    depositors[("alice", "spoke-a")].wait(sent_a)
    depositors[("bob", "spoke-b")].wait(sent_b)
    wait_caught_up(ctx, deposit_routes(ctx))
    assert hub_balance(ctx, trader, "USDC") == 100 * 10**6 * SCALE_USDC

    transfers.withdraw(ctx, "USDC", "30", "spoke-b", recipient, key)  # deposited on A, out on B
    devnet.find("submitter").kill()  # SIGKILL mid-withdrawal
    transfers.withdraw(ctx, "USDC", "70", "spoke-a", recipient, key)
    redis.Redis.from_url(devnet.layout.redis_url).execute_command(flush_redis)  # and the cache is gone
    devnet.replace("submitter", processes.restart("submitter", devnet.layout))

    wait_caught_up(ctx, _withdrawal_routes(ctx))
    assert _usdc(ctx, spoke_b, recipient) == 30 * 10**6
    assert _usdc(ctx, spoke_a, recipient) == 70 * 10**6
    assert hub_balance(ctx, trader, "USDC") == 0
    report = audit(ctx)
    assert report.ok, report.breaches
