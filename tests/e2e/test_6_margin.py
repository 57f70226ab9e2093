"""Margin on the devnet: positions backed by collateral from both spokes, the oracle pusher moving the
price, the keeper (a real Celery worker process) liquidating; two competing keepers liquidate once;
refusals are clear and a stale price still lets a position close; a winner's profit is paid from
the LP vault's USDC; an LP deposits into the vault and redeems after the delay with `xmargin vault`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests
from eth_account import Account
from helpers import deposit_routes, hub_balance, wait_caught_up
from margin_helpers import (
    eth_price,
    events,
    mine_leaving_out,
    mine_until_price,
    pending_to,
    position,
    push_prices,
    queue_prices,
    size_for,
    trader,
    txs_to,
)

from relayer.devnet import processes
from relayer.devnet._proc import poll
from relayer.devnet.chains import rpc_call
from relayer.devnet.layout import KEEPER_KEYS
from relayer.devnet.margin_scenario import wait_funded
from relayer.devnet.specs import keeper_spec
from relayer.errors import TradeRejectedError
from relayer.services import trading
from relayer.services.margin import margin_view, prices_view, usd_books

SCALE_USDC = 10**12
MARKET = "ETH-USD"
LIQUIDATION_TIMEOUT_S = 60.0
KEEPER_1, KEEPER_2 = (Account.from_key(k).address for k in KEEPER_KEYS)


def _xmargin(*args: str) -> subprocess.CompletedProcess[str]:
    """The `xmargin` command, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "relayer.cli", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


@pytest.fixture(scope="module")
def contracts(ctx):
    contracts = ctx.margin()
    wait_funded(ctx, contracts, print)  # LP pool, insurance fund, keepers: deposited at deploy
    return contracts


TRADERS = {
    "cross-chain": [("spoke-a", "USDC", 1_000 * 10**6), ("spoke-b", "ETH", 10**18)],  # native ETH on the other spoke
    "healthy": [("spoke-a", "USDC", 5_000 * 10**6)],
    "competed": [("spoke-a", "USDC", 2_000 * 10**6)],
    "refused": [("spoke-a", "USDC", 1_000 * 10**6)],
    "winner": [("spoke-a", "USDC", 2_000 * 10**6)],
    "lp": [("spoke-a", "USDC", 1_500 * 10**6)],
}
"""Each test's fresh hub account and the collateral it deposits (token units), credited in one wave."""


@pytest.fixture(scope="module")
def traders(devnet, ctx, depositors) -> dict[str, tuple[str, str]]:
    """label -> (address, key): fresh hub accounts with gas, their deposits credited on the hub."""
    out = {label: trader(devnet, label) for label in TRADERS}
    depositor = {"spoke-a": depositors[("alice", "spoke-a")], "spoke-b": depositors[("bob", "spoke-b")]}
    sent = {chain: d.send([(token, units, out[label][0]) for label, items in TRADERS.items()
                           for c, token, units in items if c == chain]) for chain, d in depositor.items()}
    for chain, hashes in sent.items():
        depositor[chain].wait(hashes)
    wait_caught_up(ctx, deposit_routes(ctx))
    return out


