"""A parked release recovered from the hub (issue 9, case 3): the recipient reverts, so the release
parks on the spoke; the hub account that withdrew redirects it through the ledger, the validators
sign and the submitter delivers the recovery message like any withdrawal, and the new recipient is
paid on the spoke, exactly once."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from relayer.devnet.chains import rpc_call
from relayer.devnet.deploy import Deployer
from relayer.errors import ActionError
from relayer.services import explorer, recovery, transfers
from relayer.services.audit import audit
from relayer.types import NATIVE_TOKEN, RouteKind

from helpers import deposit_routes, hub_balance, wait_caught_up

ETH = 10**18
REVERT = 1  # RevertingReceiver.Mode.Revert
FAILED = 2


def _trader_and_refusing_receiver(devnet, label: str) -> tuple[str, str, str]:
    """A fresh account with gas on the hub and spoke B, and a contract on B that refuses payments."""
    spoke_b = devnet.layout.chain("spoke-b")
    key = "0x" + keccak(text=f"xmargin-e2e-trader-{label}").hex()
    trader = Account.from_key(key).address
    for chain in ("hub", "spoke-b"):
        rpc_call(devnet.layout.rpc_url(devnet.layout.chain(chain)), "anvil_setBalance", [trader, hex(100 * ETH)])
    deployer = Deployer.connect(spoke_b, devnet.layout.rpc_url(spoke_b), key)
    receiver = deployer.deploy("RevertingReceiver", REVERT)
    deployer.wait()
    return trader, key, receiver


def test_release_parked_by_a_reverting_recipient_is_redirected_from_the_hub_and_paid_once(devnet, ctx) -> None:
    spoke_b = devnet.layout.chain("spoke-b")
    trader, key, receiver = _trader_and_refusing_receiver(devnet, "recovery")
    new_recipient = Account.from_key(keccak(text="xmargin-e2e-recovery-new-recipient")).address

    transfers.deposit(ctx, "spoke-b", "ETH", "3", trader, key)
    wait_caught_up(ctx, deposit_routes(ctx))
    assert hub_balance(ctx, trader, "ETH") == 3 * ETH
    withdrawal_routes = [r for r in ctx.deployment.routes() if r.kind is RouteKind.WITHDRAWAL]

    nonce = transfers.withdraw(ctx, "ETH", "2", "spoke-b", receiver, key).route_nonce
    wait_caught_up(ctx, withdrawal_routes)
    lockbox = ctx.lockbox(spoke_b.chain_id)
    client = ctx.client(spoke_b.chain_id)
    owner, reason, recipient, _, amount = client.call(lockbox.functions.pendingRelease(nonce))
    assert (owner, int(reason), recipient, int(amount)) == (trader, FAILED, receiver, 2 * ETH)

    recovery_nonce = recovery.request_recovery(ctx, "spoke-b", nonce, new_recipient, key).route_nonce
    wait_caught_up(ctx, withdrawal_routes)

    assert client.w3.eth.get_balance(new_recipient) == 2 * ETH
    assert client.w3.eth.get_balance(receiver) == 0
    assert int(client.call(lockbox.functions.pendingRelease(nonce))[1]) == 0
    views = {v.nonce: v for v in explorer.account_messages(ctx, trader) if v.recovery_target is not None}
    assert views[recovery_nonce].recovery_target == nonce
    assert "redirected to" in views[recovery_nonce].detail
    with pytest.raises(ActionError, match="not parked"):  # a second redirect or refund: nothing left
        recovery.request_recovery(ctx, "spoke-b", nonce, None, key)
    assert hub_balance(ctx, trader, "ETH") == 1 * ETH
    report = audit(ctx)
    assert report.ok, report.breaches


def test_parked_release_refunded_from_the_hub_comes_back_as_a_deposit_credited_once(devnet, ctx) -> None:
    spoke_b = devnet.layout.chain("spoke-b")
    trader, key, receiver = _trader_and_refusing_receiver(devnet, "refund")
    transfers.deposit(ctx, "spoke-b", "ETH", "3", trader, key)
    wait_caught_up(ctx, deposit_routes(ctx))
    withdrawal_routes = [r for r in ctx.deployment.routes() if r.kind is RouteKind.WITHDRAWAL]
    nonce = transfers.withdraw(ctx, "ETH", "2", "spoke-b", receiver, key).route_nonce
    wait_caught_up(ctx, withdrawal_routes)
    assert hub_balance(ctx, trader, "ETH") == 1 * ETH
    lockbox, client = ctx.lockbox(spoke_b.chain_id), ctx.client(spoke_b.chain_id)
    custodied = int(client.call(lockbox.functions.custodied(NATIVE_TOKEN)))

    recovery.request_recovery(ctx, "spoke-b", nonce, None, key)
    wait_caught_up(ctx, withdrawal_routes)
    wait_caught_up(ctx, deposit_routes(ctx))  # the refund travels back as a deposit from the lockbox

    assert hub_balance(ctx, trader, "ETH") == 3 * ETH
    assert int(client.call(lockbox.functions.pendingRelease(nonce))[1]) == 0
    assert int(client.call(lockbox.functions.custodied(NATIVE_TOKEN))) == custodied
    assert client.w3.eth.get_balance(receiver) == 0
    with pytest.raises(ActionError, match="not parked"):
        recovery.request_recovery(ctx, "spoke-b", nonce, None, key)
    report = audit(ctx)
    assert report.ok, report.breaches
