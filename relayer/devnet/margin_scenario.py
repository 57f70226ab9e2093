"""The devnet's margin demo: carol deposits USDC on spoke A and ETH on spoke B, opens a leveraged
ETH-USD long backed by both, bob shorts on USDC (margin_winner), the oracle pusher replays a crash,
the keeper liquidates carol, bob closes and withdraws principal + profit to spoke A. Every step
is printed (price, equity, margins, health, liquidation events); every wait is a poll with a
deadline, and the price path is bounded (at most 25 steps, one per pusher step; it stops early once
the position is liquidated out)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from eth_account import Account
from web3 import Web3

from relayer.chain.margin import MarginContracts
from relayer.context import Context
from relayer.devnet import margin_winner
from relayer.devnet._proc import DeadlineError, poll
from relayer.devnet.deploy_margin import funded_accounts
from relayer.devnet.layout import TRADER_KEYS
from relayer.devnet.vault_seed import seed_vault
from relayer.keeper.oracle_service import queue_path
from relayer.keeper.pusher import scenario_path
from relayer.services import trading, transfers
from relayer.services.margin import MarginView, margin_view, usd_books
from relayer.services.units import fmt_amount, to_units, usd
from relayer.services.vault import vault_view

Report = Callable[[str], None]
TRADER = "carol"
DEPOSITS = (("spoke-a", "USDC", "1000", "USDC"), ("spoke-b", "ETH", "1", "ETH"))
"""(chain, token, amount, ledger asset): collateral from both spokes."""
LEVERAGE = Decimal("2.5")
"""Position notional as a multiple of the collateral value (the market allows up to 3x)."""
MARKET = "ETH-USD"
FUNDED_TIMEOUT_S = 90.0
CREDIT_TIMEOUT_S = 90.0
PATH_TIMEOUT_S = 90.0
SETTLE_S = 3.0
"""After the last price step: how long the account must stay not liquidatable to call it settled."""
LIQUIDATION_EVENTS = ("Liquidated", "CollateralSold", "InsuranceUsed", "LossSocialised", "BadDebtRecorded")


def _figures(view: MarginView) -> str:
    """Equity, margins and health of an account on one line."""
    ratio = f", equity/MM {view.margin_ratio:.2f}" if view.margin_ratio is not None else ""
    return (f"equity {usd(view.equity)}  IM {usd(view.initial_margin)}  MM {usd(view.maintenance_margin)}  "
            f"health {view.health}{ratio}")


def wait_funded(ctx: Context, contracts: MarginContracts, report: Report) -> None:
    """Wait until the deploy-time deposits for the insurance fund and keepers are credited and the LP
    has seeded the vault (seeding it now if `devnet up` did not, e.g. under docker compose)."""
    usdc = ctx.deployment.assets["USDC"]
    ledger = contracts.ledger
    wanted = {name: (acct, whole * 10**18) for name, (acct, whole) in funded_accounts().items() if name != "LP"}

    def credited() -> bool:
        return all(ledger.functions.balanceOf(a, usdc).call() >= amount for a, amount in wanted.values())

    seed_vault(ctx, contracts, report)
    poll(credited, "the insurance fund and keepers to be credited", FUNDED_TIMEOUT_S, interval_s=0.5)
    held = int(ledger.functions.balanceOf(contracts.vault.address, usdc).call())
    report("margin: " + ", ".join([f"LP vault holds {held // 10**18:,} USDC"]
                                  + [f"{n} holds {a // 10**18:,} USDC" for n, (_, a) in wanted.items()]))


def deposit_collateral(ctx: Context, trader: str, key: str, report: Report) -> None:
    """The trader's deposits on both spokes, awaited until the hub credits them."""
    ledger = ctx.ledger()
    before = {asset: int(ledger.functions.balanceOf(trader, ctx.deployment.assets[asset]).call())
              for *_, asset in DEPOSITS}
    for chain, token, amount, asset in DEPOSITS:
        result = transfers.deposit(ctx, chain, token, amount, trader, key)
        report(f"{TRADER} deposits {amount} {token} on {chain} (deposit nonce {result.route_nonce})")
    want = {asset: before[asset] + to_units(amount, 18) for _, _, amount, asset in DEPOSITS}

    def credited() -> bool:
        return all(ledger.functions.balanceOf(trader, ctx.deployment.assets[a]).call() >= v for a, v in want.items())

    poll(credited, f"{TRADER}'s deposits to be credited on the hub", CREDIT_TIMEOUT_S, interval_s=0.5)


def open_position(ctx: Context, contracts: MarginContracts, trader: str, key: str, report: Report) -> MarginView:
    """A long of LEVERAGE x the collateral value at the current price."""
    view = margin_view(ctx, trader, contracts)
    report(f"  hub: {TRADER}'s collateral from both spokes is worth {usd(view.collateral_value)} "
           f"(USDC at 100 %, ETH at 80 % of its price)")
    price = int(contracts.client.call(contracts.oracle.functions.getPrice(ctx.deployment.assets["ETH"]))[0])
    size = (LEVERAGE * view.collateral_value / price).quantize(Decimal("0.1"))
    result = trading.trade(ctx, MARKET, str(size), None, key)
    report(f"{TRADER} opens an {MARKET} long of {fmt_amount(result.new_size, 18)} ETH at {usd(result.price)} "
           f"({LEVERAGE}x her collateral, fee {usd(result.fee)}, tx {result.tx_hash[:10]}...)")
    view = margin_view(ctx, trader, contracts)
    report(f"  {_figures(view)}")
    return view


