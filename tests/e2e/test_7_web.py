"""The web app in headless Chromium (Debian's package, driven by Playwright) against the running devnet:
a deposit made in the page is credited without a reload, a withdrawal made in the page reaches the
other spoke, a refused action shows its reason; the operator page and the explorer show their figures;
the LP vault panel shows the vault and the account's shares after a deposit made in the page, and a
pending (delayed) order shows until the keeper fills it; a vault redemption is refused (with why)
until ready, then completed. Parked withdrawals: test_7_web_parked.py; an injected wallet:
test_7_web_wallet.py; the browser and page fixtures: conftest.py. Screenshots of every page land in
reports/browser/ (scripts/docs-screenshots.sh copies the README's into docs/)."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from eth_account import Account
from playwright import sync_api as playwright_api

from relayer.devnet import processes
from relayer.devnet.layout import USER_KEYS
from relayer.services import trading, transfers

from web_helpers import ARTIFACTS, BOB, TIMEOUT_MS, api, balance_cell, outcome, shown, submit


def _usdc_balance(devnet) -> Decimal:
    account = api(devnet, f"/accounts/{BOB}")
    return Decimal(next(b["amount"] for b in account["balances"] if b["symbol"] == "USDC"))


def test_a_deposit_made_in_the_page_is_credited_without_a_reload(devnet, page) -> None:
    tab = page
    before = _usdc_balance(devnet)
    playwright_api.expect(balance_cell(tab, "USDC")).to_have_text(shown(before), timeout=60_000)  # first SSE frame
    text = submit(tab, "#deposit-form", chain="spoke-a", token="USDC", amount="25")
    assert text.startswith("done: tx 0x"), text
    after = before + 25
    playwright_api.expect(balance_cell(tab, "USDC")).to_have_text(shown(after), timeout=TIMEOUT_MS)
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
    while api(devnet, f"/accounts/{BOB}/collateral")["by_chain"][1]["liquidity"].get("USDC", "0") in ("0", None):
        assert time.monotonic() < deadline, "spoke-b USDC liquidity never credited"
        time.sleep(1.0)
    text = submit(tab, "#withdraw-form", asset="USDC", amount="10", to_chain="spoke-b")
    assert text.startswith("done: tx 0x"), text
    row = tab.locator("#withdrawals tbody tr").first
    playwright_api.expect(row).to_contain_text("released", timeout=TIMEOUT_MS)
    playwright_api.expect(row).to_contain_text("spoke-b")
    paid_on_b = tab.locator("#by-chain tbody tr", has_text="spoke-b").locator("td").nth(2)
    balance = _usdc_balance(devnet)
    playwright_api.expect(paid_on_b).to_contain_text(f"{shown(balance)} USDC", timeout=30_000)
    assert int(token.functions.balanceOf(BOB).call()) == held + 10 * 10**6
    tab.screenshot(path=str(ARTIFACTS / "withdrawal.png"), full_page=True)


def test_a_refused_action_shows_its_reason(page) -> None:
    tab = page
    text = submit(tab, "#withdraw-form", asset="USDC", amount="999999999", to_chain="spoke-a")
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
    text = submit(tab, "#vault-form", amount="5")
    assert text.startswith("done: tx 0x"), text
    mine = api(devnet, f"/vault/{BOB}")
    assert mine["shares"] > 0 and abs(int(mine["value"]) - 5 * 10**18) < 10**17
    worth_five = re.compile(r"^[\d.]+ \(worth \$(4\.9\d|5\.0\d)\)$")
    playwright_api.expect(tab.locator("#vault-shares")).to_have_text(worth_five, timeout=30_000)
    assert tab.locator("#vault-redemptions").text_content() == "none"
    tab.screenshot(path=str(ARTIFACTS / "vault.png"), full_page=True)


def test_a_vault_redemption_is_refused_until_ready_then_completed_in_the_page(devnet, page) -> None:
    tab = page
    text = submit(tab, "#vault-redeem-form", shares="all")
    assert text.startswith("done: tx 0x") and "redemption #" in text, text
    rid = int(re.findall(r"redemption #(\d+)", text)[0])
    item = tab.locator("#vault-redemptions li", has_text=f"#{rid}:")
    playwright_api.expect(item).to_contain_text("ready in", timeout=30_000)
    playwright_api.expect(tab.locator("#vault-shares")).to_have_text(re.compile(r"^0 \(worth \$0\.00\)$"))
    item.locator("button[data-action=execute]").click()
    refused = outcome(tab)
    assert refused.startswith(f"refused: redemption {rid} is not ready yet: it can be executed in"), refused
    assert "(action_refused)" in refused
    tab.screenshot(path=str(ARTIFACTS / "vault-redeem-refused.png"), full_page=True)
    playwright_api.expect(item).to_contain_text(re.compile(r", ready\s+Complete"), timeout=TIMEOUT_MS)  # 30 s delay
    item.locator("button[data-action=execute]").click()
    done = outcome(tab)
    assert done.startswith("done: tx 0x") and f"redemption #{rid}" in done, done
    playwright_api.expect(tab.locator("#vault-redemptions")).to_have_text("none", timeout=30_000)
    mine = api(devnet, f"/vault/{BOB}")
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
        served = api(devnet, f"/accounts/{BOB}")["margin"]["pending_orders"]
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