def test_keeper_liquidates_a_position_backed_by_both_spokes_and_leaves_a_healthy_one_alone(
    devnet, ctx, traders, contracts
) -> None:
    crossed, crossed_key = traders["cross-chain"]
    healthy, healthy_key = traders["healthy"]
    assert hub_balance(ctx, crossed, "USDC") == 1_000 * 10**6 * SCALE_USDC
    assert hub_balance(ctx, crossed, "ETH") == 10**18

    p0 = eth_price(contracts)
    collateral = margin_view(ctx, crossed, contracts).collateral_value / 10**18
    assert collateral > 1_000  # both spokes' deposits count: USDC at 100 %, ETH at 80 %
    trading.trade(ctx, MARKET, size_for(2.8 * collateral, p0), None, crossed_key)  # 2.8x on USDC + ETH (max 3x)
    trading.trade(ctx, MARKET, size_for(5_000, p0), None, healthy_key)  # 1x
    healthy_size = position(contracts, MARKET, healthy)
    start = int(contracts.client.block_number())
    assert not margin_view(ctx, crossed, contracts).liquidatable

    push_prices(ctx, contracts, [0.9 * p0, 0.78 * p0])  # -22 %: below maintenance margin

    poll(lambda: bool(events(contracts, "Liquidated", crossed, start)) and not margin_view(ctx, crossed, contracts).liquidatable,
         "the keeper worker to liquidate the account", LIQUIDATION_TIMEOUT_S, interval_s=0.5)
    view = margin_view(ctx, crossed, contracts)
    assert not view.has_positions or view.equity >= view.maintenance_margin  # healthy again or fully closed
    liquidated = events(contracts, "Liquidated", crossed, start)
    assert {e["args"]["liquidator"] for e in liquidated} == {KEEPER_1}
    assert events(contracts, "Liquidated", healthy, start) == []
    assert position(contracts, MARKET, healthy) == healthy_size
    assert margin_view(ctx, healthy, contracts).health == "healthy"
    books = usd_books(ctx, contracts=contracts)
    assert books.balanced, books

    if view.has_positions:  # the owner closes what the partial liquidation left
        assert trading.close(ctx, MARKET, crossed_key).new_size == 0
    served = requests.get(f"http://127.0.0.1:{devnet.layout.api_port}/accounts/{crossed}", timeout=10).json()
    closed = margin_view(ctx, crossed, contracts)
    assert served["margin"]["positions"] == [] and served["margin"]["equity"] == closed.equity  # the API's figures
    assert served["margin"]["collateral_value"] == closed.collateral_value and served["usd_balance"] == closed.usd_balance
    push_prices(ctx, contracts, [p0])  # back where it was for the next test
    assert usd_books(ctx, contracts=contracts).balanced


LEFT_TO_OTHER = "left to another keeper"
"""What relayer.keeper.liquidator logs when another keeper holds an account's lease."""
PASS_DONE = re.compile(r"keep_accounts\[[^\]]+\] succeeded")
"""A keeper worker's log line for a finished pass (Celery's task-succeeded line)."""


def test_two_competing_keeper_workers_liquidate_exactly_once(devnet, ctx, traders, contracts) -> None:
    layout = devnet.layout
    hub_url = layout.rpc_url(layout.chain("hub"))
    module, oracle = contracts.liquidation.address, contracts.oracle.address
    (second,) = processes.start_relayer(layout, names=set(), extra=[keeper_spec(layout, 2)])
    devnet.replace(second.name, second)
    try:
        # the second keeper first finishes a pass of its own (its first pass syncs every feed): one that
        # is still starting when the price drops would sync behind the first keeper's pending liquidation
        poll(lambda: PASS_DONE.search(second.log_text()), "the second keeper to finish a first pass", 90, 0.5)
        account, key = traders["competed"]
        p0 = eth_price(contracts)
        trading.trade(ctx, MARKET, size_for(2.8 * 2_000, p0), None, key)  # 2.8x: -25 % crosses MM, half a close restores it
        start = int(contracts.client.block_number())

        rpc_call(hub_url, "evm_setIntervalMining", [0])  # from here on the test mines the hub's blocks
        try:
            queue_prices(ctx, contracts, [0.75 * p0])
            mine_until_price(hub_url, contracts, 0.75 * p0)  # the drop is on chain; both keepers see the same state
            # each keeper first syncs the feeds (`syncFeed`, waiting for its receipt): mined here. Then
            # one keeper claims the account (a Redis lease per account) and sends; the other, seeing the
            # same state, leaves it alone instead of sending a duplicate. A sync sent while that
            # liquidation is pending (the pusher's refresh rounds go on) is mined in a block that
            # leaves the liquidation out, so the other keeper always gets to look at the account

            def one_sends_the_other_leaves() -> bool:
                liquidations = pending_to(hub_url, module)
                if liquidations and len(liquidations) == 1 and any(
                        LEFT_TO_OTHER in devnet.find(n).log_text() for n in ("keeper-1", "keeper-2")):
                    return True
                if pending_to(hub_url, oracle):
                    mine_leaving_out(hub_url, module)
                return False

            poll(one_sends_the_other_leaves, "one keeper to send the liquidation and the other to leave it", 90, 0.2)
            both = pending_to(hub_url, module)
            rpc_call(hub_url, "evm_mine")
        finally:
            rpc_call(hub_url, "evm_setIntervalMining", [layout.block_time])
        assert len(both) == 1 and set(both) <= {KEEPER_1, KEEPER_2}

        head = int(contracts.client.block_number())
        sent = txs_to(contracts.client.w3, module, start, head)
        assert len(sent) == 1 and sent[0][2] == 1  # one send, and it applied: no duplicate, no revert
        (liquidated,) = events(contracts, "Liquidated", account, start)
        assert liquidated["args"]["full"] is False  # a partial close restored health
        view = margin_view(ctx, account, contracts)
        assert view.has_positions and view.maintenance_margin <= view.equity  # above MM again
        # the keepers keep running and leave the now healthy account alone
        poll(lambda: int(contracts.client.block_number()) >= head + 3, "three more blocks", 30)
        assert len(events(contracts, "Liquidated", account, start)) == 1
        assert usd_books(ctx, contracts=contracts).balanced
        for name in ("keeper-1", "keeper-2"):
            assert "refused" not in devnet.find(name).log_text(), name
        assert trading.close(ctx, MARKET, key).new_size == 0
        push_prices(ctx, contracts, [0.87 * p0, p0])  # back in two steps: +33 % at once is beyond the feed's bound
    finally:
        devnet.stop(second.name)


