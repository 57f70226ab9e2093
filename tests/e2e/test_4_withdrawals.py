"""Withdrawals to any spoke: released exactly once, also when the submitter is SIGKILLed and Redis
wiped mid-withdrawal."""

from __future__ import annotations

import redis
from eth_account import Account
from eth_utils import keccak
from helpers import deposit_routes, hub_balance, wait_caught_up
from web3 import Web3

from relayer.api import actions
from relayer.api.audit import audit
from relayer.devnet import processes
from relayer.devnet.chains import rpc_call
from relayer.types import RouteKind

SCALE_USDC = 10**12


def _trader(backend, devnet, label: str) -> tuple[str, str]:
    """A fresh hub account with gas on the hub (anvil_setBalance) and its key."""
    key = "0x" + keccak(text=f"xmargin-e2e-trader-{label}").hex()
    address = Account.from_key(key).address
    hub = devnet.layout.chain("hub")
    rpc_call(devnet.layout.rpc_url(hub), "anvil_setBalance", [address, hex(10**20)])
    return address, key


def _usdc(backend, chain_id: int, owner: str) -> int:
    token = backend.deployment.tokens[chain_id]["USDC"].address
    erc20 = backend.client(chain_id).w3.eth.contract(address=token, abi=actions._ERC20_ABI)
    return int(erc20.functions.balanceOf(Web3.to_checksum_address(owner)).call())


def _withdrawal_routes(backend):
    return [r for r in backend.deployment.routes() if r.kind is RouteKind.WITHDRAWAL]


def test_withdrawals_to_both_spokes_are_released_exactly_once(devnet, backend, depositors, flush_redis) -> None:
    spoke_a, spoke_b = devnet.layout.chain("spoke-a").chain_id, devnet.layout.chain("spoke-b").chain_id
    trader, key = _trader(backend, devnet, "round-trip")
    recipient = Account.from_key(keccak(text="xmargin-e2e-recipient-round-trip")).address
    liquidity_provider = Account.from_key(keccak(text="xmargin-e2e-lp-round-trip")).address
    sent_a = depositors[("alice", "spoke-a")].send([("USDC", 100 * 10**6, trader)])
    sent_b = depositors[("bob", "spoke-b")].send([("USDC", 50 * 10**6, liquidity_provider)])  # USDC liquidity on B
    depositors[("alice", "spoke-a")].wait(sent_a)
    depositors[("bob", "spoke-b")].wait(sent_b)
    wait_caught_up(backend, deposit_routes(backend))
    assert hub_balance(backend, trader, "USDC") == 100 * 10**6 * SCALE_USDC

    actions.withdraw(backend, "USDC", "30", "spoke-b", recipient, key)  # deposited on A, out on B
    devnet.find("submitter").kill()  # SIGKILL mid-withdrawal
    actions.withdraw(backend, "USDC", "70", "spoke-a", recipient, key)
    redis.Redis.from_url(devnet.layout.redis_url).execute_command(flush_redis)  # and the cache is gone
    devnet.replace("submitter", processes.restart("submitter", devnet.layout))

    wait_caught_up(backend, _withdrawal_routes(backend))
    assert _usdc(backend, spoke_b, recipient) == 30 * 10**6
    assert _usdc(backend, spoke_a, recipient) == 70 * 10**6
    assert hub_balance(backend, trader, "USDC") == 0
    report = audit(backend)
    assert report.ok, report.breaches
