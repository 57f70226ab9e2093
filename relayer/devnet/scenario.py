"""The devnet's demo: two users deposit different tokens on both spokes and watch the hub credit them,
then one withdraws to the other spoke; then the margin demo (margin_scenario): a leveraged position
on cross-chain collateral, a crash, a liquidation. Every wait is a poll with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from relayer.context import Context
from relayer.devnet._proc import DeadlineError
from relayer.devnet.layout import USER_KEYS
from relayer.services import accounts, transfers
from relayer.services.units import fmt_amount, to_units
from relayer.types import NATIVE_TOKEN

Report = Callable[[str], None]
CREDIT_TIMEOUT_S = 90.0
RELEASE_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Deposit:
    """One scenario deposit."""

    user: str
    chain: str
    token: str
    amount: str
    asset: str


DEPOSITS: tuple[Deposit, ...] = (
    Deposit(user="alice", chain="spoke-a", token="USDC", amount="1000", asset="USDC"),
    Deposit(user="alice", chain="spoke-b", token="ETH", amount="1.5", asset="ETH"),
    Deposit(user="bob", chain="spoke-a", token="WETH", amount="2", asset="ETH"),
    Deposit(user="bob", chain="spoke-b", token="USDC", amount="500", asset="USDC"),
)
WITHDRAWAL = {"user": "alice", "asset": "USDC", "amount": "300", "to_chain": "spoke-b"}
"""alice deposited USDC on spoke A and takes part of it out on spoke B (bob's USDC is there)."""


def address_of(user: str) -> str:
    """Address of a scenario user (anvil dev account, DEV ONLY)."""
    return Account.from_key(USER_KEYS[user]).address


def _balances(ctx: Context) -> dict[tuple[str, str], int]:
    """(user, asset symbol) -> ledger balance."""
    out = {}
    for user in USER_KEYS:
        for bal in accounts.account_view(ctx, address_of(user)).balances:
            out[(user, bal.symbol)] = bal.balance
    return out


def _expected_credits() -> dict[tuple[str, str], int]:
    """(user, asset) -> ledger units the scenario's deposits add (assets have 18 decimals)."""
    out: dict[tuple[str, str], int] = {}
    for d in DEPOSITS:
        out[(d.user, d.asset)] = out.get((d.user, d.asset), 0) + to_units(d.amount, 18)
    return out


def watch_credits(
    ctx: Context, before: dict[tuple[str, str], int], report: Report, timeout_s: float = CREDIT_TIMEOUT_S
) -> None:
    """Print hub balances as they change until every expected credit is there; DeadlineError otherwise."""
    expected = {k: before.get(k, 0) + v for k, v in _expected_credits().items()}
    seen = dict(before)
    deadline = time.monotonic() + timeout_s
    while True:
        now = _balances(ctx)
        for key, value in sorted(now.items()):
            if value != seen.get(key, 0):
                report(f"  hub: {key[0]} now holds {fmt_amount(value, 18)} {key[1]}")
        seen = now
        if all(now.get(k, 0) >= v for k, v in expected.items()):
            return
        if time.monotonic() > deadline:
            missing = {f"{k[0]}/{k[1]}": fmt_amount(v - now.get(k, 0), 18) for k, v in expected.items() if now.get(k, 0) < v}
            raise DeadlineError(f"hub credits (still missing {missing})", timeout_s)
        time.sleep(0.5)


def _spoke_balance(ctx: Context, chain: str, symbol: str, owner: str) -> int:
    """A user's token (or native coin) balance on a spoke."""
    chain_id = transfers.chain_id_of(ctx, chain)
    token = ctx.deployment.tokens[chain_id][symbol]
    if token.address == NATIVE_TOKEN:
        return int(ctx.client(chain_id).w3.eth.get_balance(owner))
    return int(ctx.erc20(chain_id, token.address).functions.balanceOf(owner).call())


def run_withdrawal(ctx: Context, report: Report, timeout_s: float = RELEASE_TIMEOUT_S) -> None:
    """alice withdraws USDC to spoke B; wait until the lockbox there released it."""
    user = str(WITHDRAWAL["user"])
    owner = address_of(user)
    before = _spoke_balance(ctx, str(WITHDRAWAL["to_chain"]), "USDC", owner)
    result = transfers.withdraw(
        ctx, str(WITHDRAWAL["asset"]), str(WITHDRAWAL["amount"]), str(WITHDRAWAL["to_chain"]), owner, USER_KEYS[user]
    )
    report(
        f"{user} requests {WITHDRAWAL['amount']} {WITHDRAWAL['asset']} to {WITHDRAWAL['to_chain']} "
        f"(withdrawal nonce {result.route_nonce}, tx {result.tx_hash[:10]}...)"
    )
    want = before + to_units(str(WITHDRAWAL["amount"]), 6)
    deadline = time.monotonic() + timeout_s
    while _spoke_balance(ctx, str(WITHDRAWAL["to_chain"]), "USDC", owner) < want:
        if time.monotonic() > deadline:
            raise DeadlineError(f"the release of withdrawal {result.route_nonce} on {WITHDRAWAL['to_chain']}", timeout_s)
        time.sleep(0.5)
    report(f"  {WITHDRAWAL['to_chain']}: {user} received {WITHDRAWAL['amount']} USDC from the lockbox")


def run(config_path: Path, report: Report = print, withdraw: bool = True, margin: bool = True) -> None:
    """Play the scenario against a running devnet (its config.yaml)."""
    ctx = Context.from_file(config_path)
    before = _balances(ctx)
    for d in DEPOSITS:
        result = transfers.deposit(ctx, d.chain, d.token, d.amount, address_of(d.user), USER_KEYS[d.user])
        report(f"{d.user} deposits {d.amount} {d.token} on {d.chain} (deposit nonce {result.route_nonce})")
    report("waiting for the hub to credit them (validators wait for 2 confirmations, then a quorum of 3 of 5) ...")
    watch_credits(ctx, before, report)
    report("every deposit is credited on the hub")
    if withdraw:
        run_withdrawal(ctx, report)
    for user in USER_KEYS:
        view = accounts.account_view(ctx, address_of(user))
        held = ", ".join(f"{b.amount} {b.symbol}" for b in view.balances)
        report(f"{user} ({view.address}): {held}")
    if margin and ctx.deployment.margin is not None:
        from relayer.devnet import margin_scenario

        report("--- margin: a leveraged position on collateral from both spokes, a crash, the keeper ---")
        margin_scenario.run(ctx, report)
