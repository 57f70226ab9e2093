"""The web app in headless Chromium (Debian's package, driven by Playwright) against the running devnet:
a deposit made in the page is credited without a reload, a withdrawal made in the page reaches the
other spoke, a refused action shows its reason; the operator page and the explorer show their figures;
the LP vault panel shows the vault and the account's shares after a deposit made in the page, and a
pending (delayed) order shows until the keeper fills it; a vault redemption is refused (with why)
until ready, then completed; a parked withdrawal is refunded from the page. With an injected wallet
(an EIP-1193 provider over the devnet's anvils, an account the server has no key for), a deposit and
a withdrawal are signed by the wallet and credited / paid, and the server-signed actions are never
called. Screenshots of every page land in reports/browser/ (one is committed as docs/web-account.png)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from eth_account import Account
from eth_utils import keccak
from playwright import sync_api as playwright_api

from relayer.chain.abi import abi_of
from relayer.devnet import processes
from relayer.devnet.chains import rpc_call
from relayer.devnet.deploy import Deployer
from relayer.devnet.layout import USER_KEYS
from relayer.services import trading, transfers

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "reports" / "browser"
BOB = Account.from_key(USER_KEYS["bob"]).address
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser(devnet) -> Iterator[playwright_api.Browser]:
    """Headless Chromium (Debian's package) for this module's pages."""
    subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], check=True, timeout=900)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=os.environ.get("XMARGIN_CHROMIUM", shutil.which("chromium")),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(devnet, browser) -> Iterator[object]:
    """A Chromium page on the devnet's web app, as bob."""
    tab = browser.new_page(viewport={"width": 1280, "height": 1000})
    tab.goto(f"http://127.0.0.1:{devnet.layout.api_port}/app/?account=bob")
    playwright_api.expect(tab.locator("#live")).to_have_text("live", timeout=30_000)
    yield tab
    tab.close()


def _api(devnet, path: str) -> dict:
    return requests.get(f"http://127.0.0.1:{devnet.layout.api_port}/v1{path}", timeout=90).json()


def _usdc_balance(devnet) -> Decimal:
    account = _api(devnet, f"/accounts/{BOB}")
    return Decimal(next(b["amount"] for b in account["balances"] if b["symbol"] == "USDC"))


def _balance_cell(tab, symbol: str):
    return tab.locator("#balances tbody tr", has_text=symbol).locator("td").nth(1)


def _submit(tab, form: str, **fields: str) -> str:
    for name, value in fields.items():
        field = tab.locator(f"{form} [name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    tab.locator(f"{form} button").first.click()
    return _outcome(tab)


def _outcome(tab) -> str:
    """The action's final line (a wallet's steps show progress lines before it)."""
    result = tab.locator("#action-result")  # "sending…" is set synchronously by the click
    playwright_api.expect(result).to_have_text(re.compile(r"^(done|refused)"), timeout=TIMEOUT_MS)
    return str(result.text_content())


def test_a_deposit_made_in_the_page_is_credited_without_a_reload(devnet, page) -> None:
    tab = page
    before = _usdc_balance(devnet)
    shown = f"{before.normalize():f}"
    playwright_api.expect(_balance_cell(tab, "USDC")).to_have_text(shown, timeout=60_000)  # first SSE frame
    text = _submit(tab, "#deposit-form", chain="spoke-a", token="USDC", amount="25")
    assert text.startswith("done: tx 0x"), text
    after = before + 25
    playwright_api.expect(_balance_cell(tab, "USDC")).to_have_text(f"{after.normalize():f}", timeout=TIMEOUT_MS)
    by_chain = tab.locator("#by-chain tbody tr", has_text="spoke-a").locator("td").nth(1)
    playwright_api.expect(by_chain).to_contain_text(" USDC", timeout=30_000)  # credited from spoke A
    playwright_api.expect(tab.locator("#pending-deposits tbody")).to_have_text("none", timeout=30_000)
    tab.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)
    for figure in ("Equity", "Initial margin", "Maintenance margin", "Health", "Collateral per asset"):
        assert figure in tab.locator("body").inner_text()
    assert "$" in str(tab.locator("#equity").text_content())


def test_a_withdrawal_made_in_the_page_reaches_the_other_spoke(devnet, ctx, page) -> None:
    tab = page
    lp = Account.from_key(USER_KEYS["alice"]).address
    transfers.deposit(ctx, "spoke-b", "USDC", "50", lp, USER_KEYS["alice"])  # USDC liquidity on spoke B
    spoke_b = ctx.chain_id_of("spoke-b")
    token = ctx.erc20(spoke_b, ctx.deployment.tokens[spoke_b]["USDC"].address)
    held = int(token.functions.balanceOf(BOB).call())
    deadline = time.monotonic() + 120  # the liquidity deposit must be credited before B can pay out
    while _api(devnet, f"/accounts/{BOB}/collateral")["by_chain"][1]["liquidity"].get("USDC", "0") in ("0", None):
        assert time.monotonic() < deadline, "spoke-b USDC liquidity never credited"
        time.sleep(1.0)
    text = _submit(tab, "#withdraw-form", asset="USDC", amount="10", to_chain="spoke-b")
    assert text.startswith("done: tx 0x"), text
    row = tab.locator("#withdrawals tbody tr").first
    playwright_api.expect(row).to_contain_text("released", timeout=TIMEOUT_MS)
    playwright_api.expect(row).to_contain_text("spoke-b")
    paid_on_b = tab.locator("#by-chain tbody tr", has_text="spoke-b").locator("td").nth(2)
    balance = _usdc_balance(devnet)
    playwright_api.expect(paid_on_b).to_contain_text(f"{balance.normalize():f} USDC", timeout=30_000)
    assert int(token.functions.balanceOf(BOB).call()) == held + 10 * 10**6
    tab.screenshot(path=str(ARTIFACTS / "withdrawal.png"), full_page=True)


def test_a_refused_action_shows_its_reason(page) -> None:
    tab = page
    text = _submit(tab, "#withdraw-form", asset="USDC", amount="999999999", to_chain="spoke-a")
    assert text.startswith("refused: insufficient USDC: the account holds"), text
    assert "(action_refused)" in text
    assert "error" in str(tab.locator("#action-result").get_attribute("class"))
    tab.screenshot(path=str(ARTIFACTS / "refused.png"), full_page=True)


def test_the_operator_page_shows_routes_validators_and_the_audit(page) -> None:
    tab = page
    tab.locator("#nav-operator").click()
    playwright_api.expect(tab.locator("#audit-status")).to_have_text("solvent: no breach", timeout=TIMEOUT_MS)
    playwright_api.expect(tab.locator("#routes tbody tr")).to_have_count(4)
    playwright_api.expect(tab.locator("#routes tbody")).to_contain_text("deposit:31338->31337")
    assert tab.locator("#signatures tbody tr").count() >= 1
    tab.screenshot(path=str(ARTIFACTS / "operator.png"), full_page=True)


def test_the_explorer_finds_the_page_deposit_and_says_where_it_stands(devnet, page) -> None:
    tab = page
    tab.locator("#nav-explorer").click()
    tab.locator("#explorer-q").fill(BOB)
    tab.locator("#explorer-form button").click()
    playwright_api.expect(tab.locator("#explorer-results tbody")).to_contain_text("credited on hub", timeout=30_000)
    playwright_api.expect(tab.locator("#explorer-results tbody")).to_contain_text("released to")
    tab.locator("#explorer-q").fill("0x1234")
    tab.locator("#explorer-form button").click()
    playwright_api.expect(tab.locator("#explorer-error")).to_contain_text("not an account, transaction hash or nonce")
    tab.locator("#explorer-q").fill(BOB)
    tab.locator("#explorer-form button").click()
    playwright_api.expect(tab.locator("#explorer-results tbody")).to_contain_text("credited on hub", timeout=30_000)
    tab.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)


