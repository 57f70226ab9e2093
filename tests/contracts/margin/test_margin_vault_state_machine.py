"""Random-handler invariant test of the settlement / LP vault / liquidation economics (issue 8):
deposits, trades, price moves, liquidations, auto-deleveraging, vault deposits and redemptions,
profit withdrawals to the spoke, time, in random order and sizes.

Every revert a handler sees must be one its precondition explains (`ALLOWED`), and after every
step the invariants hold:
  * nothing hidden: every open position is counted by the risk engine (`hasPositions`), the
    markets' open interest equals the sum of positions, and the vault holds exactly -skew;
  * the accounting identity: sum over every account (traders, LPs, keeper, vault, insurance) of
    the USD balance == ledger.badDebt() (settlement and every fee/PnL move are zero-sum USD
    transfers; only a write-off creates the difference), and every asset's balances sum to what
    the deposit route credited minus what withdrawals debited;
  * insurance pays only after all collateral is sold: a liquidation that emits InsuranceUsed
    leaves the account with no balance of any asset."""

from collections import Counter

from brownie import chain
from brownie.exceptions import VirtualMachineError
from hypothesis import HealthCheck, strategies as st
from margin_vault_support import brownie_state_machine

from margin_helpers import E18, close_position, open_position
from margin_support import SPOKE, USDC, WBTC, WETH, fund, set_price

SETTINGS = {
    "max_examples": 3,
    "stateful_step_count": 15,
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
}
ALLOWED = {
    "trade": {"MarketAccountBelowInitialMargin", "MarketPoolBelowInitialMargin", "MarketOpenInterestCapExceeded"},
    "close": {"MarketNoPosition"},
    "withdraw": {"WithdrawalExceedsBalance", "WithdrawalLeavesAccountUnhealthy", "WithdrawalAmountZero"},
    "vault_deposit": {"VaultDepositorBelowInitialMargin", "CollateralTransferExceedsBalance", "VaultAmountZero"},
    "redeem": {"VaultRedemptionNotReady", "VaultRedemptionLeavesVaultUnderMargin", "VaultLiquidityInsufficient"},
}
PRICES = {WETH: 2_000.0, WBTC: 30_000.0}


def revert_name(exc: VirtualMachineError) -> str:
    msg = exc.revert_msg or ""
    return msg.split(":")[0]


