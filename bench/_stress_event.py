"""One event replayed with one seed on the deployed chain: an LP funds the LP vault (the markets'
counterparty), the book opens over the days before at the prices then, the bridged path is pushed,
the keepers (latency, gas, block limit, finite balances, exit liquidity; auto-deleveraging through
the real keeper loop whenever the vault needs it) and the traders (add margin, close) act, then
what is left is settled and measured."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from web3.logs import DISCARD

from relayer.keeper.deleverager import Deleverager
from relayer.keeper.tracker import AccountTracker
from relayer.margin.params import Calibration, LiquidationParams

from _stress_chain import ASSET_IDS, E18, HEARTBEAT, SPOKES, Chain, HealthReader, account
from stress_book import BookParams, Trader, draw_book, gross, wants_to_act
from stress_keepers import Candidate, KeeperState, gas_usd, plan
from stress_liquidity import Market
from stress_paths import Bar, Step, usdc_push_every
from stress_plot import Series
from stress_vault import VaultObservation, VaultTrack


@dataclass(frozen=True)
class Scenario:
    """An event's prices: the daily closes before it (opening days, oldest first) and the steps."""

    name: str
    squeeze: bool
    before: list[Bar]
    """ETH daily bars before the event, oldest first (one per opening day)."""
    before_btc: list[Bar]
    steps: list[Step]
    gas_gwei: float
    step_seconds: int


@dataclass(frozen=True)
class Knobs:
    """Everything a run depends on besides the scenario and the seed."""

    book: BookParams
    cal: Calibration
    liq: LiquidationParams
    keeper_latency_blocks: tuple[int, ...] = (1, 3)
    keeper_balance_usd: float = 2_000_000.0
    block_seconds: int = 12
    block_gas_limit: int = 30_000_000
    vault_to_oi: float = 0.5
    """The LP's deposit into the vault / the book's gross notional."""
    depth_scale: float = 1.0
    redeposit_steps: int = 4
    """Steps before a keeper's resale proceeds are back on the hub (a spoke round trip)."""


@dataclass
class Outcome:
    figures: dict[str, Any] = field(default_factory=dict)
    series: Series = field(default_factory=Series)


def _open_book(ch: Chain, s: Scenario, book: list[Trader], vault_usd: float) -> dict[str, int]:
    """Deposits each trader's collateral, seeds the vault once the first day's prices are fresh (its
    share price needs them), and opens each trader's positions on its day at that day's close."""
    days = len(s.before)
    deposits = []
    for t in book:
        day = days - t.open_day
        price = {"USDC": 1.0, "ETH": s.before[day].close, "BTC": s.before_btc[day].close}[t.collateral]
        deposits.append((account("trader", t.index), t.collateral, t.collateral_usd / price, t.spoke))
    ch.deposit(deposits)
    opened = refused = 0
    for d in range(days, 0, -1):
        e, b = s.before[days - d], s.before_btc[days - d]
        ch.advance(86_400)
        ch.push(e.close, b.close)
        ch.push(e.close, b.close)  # a first round far from the last is refused by the max-move bound
        if d == days:
            ch.seed_vault(vault_usd)
        orders = []
        for t in book:
            if t.open_day != d:
                continue
            for pos in t.positions:
                price = e.close if pos.market == "ETH" else b.close
                orders.append((pos.market, int(pos.notional_usd / price * E18), account("trader", t.index)))
        filled = ch.trade_all(orders, e.close, b.close)  # delayed orders: commit, then settle at the next round
        opened += sum(filled)
        refused += len(filled) - sum(filled)
    return {"orders": opened + refused, "opened": opened, "refused_by_margin": refused}


def open_interest(ch: Chain, eth: float, btc: float) -> float:
    return open_interest_and_fund(ch, eth, btc)[0]


def open_interest_and_fund(ch: Chain, eth: float, btc: float) -> tuple[float, float]:
    """Both markets' long + short open interest in USD and the insurance fund's equity (one batch)."""
    fns = [f for a in ("ETH", "BTC") for f in (ch.c["markets"][a].functions.longOpenInterest(),
                                                ch.c["markets"][a].functions.shortOpenInterest())]
    el, es, bl, bs, ins = ch.call_all([*fns, ch.c["engine"].functions.health(ch.insurance)])
    return (el + es) / E18 * eth + (bl + bs) / E18 * btc, float(ins[0]) / E18