def test_the_vault_panel_shows_the_vault_and_the_shares_of_a_deposit_made_in_the_page(devnet, page) -> None:
    tab = page
    tab.locator("#nav-account").click()
    money = re.compile(r"^-?\$[\d,]+\.\d\d$")
    playwright_api.expect(tab.locator("#vault-equity")).to_have_text(money, timeout=30_000)
    playwright_api.expect(tab.locator("#vault-share-price")).to_have_text(money)
    playwright_api.expect(tab.locator("#vault-shares")).to_have_text(re.compile(r"^0 \(worth \$0\.00\)$"))
    assert "cap 50 %" in str(tab.locator("#vault-adl").text_content())
    text = _submit(tab, "#vault-form", amount="5")
    assert text.startswith("done: tx 0x"), text
    mine = _api(devnet, f"/vault/{BOB}")
    assert mine["shares"] > 0 and abs(int(mine["value"]) - 5 * 10**18) < 10**17
    worth_five = re.compile(r"^[\d.]+ \(worth \$(4\.9\d|5\.0\d)\)$")
    playwright_api.expect(tab.locator("#vault-shares")).to_have_text(worth_five, timeout=30_000)
    assert tab.locator("#vault-redemptions").text_content() == "none"
    tab.screenshot(path=str(ARTIFACTS / "vault.png"), full_page=True)