class VaultMachine:
    st_user = st.integers(0, 2)
    st_market = st.integers(0, 1)
    st_size = st.integers(-40, 40)
    st_usdc = st.integers(1_000, 60_000)
    st_move = st.integers(-60, 60)  # tenths of a percent
    st_share = st.integers(1, 100)
    st_seconds = st.integers(60, 3_600)

    def __init__(cls, vsys, accounts):
        cls.s = vsys
        cls.traders = list(accounts[1:4])
        cls.lp2 = accounts[4]
        cls.keeper = accounts[5]
        cls.everyone = [*cls.traders, cls.lp2, cls.keeper, vsys.lp, vsys.vault, vsys.insurance]
        cls.seen = Counter()

    def setup(self):
        self.prices = dict(PRICES)
        self.redemptions: list[int] = []
        self.credited = {USDC: 0, WETH: 0, WBTC: 0}  # ledger units credited after the fixture
        self.debited = 0  # USDC ledger units withdrawn to the spoke
        self.base = {a: sum(self.s.ledger.balanceOf(x, a) for x in self.everyone) for a in (USDC, WETH, WBTC)}
        fund(self.s, self.keeper, usdc=500_000)
        self.credited[USDC] += 500_000 * 10**6

    def teardown_final(cls):
        print("\nvault state machine exercised:", dict(sorted(cls.seen.items())))

    def _try(self, kind, fn, *args):
        try:
            tx = fn(*args)
        except VirtualMachineError as exc:
            name = revert_name(exc)
            assert name in ALLOWED[kind], f"{kind} reverted with {exc.revert_msg!r}"
            self.seen[f"{kind} rejected: {name}"] += 1
            return None
        self.seen[kind] += 1
        return tx

    def _market(self, i):
        return (self.s.eth, self.s.btc)[i]

    # ------------------------------------------------------------------ rules
    def rule_deposit(self, user="st_user", usdc="st_usdc"):
        fund(self.s, self.traders[user], usdc=usdc)
        self.credited[USDC] += usdc * 10**6

    def rule_trade(self, user="st_user", market="st_market", size="st_size"):
        if size == 0:
            return
        m = self._market(market)
        unit = E18 if market == 0 else E18 // 10
        self._try("trade", open_position, m, self.traders[user], size * unit)

    def rule_close(self, user="st_user", market="st_market"):
        self._try("close", close_position, self._market(market), self.traders[user])

    def rule_move_price(self, market="st_market", move="st_move"):
        asset = (WETH, WBTC)[market]
        self.prices[asset] *= 1 + move / 1_000
        set_price(self.s, asset, self.prices[asset])
        self.seen["price moved"] += 1

    def rule_liquidate(self, user="st_user"):
        t = self.traders[user]
        liquidatable = self.s.engine.isLiquidatable(t)
        if not liquidatable:
            return
        tx = self.s.liq.liquidate(t, 2**256 - 1, {"from": self.keeper})
        self.seen["liquidation"] += 1
        if "InsuranceUsed" in tx.events:
            self.seen["insurance paid"] += 1
            for a in (USDC, WETH, WBTC):
                assert self.s.ledger.balanceOf(t, a) == 0, "insurance paid while collateral remained"

    def rule_deleverage(self, user="st_user", market="st_market"):
        m, t = self._market(market), self.traders[user]
        needed = self.s.vault.needsDeleverage()
        profitable = m.marginState(t)["pnl"] > 0 and m.positions(t)[0] != 0
        try:
            self.s.adl.deleverage(m, t, 2**255, {"from": self.keeper})
        except VirtualMachineError as exc:
            assert not (needed and profitable), f"ADL refused: {exc.revert_msg}"
            self.seen["adl refused"] += 1
            return
        assert needed and profitable
        self.seen["adl"] += 1

    def rule_withdraw_profit(self, user="st_user", share="st_share"):
        t = self.traders[user]
        usd = max(self.s.ledger.usdBalanceOf(t), 0) // 10**12
        amount = (self.s.ledger.balanceOf(t, USDC) + usd) * share // 100
        tx = self._try("withdraw", self.s.ledger.requestWithdrawal, USDC, amount, SPOKE, t, {"from": t})
        if tx is not None:
            self.debited += tx.events["WithdrawalQueued"]["amount"]

    def rule_vault_deposit(self, usdc="st_usdc"):
        fund(self.s, self.lp2, usdc=usdc)
        self.credited[USDC] += usdc * 10**6
        self._try("vault_deposit", self.s.vault.deposit, usdc * 10**6, {"from": self.lp2})

    def rule_request_redeem(self, share="st_share"):
        for lp in (self.lp2, self.s.lp):
            shares = self.s.vault.sharesOf(lp) * share // 100
            if shares:
                tx = self.s.vault.requestRedeem(shares, {"from": lp})
                self.redemptions.append(tx.return_value)
                self.seen["redeem requested"] += 1
                return

    def rule_execute_redeem(self):
        if not self.redemptions:
            return
        rid = self.redemptions[0]
        if self._try("redeem", self.s.vault.executeRedeem, rid, {"from": self.keeper}) is not None:
            self.redemptions.pop(0)

    def rule_advance_time(self, seconds="st_seconds"):
        chain.sleep(seconds)
        for asset, price in self.prices.items():
            set_price(self.s, asset, price)
        set_price(self.s, USDC, 1)
        self.seen["time advanced"] += 1

    # ------------------------------------------------------------------ invariants
    def invariant_nothing_hidden(self):
        for m in (self.s.eth, self.s.btc):
            sizes = [m.positions(t)[0] for t in self.traders]
            assert sum(s for s in sizes if s > 0) == m.longOpenInterest()
            assert -sum(s for s in sizes if s < 0) == m.shortOpenInterest()
            assert m.marginState(self.s.vault)["size"] == -(m.longOpenInterest() - m.shortOpenInterest())
        for t in self.traders:
            has = any(m.positions(t)[0] != 0 for m in (self.s.eth, self.s.btc))
            assert self.s.engine.health(t)["hasPositions"] == has

    def invariant_usd_sum_equals_bad_debt(self):
        total = sum(self.s.ledger.usdBalanceOf(a) for a in self.everyone)
        assert total == self.s.ledger.badDebt()

    def invariant_collateral_conserved(self):
        for a in (USDC, WETH, WBTC):
            held = sum(self.s.ledger.balanceOf(x, a) for x in self.everyone)
            out = self.debited if a == USDC else 0
            assert held == self.base[a] + self.credited[a] - out


def test_vault_books_hold_under_random_operations(vsys, accounts):
    brownie_state_machine()(VaultMachine, vsys, accounts, settings=SETTINGS)
