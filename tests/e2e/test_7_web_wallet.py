"""The web app with an injected wallet, in headless Chromium against the running devnet: an EIP-1193
provider over the devnet's anvils, for an account the server has no key for. A deposit and a
withdrawal are signed by the wallet and credited / paid, a refused withdrawal asks the wallet for
nothing, and the server-signed actions are never called. The browser fixture is in conftest.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_utils import keccak
from playwright import sync_api as playwright_api

from relayer.chain.abi import abi_of
from relayer.devnet.chains import rpc_call

from web_helpers import ARTIFACTS, TIMEOUT_MS, api, api_balance, balance_cell, submit

WALLET = Account.from_key(keccak(text="xmargin-e2e-web-wallet")).address
"""An account the API has no key for: anvil signs for it (anvil_impersonateAccount), as a wallet would."""

PROVIDER = """
(() => {
  const cfg = %s;  // {account, chainId, rpc: {chainId: url}}
  let chainId = cfg.chainId, id = 0;
  const calls = [], listeners = {};
  window.__walletCalls = calls;
  async function rpc(method, params) {
    const reply = await fetch(cfg.rpc[String(chainId)], {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
    });
    const body = await reply.json();
    if (body.error) { const e = new Error(body.error.message); e.code = body.error.code; throw e; }
    return body.result;
  }
  window.ethereum = {
    async request({ method, params = [] }) {
      calls.push({ method, params, chainId });
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [cfg.account];
      if (method === "eth_chainId") return "0x" + chainId.toString(16);
      if (method === "wallet_switchEthereumChain") {
        const wanted = Number(params[0].chainId);
        if (!cfg.rpc[String(wanted)]) { const e = new Error("Unrecognized chain"); e.code = 4902; throw e; }
        chainId = wanted;
        (listeners.chainChanged || []).forEach((f) => f(params[0].chainId));
        return null;
      }
      if (method === "eth_sendTransaction" && params[0].from.toLowerCase() !== cfg.account.toLowerCase()) {
        const e = new Error("unknown account"); e.code = 4100; throw e;
      }
      return rpc(method, params);
    },
    on(event, f) { (listeners[event] = listeners[event] || []).push(f); },
    removeListener(event, f) { listeners[event] = (listeners[event] || []).filter((g) => g !== f); },
  };
})();
"""


@pytest.fixture(scope="module")
def wallet_page(devnet, ctx, browser) -> Iterator[tuple[object, list[str]]]:
    """The web app with an injected EIP-1193 wallet for WALLET (gas on every chain, 100 USDC on spoke A),
    connected; and the URL of every request the page made."""
    layout = devnet.layout
    for chain in layout.chains:
        url = layout.rpc_url(chain)
        rpc_call(url, "anvil_impersonateAccount", [WALLET])
        rpc_call(url, "anvil_setBalance", [WALLET, hex(10**20)])
    spoke_a = ctx.chain_id_of("spoke-a")
    usdc = ctx.client(spoke_a).w3.eth.contract(address=ctx.deployment.tokens[spoke_a]["USDC"].address,
                                                 abi=abi_of("MockERC20"))
    mint = usdc.functions.mint(WALLET, 100 * 10**6)._encode_transaction_data()
    rpc_call(layout.rpc_url(layout.chain("spoke-a")), "eth_sendTransaction", [{"from": WALLET, "to": usdc.address,
                                                                                "data": mint}])
    deadline = time.monotonic() + 60
    while int(usdc.functions.balanceOf(WALLET).call()) < 100 * 10**6:
        assert time.monotonic() < deadline, "USDC mint to the wallet never mined"
        time.sleep(0.5)
    config = {"account": WALLET, "chainId": layout.chain("hub").chain_id,
              "rpc": {str(c.chain_id): layout.rpc_url(c) for c in layout.chains}}
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.add_init_script(PROVIDER % json.dumps(config))
    tab = context.new_page()
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(f"http://127.0.0.1:{layout.api_port}/app/")
    playwright_api.expect(tab.locator("#live")).to_have_text("live", timeout=30_000)
    tab.locator("#connect-wallet").click()
    playwright_api.expect(tab.locator("#account-address")).to_have_text(WALLET)
    playwright_api.expect(tab.locator("#signer")).to_have_text("your wallet signs every action")
    yield tab, requested
    context.close()


def _sent(tab) -> list[dict]:
    """The eth_sendTransaction requests the injected wallet received."""
    return [c for c in tab.evaluate("window.__walletCalls") if c["method"] == "eth_sendTransaction"]


def test_a_deposit_signed_by_an_injected_wallet_is_credited_to_the_wallet(devnet, ctx, wallet_page) -> None:
    tab, requested = wallet_page
    assert WALLET not in {a["address"] for a in api(devnet, "/demo-accounts")}
    assert api_balance(devnet, WALLET, "USDC") == 0
    text = submit(tab, "#deposit-form", chain="spoke-a", token="USDC", amount="25")
    assert text.startswith("done: tx 0x") and text.endswith("(signed by your wallet)"), text
    playwright_api.expect(balance_cell(tab, "USDC")).to_have_text("25", timeout=TIMEOUT_MS)
    assert api_balance(devnet, WALLET, "USDC") == 25  # credited to the wallet's own hub account

    spoke_a = ctx.chain_id_of("spoke-a")
    sent = _sent(tab)
    assert [c["chainId"] for c in sent] == [spoke_a, spoke_a]
    assert [c["params"][0]["from"] for c in sent] == [WALLET, WALLET]
    assert sent[0]["params"][0]["data"].startswith("0x095ea7b3")  # approve(lockbox, amount), then deposit
    assert sent[1]["params"][0]["to"].lower() == ctx.deployment.spokes[spoke_a].lockbox.lower()
    switches = [c for c in tab.evaluate("window.__walletCalls") if c["method"] == "wallet_switchEthereumChain"]
    assert switches[0]["params"] == [{"chainId": hex(spoke_a)}]
    assert not [u for u in requested if "/v1/actions/" in u], "a server-signed action was called for the wallet"
    assert [u for u in requested if u.endswith("/v1/tx/deposit")]
    deposits = [m for m in api(devnet, f"/explorer?q={WALLET}")["messages"] if m["kind"] == "deposit"]
    assert [(m["account"], m["counterparty"], m["state"]) for m in deposits] == [(WALLET, WALLET, "applied")]
    playwright_api.expect(tab.locator("#pending-deposits tbody")).to_have_text("none", timeout=30_000)
    assert "$" in str(tab.locator("#equity").text_content())
    tab.screenshot(path=str(ARTIFACTS / "wallet-deposit.png"), full_page=True)


def test_a_withdrawal_signed_by_the_wallet_is_paid_and_a_refusal_asks_nothing(devnet, ctx, wallet_page) -> None:
    tab, requested = wallet_page
    signed = len(_sent(tab))
    refused = submit(tab, "#withdraw-form", asset="USDC", amount="999999", to_chain="spoke-a")
    assert refused.startswith("refused: insufficient USDC: the account holds 25 USDC"), refused
    assert len(_sent(tab)) == signed  # refused before the wallet was asked to sign
    spoke_a = ctx.chain_id_of("spoke-a")
    token = ctx.erc20(spoke_a, ctx.deployment.tokens[spoke_a]["USDC"].address)
    held = int(token.functions.balanceOf(WALLET).call())
    text = submit(tab, "#withdraw-form", asset="USDC", amount="5", to_chain="spoke-a")
    assert text.startswith("done: tx 0x") and text.endswith("(signed by your wallet)"), text
    hub = ctx.deployment.hub.chain_id
    sent = [(c["chainId"], c["params"][0]["to"].lower()) for c in _sent(tab)[signed:]]
    assert sent == [(hub, ctx.deployment.hub.ledger.lower())]
    row = tab.locator("#withdrawals tbody tr").first
    playwright_api.expect(row).to_contain_text("released", timeout=TIMEOUT_MS)
    playwright_api.expect(balance_cell(tab, "USDC")).to_have_text("20", timeout=30_000)
    assert int(token.functions.balanceOf(WALLET).call()) == held + 5 * 10**6
    assert not [u for u in requested if "/v1/actions/" in u]
    tab.screenshot(path=str(ARTIFACTS / "wallet-withdrawal.png"), full_page=True)