def test_a_vault_redemption_is_refused_until_ready_then_completed_in_the_page(devnet, page) -> None:
    tab = page
    text = _submit(tab, "#vault-redeem-form", shares="all")
    assert text.startswith("done: tx 0x") and "redemption #" in text, text
    rid = int(re.findall(r"redemption #(\d+)", text)[0])
    item = tab.locator("#vault-redemptions li", has_text=f"#{rid}:")
    playwright_api.expect(item).to_contain_text("ready in", timeout=30_000)
    playwright_api.expect(tab.locator("#vault-shares")).to_have_text(re.compile(r"^0 \(worth \$0\.00\)$"))
    item.locator("button[data-action=execute]").click()
    refused = _outcome(tab)
    assert refused.startswith(f"refused: redemption {rid} is not ready yet: it can be executed in"), refused
    assert "(action_refused)" in refused
    tab.screenshot(path=str(ARTIFACTS / "vault-redeem-refused.png"), full_page=True)
    playwright_api.expect(item).to_contain_text(re.compile(r", ready\s+Complete"), timeout=TIMEOUT_MS)  # 30 s delay
    item.locator("button[data-action=execute]").click()
    done = _outcome(tab)
    assert done.startswith("done: tx 0x") and f"redemption #{rid}" in done, done
    playwright_api.expect(tab.locator("#vault-redemptions")).to_have_text("none", timeout=30_000)
    mine = _api(devnet, f"/vault/{BOB}")
    assert mine["shares"] == 0 and mine["pending"] == []
    tab.screenshot(path=str(ARTIFACTS / "vault-redeemed.png"), full_page=True)


def test_a_pending_order_shows_until_the_keeper_fills_it(devnet, ctx, page) -> None:
    tab = page
    key = USER_KEYS["bob"]
    orders = tab.locator("#orders tbody")
    playwright_api.expect(orders).to_have_text("none", timeout=30_000)
    devnet.stop("oracle")  # no new price round: the order waits for its settlement price
    try:
        trading.commit(ctx, "ETH-USD", 10**15, 2**256 - 1, key)  # buy 0.001 ETH at any price
        served = _api(devnet, f"/accounts/{BOB}")["margin"]["pending_orders"]
        assert [o["size_delta"] for o in served] == [10**15]
        playwright_api.expect(orders.locator("tr").first).to_contain_text("ETH-USD", timeout=TIMEOUT_MS)  # via SSE
        row = str(orders.locator("tr").first.text_content())
        assert "0.001" in row and "any price" in row and "t=" in row
        tab.screenshot(path=str(ARTIFACTS / "pending-order.png"), full_page=True)
    finally:
        devnet.replace("oracle", processes.restart("oracle", devnet.layout))
    playwright_api.expect(orders).to_have_text("none", timeout=TIMEOUT_MS)  # the keeper settled it at the next round
    size = int(ctx.margin().markets["ETH-USD"].functions.positions(BOB).call()[0])
    if size:
        assert size == 10**15
        trading.close(ctx, "ETH-USD", key)


# ------------------------------------------------------------------ a parked withdrawal, recovered


def _balance(devnet, who: str, symbol: str) -> Decimal:
    account = _api(devnet, f"/accounts/{who}")
    return Decimal(next((b["amount"] for b in account["balances"] if b["symbol"] == symbol), "0"))


def _refusing_receiver(devnet) -> str:
    """A contract on spoke B that refuses native payments (RevertingReceiver): a release to it parks."""
    spoke_b = devnet.layout.chain("spoke-b")
    key = "0x" + keccak(text="xmargin-e2e-web-receiver-deployer").hex()
    rpc_call(devnet.layout.rpc_url(spoke_b), "anvil_setBalance", [Account.from_key(key).address, hex(10**20)])
    deployer = Deployer.connect(spoke_b, devnet.layout.rpc_url(spoke_b), key)
    receiver = deployer.deploy("RevertingReceiver", 1)  # Mode.Revert
    deployer.wait()
    return str(receiver)