def _liquidation_logs(contracts: MarginContracts, account: str, from_block: int) -> list:
    """Decoded liquidation-module events about `account` from `from_block`."""
    module = contracts.liquidation
    topic = "0x" + bytes(Web3.to_bytes(hexstr=account)).rjust(32, b"\0").hex()
    out = []
    for name in LIQUIDATION_EVENTS:
        event = getattr(module.events, name)()
        for raw in contracts.client.get_logs(module.address, [event.topic, topic], from_block, contracts.client.block_number()):
            out.append(event.process_log(raw))
    return sorted(out, key=lambda e: (e["blockNumber"], e["logIndex"]))


def describe(event) -> str:  # noqa: ANN001 - a decoded web3 event
    """One line per liquidation event."""
    a = event["args"]
    name = event["event"]
    if name == "Liquidated":
        kind = "rest of the position" if a["full"] else "partial close"
        return (f"LIQUIDATED by keeper {a['liquidator'][:10]}... ({kind}): {usd(a['closedNotional'])} notional closed, "
                f"reward {usd(a['reward'])}, penalty to the insurance fund {usd(a['penalty'])}")
    if name == "CollateralSold":
        return f"collateral sold to the keeper: asset {a['assetId']} amount {fmt_amount(a['amount'], 18)} for {usd(a['repaid'])}"
    if name == "InsuranceUsed":
        return f"insurance fund covers {usd(a['amount'])} of the deficit"
    if name == "LossSocialised":
        return f"LP vault absorbs {usd(a['amount'])} (insurance fund empty)"
    return f"bad debt written off: {usd(a['amount'])}"


def watch_crash(ctx: Context, contracts: MarginContracts, trader: str, report: Report) -> None:
    """Queue the crash path for the pusher and print each price step, the account and any liquidation."""
    path = scenario_path("ETH")
    queue = ctx.price_queue()
    start_block = int(contracts.client.block_number())
    queue_path(contracts, queue, "ETH", path.steps)
    report(f"oracle pusher replays {len(path.steps)} ETH prices: {path.source}")
    eth = contracts.aggregators["ETH"]
    last_answer, seen_events = None, 0
    settled_since: float | None = None
    deadline = time.monotonic() + PATH_TIMEOUT_S
    target = int(round(path.steps[-1] * 10**8))
    while True:
        events = _liquidation_logs(contracts, trader, start_block)  # what happened since the last line
        for event in events[seen_events:]:
            report(f"  >> {describe(event)}")
        seen_events = len(events)
        answer = int(eth.functions.latestRoundData().call()[1])
        view = margin_view(ctx, trader, contracts)
        if answer != last_answer:
            report(f"  ETH ${answer / 10**8:,.2f}  {_figures(view)}")
            last_answer = answer
        closed_out = seen_events > 0 and not view.has_positions  # liquidated down to no position
        done = (closed_out or (queue.pending("ETH") == 0 and answer == target)) and not view.liquidatable
        settled_since = (settled_since or time.monotonic()) if done else None
        if settled_since is not None and time.monotonic() - settled_since >= SETTLE_S:
            left = queue.pending("ETH")
            if left:
                queue.clear("ETH")
                report(f"  (the position is closed out: the remaining {left} price steps are dropped)")
            return
        if time.monotonic() > deadline:
            raise DeadlineError("the crash path to be pushed and every liquidation to settle", PATH_TIMEOUT_S)
        time.sleep(0.5)


def summary(ctx: Context, contracts: MarginContracts, trader: str, report: Report) -> None:
    """Where the account, the insurance fund and the books ended."""
    view = margin_view(ctx, trader, contracts)
    held = ", ".join(f"{p.size_text} {p.market}" for p in view.positions) or "no position left"
    report(f"{TRADER}: {held}; {_figures(view)}; USD balance {usd(view.usd_balance)}")
    fund = margin_view(ctx, contracts.config.insurance_fund, contracts)
    books = usd_books(ctx, contracts=contracts)
    report(f"insurance fund equity {usd(fund.equity)}; sum of USD balances {usd(books.sum_usd)} == bad debt "
           f"{usd(books.bad_debt)}: {'yes' if books.balanced else 'NO'}")
    lp = vault_view(ctx, contracts=contracts)
    report(f"LP vault: equity {usd(lp.equity)}, share price {usd(lp.share_price)}, USDC {lp.usdc // 10**18:,}, "
           f"traders' open PnL {usd(lp.traders_pnl)}, needs deleverage: {'yes' if lp.needs_deleverage else 'no'}")


def run(ctx: Context, report: Report = print) -> None:
    """Play the margin scenario on a running devnet with the margin engine deployed."""
    contracts = ctx.margin()
    key = TRADER_KEYS[TRADER]
    trader = Account.from_key(key).address
    wait_funded(ctx, contracts, report)
    deposit_collateral(ctx, trader, key, report)
    open_position(ctx, contracts, trader, key, report)
    margin_winner.open_short(ctx, contracts, report)
    watch_crash(ctx, contracts, trader, report)
    margin_winner.close_and_withdraw(ctx, contracts, report)
    summary(ctx, contracts, trader, report)