def test_trades_are_refused_clearly_and_an_exit_committed_while_stale_fills_at_the_next_price(
    devnet, ctx, traders, contracts,
) -> None:
    layout = devnet.layout
    hub_url = layout.rpc_url(layout.chain("hub"))
    account, key = traders["refused"]
    p0 = eth_price(contracts)

    with pytest.raises(TradeRejectedError, match="insufficient margin") as margin_error:
        trading.trade(ctx, MARKET, size_for(4 * 1_000, p0), None, key)  # 4x > the 3x maximum
    assert margin_error.value.error == "MarketAccountBelowInitialMargin"
    cli = _xmargin("trade", "--market", MARKET, "--size", size_for(4 * 1_000, p0), "--key", key,
                   "--config", str(layout.config_path))
    assert cli.returncode == 1 and "insufficient margin" in cli.stderr and "max leverage 3x" in cli.stderr
    btc = next(p for p in prices_view(ctx, contracts) if p.feed == "BTC").price / 10**18
    with pytest.raises(TradeRejectedError, match="open-interest cap") as cap_error:
        trading.trade(ctx, "BTC-USD", size_for(2_100_000, btc), None, key)  # the devnet caps $2M a side
    assert cap_error.value.error == "MarketOpenInterestCapExceeded"
    opened = trading.trade(ctx, MARKET, size_for(2 * 1_000, p0), None, key)

    devnet.stop("oracle")  # nobody refreshes the prices any more
    try:
        rpc_call(hub_url, "evm_increaseTime", [150])  # past the 120 s heartbeat
        rpc_call(hub_url, "evm_mine")
        assert next(p for p in prices_view(ctx, contracts) if p.feed == "ETH").status == "Stale"
        with pytest.raises(TradeRejectedError, match="stale price") as stale_error:
            trading.trade(ctx, MARKET, "0.1", None, key)  # increasing needs a fresh price
        assert stale_error.value.error == "OraclePriceStale"
        shown = json.loads(_xmargin("account", "--key", key, "--json", "--config", str(layout.config_path)).stdout)
        assert shown["account"]["margin"]["health"] == "prices not fresh"
        assert [p["price_status"] for p in shown["account"]["margin"]["positions"]] == ["Stale"]
        # no fill at the stale price (that would be a free option): the exit is committed now ...
        committed_at = trading.commit(ctx, MARKET, -opened.new_size, 0, key)
        shown = json.loads(_xmargin("account", "--key", key, "--json", "--config", str(layout.config_path)).stdout)
        assert [o["size_delta"] for o in shown["account"]["margin"]["pending_orders"]] == [-opened.new_size]
    finally:
        devnet.replace("oracle", processes.restart("oracle", layout))
    # ... and fills at the first price published after its minimum delay
    closed = trading.wait_for_settlement(ctx, MARKET, key, committed_at)
    assert closed.new_size == 0 and closed.size_delta == -opened.new_size
    poll(lambda: all(p.status == "Ok" for p in prices_view(ctx, contracts)), "fresh prices again", 30, 0.5)


