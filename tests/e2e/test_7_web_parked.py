"""A withdrawal parked on a spoke (its recipient, a RevertingReceiver, refuses the payout), recovered
from the web app in headless Chromium against the running devnet: refunded to the hub balance, or
retried on the spoke (refused with the reason while the recipient still refuses, then paid once it
accepts). The browser and page fixtures are in conftest.py."""

from __future__ import annotations

import re
from decimal import Decimal

import requests
from eth_account import Account
from eth_utils import keccak
from playwright import sync_api as playwright_api

from relayer.devnet.chains import rpc_call
from relayer.devnet.deploy import Deployer

from web_helpers import ARTIFACTS, BOB, TIMEOUT_MS, api, api_balance, balance_cell, outcome, shown, submit

RECEIVER_KEY = "0x" + keccak(text="xmargin-e2e-web-receiver-deployer").hex()
"""Deploys (and later switches) the refusing receivers on spoke B: a test-only key."""
REVERT, ACCEPT = 1, 0
"""RevertingReceiver.Mode."""


def _post(devnet, path: str, body: dict) -> requests.Response:
    return requests.post(f"http://127.0.0.1:{devnet.layout.api_port}/v1{path}", json=body, timeout=90)


def _receiver_deployer(devnet) -> Deployer:
    spoke_b = devnet.layout.chain("spoke-b")
    rpc_call(devnet.layout.rpc_url(spoke_b), "anvil_setBalance", [Account.from_key(RECEIVER_KEY).address, hex(10**20)])
    return Deployer.connect(spoke_b, devnet.layout.rpc_url(spoke_b), RECEIVER_KEY)


def _refusing_receiver(devnet) -> str:
    """A contract on spoke B that refuses native payments (RevertingReceiver): a release to it parks."""
    deployer = _receiver_deployer(devnet)
    receiver = deployer.deploy("RevertingReceiver", REVERT)
    deployer.wait()
    return str(receiver)


def _accept_payments(devnet, receiver: str) -> None:
    """Switch `receiver` to accepting payments (the cause of the parking is gone)."""
    deployer = _receiver_deployer(devnet)
    deployer.call("accept payments", deployer.contract("RevertingReceiver", receiver).functions.setMode(ACCEPT))
    deployer.wait()


def _park_a_withdrawal(devnet, tab, receiver: str) -> tuple[int, Decimal]:
    """Deposit 1 ETH on spoke B and withdraw 0.5 ETH there to `receiver` from the page; wait until the
    page shows it parked, with its recovery buttons. Returns (withdrawal nonce, bob's ETH after the deposit)."""
    eth = balance_cell(tab, "ETH")
    before = api_balance(devnet, BOB, "ETH")
    assert submit(tab, "#deposit-form", chain="spoke-b", token="ETH", amount="1").startswith("done: tx 0x")
    funded = before + 1
    playwright_api.expect(eth).to_have_text(shown(funded), timeout=TIMEOUT_MS)
    text = submit(tab, "#withdraw-form", asset="ETH", amount="0.5", to_chain="spoke-b", recipient=receiver)
    tab.locator("#withdraw-form [name=recipient]").fill("")  # later withdrawals pay bob again
    assert text.startswith("done: tx 0x"), text
    nonce = int(text.rsplit("nonce ", 1)[1])
    row = tab.locator("#withdrawals tbody tr", has=tab.locator(f"button[data-nonce='{nonce}']"))
    playwright_api.expect(row.locator("button[data-action=refund]")).to_be_visible(timeout=TIMEOUT_MS)
    playwright_api.expect(row).to_contain_text("parked")
    playwright_api.expect(row).to_contain_text("the payout failed")
    playwright_api.expect(row.locator("button[data-action=retry]")).to_be_visible()
    playwright_api.expect(row.locator("button[data-action=redirect]")).to_be_visible()
    playwright_api.expect(eth).to_have_text(shown(funded - Decimal("0.5")))
    return nonce, funded


