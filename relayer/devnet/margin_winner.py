"""The margin demo's winner: bob deposits USDC on spoke A and shorts ETH-USD before the crash, closes
after it, and withdraws principal + profit to spoke A with the ordinary withdrawal (issue 8: realised
USD profit is settled in USDC out of the LP vault before every withdrawal, docs/margin.md "USD
settlement"); the spoke's lockbox pays it out. Every wait is a poll with a deadline."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from eth_account import Account

from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.devnet._proc import poll
from relayer.devnet.layout import USER_KEYS
from relayer.services import trading, transfers
from relayer.services.margin import prices_view
from relayer.services.units import fmt_amount, to_units, usd

Report = Callable[[str], None]
WINNER = "bob"
CHAIN, TOKEN, PRINCIPAL = "spoke-a", "USDC", 1_000
"""The winner's collateral (whole USDC, deposited on spoke A) and where the withdrawal goes."""
LEVERAGE = Decimal(2)
MARKET = "ETH-USD"
CREDIT_TIMEOUT_S = 90.0
RELEASE_TIMEOUT_S = 120.0
PRICES_TIMEOUT_S = 60.0


def _account() -> tuple[str, str]:
    key = USER_KEYS[WINNER]
    return Account.from_key(key).address, key


def open_short(ctx: Context, contracts: MarginContracts, report: Report) -> None:
    """Deposit PRINCIPAL USDC on spoke A and short LEVERAGE x it of ETH-USD."""
    account, key = _account()
    ledger, usdc = ctx.ledger(), ctx.deployment.assets["USDC"]
    want = int(ledger.functions.balanceOf(account, usdc).call()) + to_units(str(PRINCIPAL), 18)
    transfers.deposit(ctx, CHAIN, TOKEN, str(PRINCIPAL), account, key)
    poll(lambda: int(ledger.functions.balanceOf(account, usdc).call()) >= want,
         f"{WINNER}'s deposit to be credited on the hub", CREDIT_TIMEOUT_S, interval_s=0.5)
    price = int(contracts.client.call(contracts.oracle.functions.getPrice(ctx.deployment.assets["ETH"]))[0])
    size = (LEVERAGE * PRINCIPAL * 10**18 / Decimal(price)).quantize(Decimal("0.1"))
    result = trading.trade(ctx, MARKET, str(-size), None, key)
    report(f"{WINNER} deposits {PRINCIPAL} {TOKEN} on {CHAIN} and shorts {fmt_amount(-result.new_size, 18)} ETH "
           f"at {usd(result.price)} ({LEVERAGE}x, fee {usd(result.fee)})")


def close_and_withdraw(ctx: Context, contracts: MarginContracts, report: Report) -> None:
    """Close the short, then withdraw principal + the whole dollars of profit to spoke A and wait
    until the spoke's lockbox has paid them (a withdrawal needs every held price Ok: waited for)."""
    account, key = _account()
    closed = trading.close(ctx, MARKET, key)
    profit = int(ctx.ledger().functions.usdBalanceOf(account).call())
    report(f"{WINNER} closes the short at {usd(closed.price)}: realised {usd(closed.realized_pnl)}, "
           f"USD balance {usd(profit)}")
    if profit < 10**18:
        report(f"  ({WINNER} made no whole dollar of profit: nothing more to withdraw)")
        return
    poll(lambda: all(p.status == "Ok" for p in prices_view(ctx, contracts)), "every price to be Ok (fresh)",
         PRICES_TIMEOUT_S, interval_s=0.5)
    whole = PRINCIPAL + profit // 10**18
    chain_id = transfers.chain_id_of(ctx, CHAIN)
    token = ctx.deployment.tokens[chain_id][TOKEN]
    erc20 = ctx.erc20(chain_id, token.address)
    before = int(erc20.functions.balanceOf(account).call())
    result = transfers.withdraw(ctx, TOKEN, str(whole), CHAIN, account, key)
    report(f"{WINNER} withdraws {whole:,} {TOKEN} (principal + profit) to {CHAIN} (withdrawal nonce "
           f"{result.route_nonce}): the hub settles the USD profit in USDC from the LP vault")
    paid = before + whole * 10**token.decimals
    poll(lambda: int(erc20.functions.balanceOf(account).call()) >= paid,
         f"{CHAIN}'s lockbox to pay {WINNER} principal + profit", RELEASE_TIMEOUT_S, interval_s=0.5)
    report(f"  {CHAIN}: {WINNER} received {whole:,} {TOKEN} for {PRINCIPAL:,} deposited")