def test_a_winner_withdraws_profit_to_a_spoke(devnet, ctx, traders, contracts) -> None:
    """Issue 8 scenario 5 end to end: realised profit (a USD balance on the hub) is settled in USDC
    from the LP pool by the ordinary `xmargin withdraw`, and the spoke's lockbox pays it out."""
    layout = devnet.layout
    account, key = traders["winner"]
    p0 = eth_price(contracts)
    trading.trade(ctx, MARKET, size_for(4 * 1_000, p0), None, key)
    push_prices(ctx, contracts, [p0 * 1.02, p0 * 1.04, p0 * 1.06])
    trading.close(ctx, MARKET, key)
    profit = int(ctx.ledger().functions.usdBalanceOf(account).call())
    assert profit > 100 * 10**18  # ~ +6 % on $4,000, less fees
    spoke = layout.chain("spoke-a")
    usdc = ctx.deployment.tokens[spoke.chain_id]["USDC"]
    erc20 = ctx.erc20(spoke.chain_id, usdc.address)
    before = int(erc20.functions.balanceOf(account).call())
    whole = 2_000 + profit // 10**18  # principal + whole dollars of profit
    usdc_id = ctx.deployment.assets["USDC"]
    vault_before = int(ctx.ledger().functions.balanceOf(contracts.vault.address, usdc_id).call())
    cli = _xmargin("withdraw", "--asset", "USDC", "--amount", str(whole), "--to-chain", "spoke-a", "--key", key,
                   "--config", str(layout.config_path))
    assert cli.returncode == 0, cli.stderr
    left = int(ctx.ledger().functions.usdBalanceOf(account).call())
    assert 0 <= left < 10**18  # settled, cents stay USD
    vault_after = int(ctx.ledger().functions.balanceOf(contracts.vault.address, usdc_id).call())
    assert vault_before - vault_after == profit - left  # the profit came out of the LP vault's USDC
    poll(lambda: int(erc20.functions.balanceOf(account).call()) == before + whole * 10**usdc.decimals,
         "the spoke to release principal + profit", 90, 0.5)



def test_an_lp_deposits_into_the_vault_and_redeems_after_the_delay_with_the_cli(
    devnet, ctx, traders, contracts,
) -> None:
    layout = devnet.layout
    account, key = traders["lp"]
    as_lp = ("--key", key, "--config", str(layout.config_path))

    def status() -> dict:
        shown = _xmargin("vault", "status", "--json", *as_lp)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    seeded = _xmargin("devnet", "seed-vault", "--config", str(layout.config_path))  # done by `devnet up`: a no-op
    assert seeded.returncode == 0 and "the LP vault is seeded" in seeded.stdout, seeded.stderr
    before = status()
    deposited = _xmargin("vault", "deposit", "1000", *as_lp)
    assert deposited.returncode == 0, deposited.stderr
    assert "deposited 1000 USDC into the LP vault" in deposited.stdout
    after = status()
    shares = after["owner"]["shares"]
    assert shares > 0 and after["total_shares"] == before["total_shares"] + shares
    assert abs(after["owner"]["value"] - 1_000 * 10**18) < 10**18  # at the share price of the moment, to $1
    assert after["owner"]["usdc"] == 500 * 10**18 and after["needs_deleverage"] is False
    assert after["max_pnl_factor"] == 10**18 // 2 and after["redeem_delay"] == 30
    text = _xmargin("vault", "status", *as_lp).stdout
    assert "share price $" in text and "needs deleverage: no" in text and "max-PnL factor" in text
    served = requests.get(f"http://127.0.0.1:{layout.api_port}/v1/vault/{account}", timeout=10).json()
    assert served["shares"] == shares and served["pending"] == []  # the API serves the same figures

    queued = _xmargin("vault", "redeem", "all", *as_lp)
    assert queued.returncode == 0, queued.stderr
    queued_id = re.search(r"redemption (\d+) queued", queued.stdout)
    assert queued_id is not None, queued.stdout
    early = _xmargin("vault", "execute", queued_id.group(1), *as_lp)  # at once: well inside the 30 s delay
    assert early.returncode == 1
    assert f"redemption {queued_id.group(1)} is not ready yet: it can be executed in" in early.stderr, early.stderr
    assert "VaultRedemptionNotReady" not in early.stderr  # a sentence, not the error's name
    (pending,) = status()["owner"]["pending"]
    assert pending["id"] == int(queued_id.group(1)) and pending["shares"] == shares

    poll(lambda: int(ctx.hub.get_block("latest")["timestamp"]) >= pending["ready_at"], "the redeem delay to pass",
         60, 0.5)
    usdc_before = hub_balance(ctx, account, "USDC")
    executed = _xmargin("vault", "execute", str(pending["id"]), *as_lp)
    assert executed.returncode == 0, executed.stderr
    paid = hub_balance(ctx, account, "USDC") - usdc_before
    assert abs(paid - 1_000 * 10**18) < 20 * 10**18  # the share price at execution: others' open PnL moves it
    final = status()
    assert final["owner"]["shares"] == 0 and final["owner"]["pending"] == []
    assert final["total_shares"] == before["total_shares"]