def test_a_parked_withdrawal_is_refunded_to_the_hub_balance_from_the_page(devnet, page) -> None:
    tab = page
    receiver = _refusing_receiver(devnet)
    nonce, funded = _park_a_withdrawal(devnet, tab, receiver)
    tab.screenshot(path=str(ARTIFACTS / "parked.png"), full_page=True)

    tab.locator(f"#withdrawals button[data-action=refund][data-chain=spoke-b][data-nonce='{nonce}']").click()
    done = outcome(tab)
    assert done.startswith("done: tx 0x") and ", nonce " in done, done
    recovered = tab.locator("#withdrawals tbody tr", has_text=f"withdrawal {nonce} refunded")
    playwright_api.expect(recovered.first).to_be_visible(timeout=TIMEOUT_MS)
    playwright_api.expect(balance_cell(tab, "ETH")).to_have_text(shown(funded),
                                                                 timeout=TIMEOUT_MS)  # back as a deposit
    mine = [w for w in api(devnet, f"/accounts/{BOB}/pending")["withdrawals"] if w["nonce"] == nonce]
    assert [w["state"] for w in mine if w["recovery_target"] is None] == ["recovered"]
    playwright_api.expect(tab.locator("#withdrawals tbody tr", has_text="recovered")).to_contain_text(
        f"withdrawal {nonce} refunded", timeout=30_000)
    assert tab.locator(f"#withdrawals button[data-nonce='{nonce}']").count() == 0
    tab.screenshot(path=str(ARTIFACTS / "recovered.png"), full_page=True)


def test_a_parked_withdrawal_is_retried_from_the_page_once_its_recipient_accepts(devnet, ctx, page) -> None:
    tab = page
    receiver = _refusing_receiver(devnet)
    nonce, _ = _park_a_withdrawal(devnet, tab, receiver)
    spoke_b = ctx.chain_id_of("spoke-b")
    lockbox, client = ctx.lockbox(spoke_b), ctx.client(spoke_b)
    _, _, recipient, _, parked = client.call(lockbox.functions.pendingRelease(nonce))
    assert recipient == receiver and int(parked) > 0
    retry = tab.locator(f"#withdrawals button[data-action=retry][data-chain=spoke-b][data-nonce='{nonce}']")

    retry.click()  # the recipient still refuses: not allowed now, and the page says why
    refused = outcome(tab)
    assert refused.startswith(f"refused: retry not possible now: paying withdrawal {nonce} to {receiver} on "
                              "spoke-b still fails"), refused
    assert "it stays parked" in refused and "(action_refused)" in refused
    assert "error" in str(tab.locator("#action-result").get_attribute("class"))
    assert int(client.call(lockbox.functions.pendingRelease(nonce))[1]) != 0
    tab.screenshot(path=str(ARTIFACTS / "retry-refused.png"), full_page=True)
    body = {"account": BOB, "chain": "spoke-b", "nonce": nonce}
    plan = _post(devnet, "/tx/retry", body)  # a wallet would be refused the same way, before signing
    said = refused.removeprefix("refused: ").removesuffix(" (action_refused)")
    assert plan.status_code == 422 and plan.json()["error"]["message"] == said, plan.text

    _accept_payments(devnet, receiver)
    plan = _post(devnet, "/tx/retry", body).json()  # what a wallet would now be asked to sign: one step on B
    assert [(s["chain_id"], s["to"], s["data"]) for s in plan["steps"]] == [
        (spoke_b, lockbox.address, lockbox.functions.retryRelease(nonce)._encode_transaction_data())], plan
    retry.click()
    done = outcome(tab)
    assert done.startswith("done: tx 0x") and done.endswith(f", withdrawal {nonce} paid to {receiver} on spoke-b"), done
    assert client.w3.eth.get_balance(receiver) == int(parked)  # released on the spoke, to its recipient
    assert int(client.call(lockbox.functions.pendingRelease(nonce))[1]) == 0
    row = tab.locator("#withdrawals tbody tr", has_text=re.compile(f"released to {receiver} on spoke-b", re.I))
    playwright_api.expect(row).to_have_count(1, timeout=TIMEOUT_MS)  # live, without a reload
    assert tab.locator(f"#withdrawals button[data-nonce='{nonce}']").count() == 0
    mine = [w for w in api(devnet, f"/accounts/{BOB}/pending")["withdrawals"] if w["nonce"] == nonce]
    assert [w["state"] for w in mine if w["recovery_target"] is None] == ["released"]
    again = _post(devnet, "/tx/retry", body)
    assert again.status_code == 422 and "is not parked on spoke-b" in again.json()["error"]["message"], again.text
    tab.screenshot(path=str(ARTIFACTS / "retried.png"), full_page=True)
