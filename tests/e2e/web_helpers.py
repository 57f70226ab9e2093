"""Helpers of the browser tests (tests/e2e/test_7_web*.py): the API as the page sees it, filling and
submitting the page's forms, and the outcome line of an action. The browser and page fixtures are in
conftest.py."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import requests
from eth_account import Account
from playwright import sync_api as playwright_api

from relayer.devnet.layout import USER_KEYS

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "reports" / "browser"
"""Screenshots of every page (docs/web-*.png are copied from here by scripts/docs-screenshots.sh)."""
BOB = Account.from_key(USER_KEYS["bob"]).address
TIMEOUT_MS = 120_000


def api(devnet, path: str) -> dict:
    """GET /v1{path} of the devnet's API."""
    return requests.get(f"http://127.0.0.1:{devnet.layout.api_port}/v1{path}", timeout=90).json()


def api_balance(devnet, who: str, symbol: str) -> Decimal:
    """`who`'s hub balance of `symbol` as the API serves it (0 when none is listed)."""
    account = api(devnet, f"/accounts/{who}")
    return Decimal(next((b["amount"] for b in account["balances"] if b["symbol"] == symbol), "0"))


def shown(x: Decimal) -> str:
    """`x` as the page shows an amount: cut (never rounded up) to 6 decimals, trailing zeros dropped."""
    return f"{x.quantize(Decimal('0.000001'), rounding=ROUND_DOWN).normalize():f}"


def balance_cell(tab, symbol: str):
    """The page's balance cell of `symbol`."""
    return tab.locator("#balances tbody tr", has_text=symbol).locator("td").nth(1)


def submit(tab, form: str, **fields: str) -> str:
    """Fill `form`'s fields (inputs and selects), press its first button, return the action's outcome."""
    for name, value in fields.items():
        field = tab.locator(f"{form} [name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    tab.locator(f"{form} button").first.click()
    return outcome(tab)


def outcome(tab) -> str:
    """The action's final line (a wallet's steps show progress lines before it)."""
    result = tab.locator("#action-result")  # "sending…" is set synchronously by the click
    playwright_api.expect(result).to_have_text(re.compile(r"^(done|refused)"), timeout=TIMEOUT_MS)
    return str(result.text_content())