def run(ch: Chain, s: Scenario, seed: int, k: Knobs) -> Outcome:
    """Replays `s` with book seed `seed` from the chain's current (freshly reverted) state."""
    out = Outcome()
    book = draw_book(k.book, s.squeeze, f"{s.name}-{seed}")
    traders = [account("trader", t.index) for t in book]
    vault_usd = k.vault_to_oi * gross(book)
    keeper_addrs = [account("keeper", i) for i in range(len(k.keeper_latency_blocks))]
    start_block = ch.w3.eth.block_number
    ch.deposit([(ch.lp, "USDC", vault_usd, SPOKES[0]), (ch.insurance, "USDC", max(1e6, gross(book)), SPOKES[0])]
               + [(a, "USDC", k.keeper_balance_usd * 10, SPOKES[1]) for a in keeper_addrs])
    first = s.steps[0]
    ch.set_market_params(first.eth, first.btc, k.cal)
    t_open = time.monotonic()
    opened = _open_book(ch, s, book, vault_usd)
    open_seconds = time.monotonic() - t_open
    ch.advance(s.step_seconds)
    ch.push(first.eth, first.btc)
    ch.push(first.eth, first.btc)
    from_block = ch.w3.eth.block_number
    oi0 = open_interest(ch, first.eth, first.btc)
    ins0 = ch.equity(ch.insurance)
    vault = VaultTrack(vault_usd)
    vault.observe(observe_vault(ch, 0.0))
    adl = _deleverager(ch, start_block, account("keeper", 0))
    keepers = [KeeperState(f"k{i}", lat, k.keeper_balance_usd) for i, lat in enumerate(k.keeper_latency_blocks)]
    market = Market.for_event(s.name, k.depth_scale)
    module, discount = ch.c["liq"], k.liq.collateral_discount / E18
    reader = HealthReader(ch, traders)
    seen: dict[str, int] = {}
    acted: set[str] = set()
    credits: list[tuple[int, int, float]] = []
    blocks_per_step = max(1, s.step_seconds // k.block_seconds)
    tally = {"liquidation_txs": 0, "liquidation_reverts": 0, "unprofitable_skips": 0, "out_of_gas": 0,
             "sales_limited_by_slippage": 0, "keeper_gas_usd": 0.0, "reactions": 0, "races_lost": 0,
             "oracle_pushes": 0, "steps_prices_not_ok": 0}
    gas_used: list[int] = []
    trader_of = {account("trader", t.index): t for t in book}
    usdc_every = usdc_push_every(s.step_seconds, HEARTBEAT)
    for n, st in enumerate(s.steps):
        if n:
            ch.advance(st.seconds - s.steps[n - 1].seconds)
        ch.push(st.eth, st.btc, usdc=n % usdc_every == 0)
        tally["oracle_pushes"] += 1
        out.series.price(st.seconds / 3600, st.eth, st.btc)
        market.decay()
        for c in [c for c in credits if c[0] <= n]:
            keepers[c[1]].balance_usd += c[2]
            credits.remove(c)
        block = n * blocks_per_step
        health = reader.read()
        tally["steps_prices_not_ok"] += int(not all(h[6] for h in health))  # e.g. a move beyond maxMoveBps
        if n % 4 == 3:  # traders look hourly
            reacting = []
            for h in health:
                t = trader_of[h[0]]
                if wants_to_act(t, k.book, h[1] / E18, h[3] / E18, h[0] in acted):
                    acted.add(h[0])
                    reacting.append(t)
            adds = [(account("trader", t.index), "USDC", t.collateral_usd * k.book.add_margin_fraction, t.spoke)
                    for t in reacting if t.reaction == "add_margin"]
            if adds:
                ch.deposit(adds)
            ch.close_all([(p.market, account("trader", t.index))
                          for t in reacting if t.reaction == "close" for p in t.positions], st.eth, st.btc)
            tally["reactions"] += len(reacting)
        cands = []
        for h in health:
            if not h[7]:
                seen.pop(h[0], None)
                continue
            cands.append(Candidate(h[0], expected_reward(h, k, discount), seen.setdefault(h[0], block)))
        gas_cost = gas_usd(s.gas_gwei, st.eth)
        p = plan(block + blocks_per_step - 1, cands, keepers, gas_cost, k.block_gas_limit * blocks_per_step)
        tally["unprofitable_skips"] += p.unprofitable
        tally["out_of_gas"] += p.out_of_gas
        for ki, acct in p.sends:
            r = _liquidate(ch, module, keepers, ki, acct, trader_of[acct], market, discount, gas_cost, st, tally)
            tally["races_lost"] += len(keepers) - 1
            if r is None:
                continue
            gas_used.append(r["gasUsed"])
            out.series.liquidation_hours.append(st.seconds / 3600)
            for ev in module.events.CollateralSold().process_receipt(r, errors=DISCARD):
                asset = "ETH" if ev.args.assetId == ASSET_IDS["ETH"] else "BTC"
                value = ev.args.repaid / E18 / (1 - discount)
                credits.append((n + k.redeposit_steps, ki, market.pools[asset].sell(value)))
        ob = observe_vault(ch, st.seconds / 3600)
        vault.observe(ob)
        if ob.needs_deleverage:  # the keeper's ADL loop, after its liquidations (relayer/keeper)
            res = adl.run_once()
            vault.deleveraged(st.seconds / 3600, len(res.deleveraged), res.still_needed)
            out.series.adl_hours.extend([st.seconds / 3600] * len(res.deleveraged))
        if n == 0 or n % 4 == 3 or n == len(s.steps) - 1:  # the path's start, then each bar's close
            out.series.record(st.seconds / 3600, st.eth, st.btc, *open_interest_and_fund(ch, st.eth, st.btc),
                              ob.equity_usd)
    last = s.steps[-1]
    pending_before_settle = _pending_deficit(ch, traders)
    settled = _settle_remaining(ch, module, keepers[0], traders, market, discount, last)
    end = observe_vault(ch, last.seconds / 3600)  # after the backstop's sales
    vault.observe(end)
    out.series.record(last.seconds / 3600, last.eth, last.btc, *open_interest_and_fund(ch, last.eth, last.btc),
                      end.equity_usd)
    out.figures = _collect(ch, from_block, traders, keeper_addrs)
    out.figures.update(
        event=s.name, seed=seed, steps=len(s.steps), **opened, open_interest_usd=oi0,
        gross_book_usd=gross(book), vault_to_oi=k.vault_to_oi, **vault.figures(),
        vault_shares_lp=int(ch.c["vault"].functions.sharesOf(ch.lp).call()),
        insurance_equity_start_usd=ins0, insurance_equity_end_usd=ch.equity(ch.insurance),
        pending_deficit_at_path_end_usd=pending_before_settle, **settled, **tally,
        gas_per_liquidation=sorted(gas_used)[len(gas_used) // 2] if gas_used else 0,
        keeper_balances_end_usd=[kp.balance_usd for kp in keepers],
        seconds_opening=round(open_seconds, 1),
    )
    return out


def observe_vault(ch: Chain, hour: float) -> VaultObservation:
    """The vault's equity, maintenance margin, share price, traders' open PnL and max-PnL check now
    (one batch of reads)."""
    v = ch.c["vault"]
    h, share_price, traders_pnl, exceeded = ch.call_all([
        ch.c["engine"].functions.health(v.address), v.functions.sharePrice(), v.functions.tradersPnl(),
        v.functions.pnlFactorExceeded()])
    return VaultObservation(hour, h[0] / E18, h[2] / E18, share_price / E18, traders_pnl / E18, bool(exceeded))


def _deleverager(ch: Chain, from_block: int, sender: str) -> Deleverager:
    """The keeper's own ADL loop (relayer/keeper/deleverager.py: rank by PnL × leverage, simulate,
    close whole positions through the AutoDeleverager while the vault needs it), sent by `sender`."""
    markets = ch.c["markets"]
    tracker = AccountTracker(ch.w3, markets["ETH"].abi, [m.address for m in markets.values()], from_block)

    def send(call: Any) -> tuple[str, int]:
        r = ch.try_send(call, sender)
        return "0x" + bytes(r["transactionHash"]).hex(), int(r["status"])

    return Deleverager(ch.w3, sender, tracker, ch.c["vault"], ch.c["adl"], ch.c["engine"], markets, send)


def _liquidate(ch: Chain, module: Any, keepers: list[KeeperState], ki: int, acct: str, t: Trader, market: Market,
               discount: float, gas_cost: float, st: Step, tally: dict[str, Any]) -> Any:
    """One keeper's liquidation: maxRepay is what the exit pool and its balance allow."""
    kp = keepers[ki]
    cap = max(0.0, kp.balance_usd)
    if t.collateral != "USDC":  # USDC is bought at par (no discount, no slippage)
        value = market.pools[t.collateral].max_profitable_sale(discount, 0.0, cap / (1 - discount))
        if value < cap / (1 - discount):
            tally["sales_limited_by_slippage"] += 1
        cap = value * (1 - discount)
    r = ch.try_send(module.functions.liquidate(acct, int(max(0.0, cap) * E18)), account("keeper", ki))
    tally["liquidation_txs"] += 1
    kp.spent_gas_usd += gas_cost
    tally["keeper_gas_usd"] += gas_cost
    if r["status"] != 1:
        tally["liquidation_reverts"] += 1
        return None
    for ev in module.events.Liquidated().process_receipt(r, errors=DISCARD):
        kp.earned_usd += ev.args.reward / E18
    for ev in module.events.CollateralSold().process_receipt(r, errors=DISCARD):
        kp.balance_usd -= ev.args.repaid / E18
    kp.sent += 1
    return r


def expected_reward(h: Any, k: Knobs, discount: float) -> float:
    """What a keeper expects to earn from a lens row (account, equity, IM, MM, collateral value,
    has positions, prices ok, liquidatable): the reward on the closed notional while positions are
    open (notional ~ MM / (mm_ratio / max leverage)), else the discount on the collateral it buys;
    an account with nothing left to sell only needs its deficit covered (the protocol's own call)."""
    if h[5]:
        notional = h[3] / E18 / (k.cal.mm_ratio / k.cal.max_leverage)
        return float(k.liq.reward_rate / E18 * k.liq.close_factor / E18 * notional)
    if h[4] == 0:
        return float("inf")
    deficit = max(0.0, (h[4] - h[1]) / E18)
    return discount * min(deficit, h[4] / E18)


def _pending_deficit(ch: Chain, traders: list[str]) -> float:
    """Negative equity the keepers left at the path's end (collateral nobody would buy at the slippage)."""
    return sum(max(0.0, -h[1] / E18) for h in ch.c["lens"].functions.healthOf(traders).call())


def _settle_remaining(ch: Chain, module: Any, kp: KeeperState, traders: list[str], market: Market,
                      discount: float, last: Step) -> dict[str, float]:
    """After the path: liquidity is back (backlog cleared), a backstop keeper buys what is left at
    any slippage; its loss below the bonus counts as a cost the fund stands behind."""
    for p in market.pools.values():
        p.backlog_usd = 0.0
    loss, rounds = 0.0, 0
    lens = ch.c["lens"]
    while rounds < 5:
        left = lens.functions.liquidatable(traders).call()
        if not left:
            break
        for acct in left:
            r = ch.try_send(module.functions.liquidate(acct, 10**9 * E18), account("keeper", 0))
            if r["status"] != 1:
                continue
            for ev in module.events.CollateralSold().process_receipt(r, errors=DISCARD):
                asset = "ETH" if ev.args.assetId == ASSET_IDS["ETH"] else "BTC"
                if ev.args.assetId == ASSET_IDS["USDC"]:
                    continue
                value = ev.args.repaid / E18 / (1 - discount)
                loss += max(0.0, ev.args.repaid / E18 - market.pools[asset].sell(value))
        rounds += 1
    return {"backstop_sale_loss_usd": loss,
            "left_liquidatable": len(lens.functions.liquidatable(traders).call())}


def _collect(ch: Chain, from_block: int, traders: list[str], keepers: list[str]) -> dict[str, Any]:
    """Totals from the liquidation module's events and the ledger identity."""
    ev = ch.c["liq"].events

    def total(event: Any, arg: str) -> float:
        return sum(getattr(e.args, arg) for e in event().get_logs(from_block=from_block)) / E18

    liquidated = ev.Liquidated().get_logs(from_block=from_block)
    led = ch.c["ledger"]
    # the pool is the LP vault's account; each market holds the settlement rewards escrowed by its
    # pending orders (an order committed at the opening whose settle failed keeps its escrow there)
    markets = [m.address for m in ch.c["markets"].values()]
    everyone = traders + keepers + [ch.pool, ch.lp, ch.insurance] + markets
    sum_usd = sum(ch.usd(a) for a in everyone)
    adl = ch.c["adl"].events.Deleveraged().get_logs(from_block=from_block)
    return {
        "adl_closed_notional_usd": sum(e.args.closedNotional for e in adl) / E18,
        "adl_profit_realised_usd": sum(e.args.pnl for e in adl) / E18,
        "liquidations": len(liquidated),
        "accounts_liquidated": len({e.args.account for e in liquidated}),
        "full_closes": sum(1 for e in liquidated if e.args.full),
        "liquidator_rewards_usd": total(ev.Liquidated, "reward"),
        "insurance_penalties_usd": total(ev.Liquidated, "penalty"),
        "collateral_sold_usd": total(ev.CollateralSold, "repaid"),
        "insurance_used_usd": total(ev.InsuranceUsed, "amount"),
        "socialised_usd": total(ev.LossSocialised, "amount"),
        "bad_debt_written_off_usd": total(ev.BadDebtRecorded, "amount"),
        "ledger_bad_debt_wei": int(led.functions.badDebt().call()),
        "sum_usd_balances_wei": sum_usd,
        "insurance_usd_wei": ch.usd(ch.insurance),
        "vault_usd_wei": ch.usd(ch.pool),
    }