def test_a_parked_withdrawal_is_refunded_to_the_hub_balance_from_the_page(devnet, page) -> None:
    tab = page
    receiver = _refusing_receiver(devnet)
    eth = _balance_cell(tab, "ETH")
    before = _balance(devnet, BOB, "ETH")
    assert _submit(tab, "#deposit-form", chain="spoke-b", token="ETH", amount="1").startswith("done: tx 0x")
    funded = before + 1
    playwright_api.expect(eth).to_have_text(f"{funded.normalize():f}", timeout=TIMEOUT_MS)
    text = _submit(tab, "#withdraw-form", asset="ETH", amount="0.5", to_chain="spoke-b", recipient=receiver)
    tab.locator("#withdraw-form [name=recipient]").fill("")  # later withdrawals pay bob again
    assert text.startswith("done: tx 0x"), text
    nonce = int(text.rsplit("nonce ", 1)[1])
    button = f"button[data-action=refund][data-chain=spoke-b][data-nonce='{nonce}']"
    refund = tab.locator(f"#withdrawals {button}")
    playwright_api.expect(refund).to_be_visible(timeout=TIMEOUT_MS)
    row = tab.locator("#withdrawals tbody tr", has=tab.locator(button))
    playwright_api.expect(row).to_contain_text("parked")
    playwright_api.expect(row).to_contain_text("the payout failed")
    playwright_api.expect(row.locator("button[data-action=redirect]")).to_be_visible()
    playwright_api.expect(eth).to_have_text(f"{(funded - Decimal('0.5')).normalize():f}")
    tab.screenshot(path=str(ARTIFACTS / "parked.png"), full_page=True)

    refund.click()
    done = _outcome(tab)
    assert done.startswith("done: tx 0x") and ", nonce " in done, done
    recovered = tab.locator("#withdrawals tbody tr", has_text=f"withdrawal {nonce} refunded")
    playwright_api.expect(recovered.first).to_be_visible(timeout=TIMEOUT_MS)
    playwright_api.expect(eth).to_have_text(f"{funded.normalize():f}", timeout=TIMEOUT_MS)  # back as a deposit
    mine = [w for w in _api(devnet, f"/accounts/{BOB}/pending")["withdrawals"] if w["nonce"] == nonce]
    assert [w["state"] for w in mine if w["recovery_target"] is None] == ["recovered"]
    playwright_api.expect(tab.locator("#withdrawals tbody tr", has_text="recovered")).to_contain_text(
        f"withdrawal {nonce} refunded", timeout=30_000)
    assert tab.locator(f"#withdrawals button[data-nonce='{nonce}']").count() == 0
    tab.screenshot(path=str(ARTIFACTS / "recovered.png"), full_page=True)


# ------------------------------------------------------------------ an injected wallet signs

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
    assert WALLET not in {a["address"] for a in _api(devnet, "/demo-accounts")}
    assert _balance(devnet, WALLET, "USDC") == 0
    text = _submit(tab, "#deposit-form", chain="spoke-a", token="USDC", amount="25")
    assert text.startswith("done: tx 0x") and text.endswith("(signed by your wallet)"), text
    playwright_api.expect(_balance_cell(tab, "USDC")).to_have_text("25", timeout=TIMEOUT_MS)
    assert _balance(devnet, WALLET, "USDC") == 25  # credited to the wallet's own hub account

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
    deposits = [m for m in _api(devnet, f"/explorer?q={WALLET}")["messages"] if m["kind"] == "deposit"]
    assert [(m["account"], m["counterparty"], m["state"]) for m in deposits] == [(WALLET, WALLET, "applied")]
    playwright_api.expect(tab.locator("#pending-deposits tbody")).to_have_text("none", timeout=30_000)
    assert "$" in str(tab.locator("#equity").text_content())
    tab.screenshot(path=str(ARTIFACTS / "wallet-deposit.png"), full_page=True)


def test_a_withdrawal_signed_by_the_wallet_is_paid_and_a_refusal_asks_nothing(devnet, ctx, wallet_page) -> None:
    tab, requested = wallet_page
    signed = len(_sent(tab))
    refused = _submit(tab, "#withdraw-form", asset="USDC", amount="999999", to_chain="spoke-a")
    assert refused.startswith("refused: insufficient USDC: the account holds 25 USDC"), refused
    assert len(_sent(tab)) == signed  # refused before the wallet was asked to sign
    spoke_a = ctx.chain_id_of("spoke-a")
    token = ctx.erc20(spoke_a, ctx.deployment.tokens[spoke_a]["USDC"].address)
    held = int(token.functions.balanceOf(WALLET).call())
    text = _submit(tab, "#withdraw-form", asset="USDC", amount="5", to_chain="spoke-a")
    assert text.startswith("done: tx 0x") and text.endswith("(signed by your wallet)"), text
    hub = ctx.deployment.hub.chain_id
    sent = [(c["chainId"], c["params"][0]["to"].lower()) for c in _sent(tab)[signed:]]
    assert sent == [(hub, ctx.deployment.hub.ledger.lower())]
    row = tab.locator("#withdrawals tbody tr").first
    playwright_api.expect(row).to_contain_text("released", timeout=TIMEOUT_MS)
    playwright_api.expect(_balance_cell(tab, "USDC")).to_have_text("20", timeout=30_000)
    assert int(token.functions.balanceOf(WALLET).call()) == held + 5 * 10**6
    assert not [u for u in requested if "/v1/actions/" in u]
    tab.screenshot(path=str(ARTIFACTS / "wallet-withdrawal.png"), full_page=True)
