"""USD settlement (issue 8, scenario 5): profit is withdrawable in USDC from the LP vault, a debt is
netted against the account's USDC on withdrawal and on liquidation; the books stay zero-sum."""

import pytest

from margin_helpers import E18, close_position, open_position, reverts_with
from margin_support import SPOKE, USDC, WETH, fund, set_price

UNIT = 10**12  # ledger USD per USDC ledger unit (1e18 / 1e6)


@pytest.fixture
def trader(accounts, vsys):
    fund(vsys, accounts[1], usdc=10_000)
    return accounts[1]


def usd_sum(vsys, accounts):
    return sum(vsys.ledger.usdBalanceOf(a) for a in accounts)


def test_winner_withdraws_profit_paid_from_the_vault(vsys, trader, accounts):
    """Scenario 5: +$7,9xx realised profit used to revert WithdrawalExceedsBalance."""
    open_position(vsys.eth, trader, 10 * E18)
    set_price(vsys, WETH, 2_800)
    close_position(vsys.eth, trader)
    profit = vsys.ledger.usdBalanceOf(trader)
    assert 7_900 * E18 < profit < 8_000 * E18
    vault_usdc = vsys.ledger.balanceOf(vsys.vault, USDC)
    vault_equity = vsys.vault.equity()
    amount = 10_000 * 10**6 + profit // UNIT
    tx = vsys.ledger.requestWithdrawal(USDC, amount, SPOKE, trader, {"from": trader})
    queued = tx.events["WithdrawalQueued"]
    assert queued["amount"] == amount  # the spoke releases principal + profit
    settled = tx.events["UsdSettled"]
    assert settled["usdAmount"] == (profit // UNIT) * UNIT
    assert 0 <= vsys.ledger.usdBalanceOf(trader) < UNIT  # sub-cent dust stays USD
    assert vsys.ledger.balanceOf(trader, USDC) == 0
    assert vsys.ledger.balanceOf(vsys.vault, USDC) == vault_usdc - profit // UNIT
    assert vsys.vault.equity() == vault_equity  # settlement at par moves value, creates none
    assert usd_sum(vsys, [trader, vsys.vault, vsys.lp, vsys.insurance]) == vsys.ledger.badDebt() == 0


def test_loser_debt_is_netted_against_usdc_on_withdrawal(vsys, trader):
    open_position(vsys.eth, trader, 10 * E18)
    set_price(vsys, WETH, 1_800)
    close_position(vsys.eth, trader)
    debt = -vsys.ledger.usdBalanceOf(trader)
    assert debt > 2_000 * E18
    vsys.ledger.requestWithdrawal(USDC, 10**6, SPOKE, trader, {"from": trader})
    expected = 10_000 * 10**6 - 10**6 - (debt + UNIT - 1) // UNIT
    assert vsys.ledger.balanceOf(trader, USDC) == expected
    assert 0 <= vsys.ledger.usdBalanceOf(trader) < UNIT
    assert usd_sum(vsys, [trader, vsys.vault]) == 0


def test_open_profit_is_not_withdrawable(vsys, trader):
    """Only realised USD settles; open PnL stays margin (the health check still applies)."""
    open_position(vsys.eth, trader, 10 * E18)
    set_price(vsys, WETH, 2_800)
    with reverts_with("WithdrawalExceedsBalance"):
        vsys.ledger.requestWithdrawal(USDC, 12_000 * 10**6, SPOKE, trader, {"from": trader})


def test_account_settles_itself_and_only_the_account_ledger_or_settler_may(vsys, trader, accounts):
    open_position(vsys.eth, trader, 10 * E18)
    set_price(vsys, WETH, 2_200)
    close_position(vsys.eth, trader)
    with reverts_with("SettlementCallerNotAllowed"):
        vsys.settlement.settle(trader, {"from": accounts[2]})
    tx = vsys.settlement.settle(trader, {"from": trader})
    assert tx.return_value > 1_900 * E18
    assert vsys.ledger.balanceOf(trader, USDC) == 10_000 * 10**6 + tx.return_value // UNIT


def test_liquidation_nets_deficit_against_usdc_before_selling(vsys, trader, accounts):
    fund(vsys, accounts[5], usdc=100_000)
    open_position(vsys.eth, trader, 80 * E18)
    set_price(vsys, WETH, 1_900)  # -8,000 + fees: deep below MM, equity still positive
    ins_before = vsys.ledger.usdBalanceOf(vsys.insurance)
    tx = vsys.liq.liquidate(trader, 0, {"from": accounts[5]})
    assert "UsdSettled" in tx.events
    assert vsys.ledger.usdBalanceOf(trader) >= 0
    assert vsys.ledger.balanceOf(trader, USDC) < 10_000 * 10**6
    assert "InsuranceUsed" not in tx.events
    assert vsys.ledger.usdBalanceOf(vsys.insurance) >= ins_before
    assert usd_sum(vsys, [trader, vsys.vault, vsys.insurance, accounts[5]]) == vsys.ledger.badDebt()


def test_settle_keeps_sum_of_usd_equal_bad_debt(vsys, accounts):
    traders = accounts[1:4]
    for i, t in enumerate(traders):
        fund(vsys, t, usdc=20_000)
        open_position(vsys.eth, t, (5 + i) * E18 * (1 if i % 2 else -1))
    set_price(vsys, WETH, 2_150)
    for t in traders:
        close_position(vsys.eth, t)
        vsys.settlement.settle(t, {"from": t})
    assert usd_sum(vsys, [*traders, vsys.vault, vsys.insurance, vsys.lp]) == vsys.ledger.badDebt()
