"""Stateful property test of design.md's solvency invariants across the hub ledger and two spoke
lockboxes: deposits, batch deliveries both ways, withdrawal requests, failing tokens, blocked
recipients, rate limits, retries, redirects asked on the hub (recovery messages, delivered with the
withdrawals) and forged batches, in random order and sizes. (Refunds of parked releases are tested
in tests/contracts/lockbox/test_lockbox_recovery.py and ledger/test_ledger_release_recovery.py.)

The test plays relayer (it delivers what the contracts' own events announced) and keeps a shadow
model (solvency_model) that predicts every outcome: each revert must be the exact error the model
gives (so a rejected withdrawal is justified by the balance or the spoke's liquidity, never
ignored), each release must be paid or parked exactly as predicted, and after every step the
chain must satisfy the invariants below and equal the model."""

import os
from collections import Counter

import pytest
from brownie import chain, web3
from hypothesis import HealthCheck
from hypothesis import strategies as st

from solvency_batches import ATTACKS, Batches
from solvency_invariants import (
    check_asset_solvency,
    check_liquidity_backed,
    check_shadow_model,
    check_spoke_custody,
)
from solvency_model import RELEASED, Parked, ShadowModel, park_reason
from solvency_parked import ParkedReleases
from solvency_support import (
    ASSETS,
    RECOVERY_MARKER,
    SPOKE_IDS,
    TOKEN_SPECS,
    USDC,
    VALIDATORS,
    ZERO,
    brownie_state_machine,
    call_outcome,
    deploy_system,
    deposit_leaf,
    describe,
    error,
    error_name,
    events,
    fold,
    mine_at,
    next_timestamp,
    read_view,
    send,
    withdrawal_leaf,
    writes,
)

STEPS_PER_RUN = 30
STEPS = int(os.environ.get("XMARGIN_SOLVENCY_STEPS", "1200"))
"""Step budget (runs = STEPS / STEPS_PER_RUN; hypothesis runs each for up to STEPS_PER_RUN steps, ~24 on
average): 1,200 in `make test`; scripts/long-invariants.sh sets 13,500 for at least 10,000 executed steps."""
SETTINGS = {
    "max_examples": max(1, -(-STEPS // STEPS_PER_RUN)),
    "stateful_step_count": STEPS_PER_RUN,
    "derandomize": True,  # the same runs every time
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],  # a shared 2-core machine; data is small
}
REJECTIONS = (
    "AssetNotOnSpoke(uint32,uint64)",
    "BatchHeadMismatch(bytes32,bytes32)",
    "BatchNonceMismatch(uint64,uint256,uint64)",
    "CheckpointQuorumNotMet(uint256,uint256)",
    "CheckpointSignerNotValidator(address)",
    "CheckpointSignersNotAscending(address,address)",
    "ReleaseRecipientInvalid(address)",
    "RouteSourceMismatch(address,address)",
    "WithdrawalAmountZero()",
    "WithdrawalExceedsBalance(address,uint32,uint256,uint256)",
    "WithdrawalExceedsLiquidity(uint64,uint32,uint256,uint256)",
    "WithdrawalRecipientZero()",
)
# What the runs must have reached (summed over all examples), or they proved little.
REQUIRED_COVERAGE = {
    "deposit",
    "deposit for another account",
    "deposits delivered",
    "deposits delivered (partial batch)",
    "withdrawal queued",
    "withdrawal leaves dust below a token unit",
    "request rejected: WithdrawalExceedsBalance",
    "request rejected: WithdrawalExceedsLiquidity",
    "withdrawals delivered",
    "withdrawals delivered (partial batch)",
    "batch release: released",
    "batch release: rate_limited",
    "batch release: transfer_failed",
    "batch release: invalid",
    "retry: released",
    "retry: rate_limited",
    "recovery requested",
    "redirect: released",
    "forged batch refused: BatchHeadMismatch",
    "forged batch refused: BatchNonceMismatch",
    "forged batch refused: CheckpointQuorumNotMet",
    "forged batch refused: CheckpointSignerNotValidator",
    "forged batch refused: RouteSourceMismatch",
    "time advanced",
}


@pytest.fixture(scope="module")
def system(module_isolation, accounts, MarginLedger, Lockbox, MockERC20, FalseReturningToken, BlocklistToken):
    """The deployed hub and spokes. While it lives, every block is exactly one second after the
    last, so a release's timestamp (and so its rate-limit outcome) is known before it is sent."""
    web3.provider.make_request("anvil_setBlockTimestampInterval", [1])
    containers = {
        "MarginLedger": MarginLedger,
        "Lockbox": Lockbox,
        "MockERC20": MockERC20,
        "FalseReturningToken": FalseReturningToken,
        "BlocklistToken": BlocklistToken,
    }
    try:
        yield deploy_system(containers, accounts, chain.id)
    finally:
        web3.provider.make_request("anvil_removeBlockTimestampInterval", [])


class SolvencyMachine(Batches, ParkedReleases):
    st_spoke = st.integers(0, len(SPOKE_IDS) - 1)
    st_token = st.integers(0, 3)  # a token of the chosen spoke, modulo their number
    st_asset = st.sampled_from(ASSETS)
    st_user = st.integers(0, 3)
    st_holder = st.integers(0, 4)  # a user or the stranger
    st_recipient = st.integers(0, 6)  # a holder; 5: the destination lockbox itself; 6: zero
    st_flag = st.booleans()
    st_millis = st.integers(1, 1_500_000)  # thousandths of a token: 0.001 to 1,500
    st_odd = st.integers(0, 999)
    st_percent = st.integers(0, 130)
    st_dust = st.integers(0, 3 * 10**12)  # up to 3 USDC token units (10**12 ledger units each)
    st_signers = st.integers(0, len(VALIDATORS) - 1)
    st_seconds = st.integers(1, 1_800)
    st_wait = st.sampled_from((0, 0, 30, 600, 1_800))
    st_pick = st.integers(0, 2**16)
    st_attack = st.sampled_from(ATTACKS)
    st_initial = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, len(TOKEN_SPECS) - 1), st.integers(1, 1_500_000)),
        min_size=1,
        max_size=4,
    )
    st_requests = st.lists(
        st.tuples(st.integers(0, 1), st.integers(1, 100), st.integers(0, 5), st.integers(0, 2**16)), max_size=4
    )

    def __init__(cls, system):
        cls.s = system
        cls.seen = Counter()  # what the runs exercised, summed over all examples

    def setup(self):
        s = self.s
        holders, tokens = [h.address for h in s.holders], [t.address for t in s.tokens]
        self.m = ShadowModel(holders, tokens, [b.address for b in s.lockboxes], s.rate_limit_time)
        self._view_key = self._view = None  # the chain was just reverted

    def teardown_final(cls):
        """The runs must have reached every interesting state."""
        if getattr(cls, "_failed", False):
            return  # a step or an invariant failed: that is the error to report
        sweeps = cls.seen.pop("invariant sweeps", 0)  # one after set-up and one after every step of every run
        runs = SETTINGS["max_examples"]
        print(f"\nsolvency state machine: {runs} runs of up to {STEPS_PER_RUN} steps (hypothesis picks each run's "
              f"length), {sweeps} invariant sweeps = at least {sweeps - runs} steps after set-up; exercised:",
              dict(sorted(cls.seen.items())))
        missing = REQUIRED_COVERAGE - set(cls.seen)
        assert not missing, f"never exercised: {sorted(missing)}"

    # ------------------------------------------------------------------------- helpers

    def _recipient(self, spoke, pick):
        holders = self.m.holders
        if pick < len(holders):
            return holders[pick]
        return self.m.lockboxes[spoke] if pick == len(holders) else ZERO

    def _paid(self, payouts):
        """Token balances of the recipients in `payouts` [(token index, recipient, amount)]."""
        return {(i, r): self.s.tokens[i].balanceOf(r) for i, r, _ in payouts}

    def _assert_paid(self, before, payouts):
        expected = dict(before)
        for i, r, amount in payouts:
            expected[(i, r)] += amount
        assert self._paid(payouts) == expected

    def _deposit(self, i, depositor, account, amount):
        spec = TOKEN_SPECS[i]
        tx = send(self.s.lockboxes[spec.spoke].deposit, (self.s.tokens[i], amount, account), depositor)
        r = self.m.record_deposit(i, depositor, account, amount)
        (event,) = events(tx, "Deposited")
        fields = ("nonce", "depositor", "account", "token", "amount")
        assert tuple(event[f] for f in fields) == (r.nonce, r.depositor, r.account, r.token, r.amount)
        assert bytes(event["head"]) == r.head
        self.seen["deposit for another account" if account != depositor else "deposit"] += 1

    def _deliver_deposits(self, spoke, count, signers):
        s, state = self.s, self.m.spokes[spoke]
        batch = state.deposits[:count]
        processed, stored = s.ledger.depositRoute(SPOKE_IDS[spoke])
        assert processed == batch[0].nonce - 1
        assert fold(bytes(stored), processed, [r.message() for r in batch], deposit_leaf) == batch[-1].head
        signed = self.deposit_batch(spoke, batch, self.keys(signers))
        tx = send(s.ledger.processDeposits, signed, s.relayer)
        credits = self.m.credit(spoke, len(batch))
        (done,) = events(tx, "DepositsProcessed")
        assert (done["lastNonce"], bytes(done["head"]), done["count"]) == (batch[-1].nonce, batch[-1].head, len(batch))
        assert [(e["account"], e["assetId"], e["amount"]) for e in events(tx, "DepositCredited")] == credits
        state.last_deposit_batch = signed
        self.seen["deposits delivered (partial batch)" if state.deposits else "deposits delivered"] += 1

    def _try_attack(self, route, attack, spoke, pick):
        """Before the honest relayer, an adversary submits a replayed, tampered, under-signed,
        foreign-signed or misrouted batch: it must revert with exactly the predicted error."""
        if attack is None:
            return
        fn, args, expected = self.forged_batch(route, attack, spoke, pick)
        got = call_outcome(fn, args, self.s.relayer)
        assert got == expected, f"{route} {attack}: got {describe(got)}, expected {describe(expected)}"
        send(fn, args, self.s.relayer, expect_success=False)  # and it reverts on chain too
        self.seen[f"forged batch refused: {error_name(expected, REJECTIONS)}"] += 1

    # ------------------------------------------------------------------------- rules

    def initialize_funds(self, initial="st_initial", requests="st_requests", failing="st_flag",
                         blocked="st_holder", block="st_flag"):
        """Start each run with a few credited deposits and withdrawal requests, so the release
        paths are reachable in a short run, and maybe with the false-returning token failing and
        a holder blocked by the blocklist token."""
        if failing:
            self.rule_toggle_failure(blocklist=False, holder=0)
        if block:
            self.rule_toggle_failure(blocklist=True, holder=blocked)
        for user, i, millis in initial:
            depositor = self.s.users[user].address
            self._deposit(i, depositor, depositor, millis * TOKEN_SPECS[i].unit // 1000 or 1)
        for spoke, state in enumerate(self.m.spokes):
            if state.deposits:
                self._deliver_deposits(spoke, len(state.deposits), 0)
        for spoke, percent, recipient, pick in requests:
            self.rule_request_withdrawal(0, USDC, spoke, percent, 0, recipient, False, pick)

    def rule_deposit(self, spoke="st_spoke", token="st_token", user="st_user", holder="st_holder",
                     for_other="st_flag", millis="st_millis", odd="st_odd"):
        """A user deposits on a spoke, for itself or for another account."""
        listed = [i for i, spec in enumerate(TOKEN_SPECS) if spec.spoke == spoke]
        i = listed[token % len(listed)]
        depositor = self.s.users[user].address
        account = self.m.holders[holder] if for_other else depositor
        self._deposit(i, depositor, account, millis * TOKEN_SPECS[i].unit // 1000 + odd)

    def rule_deliver_deposits(self, spoke="st_spoke", pick="st_pick", signers="st_signers", attack="st_attack"):
        """Relay a random-size prefix of a spoke's undelivered deposits (the other spoke's if this
        one has none; with none anywhere, an empty batch must be refused)."""
        spoke = spoke if self.m.spokes[spoke].deposits else 1 - spoke
        self._try_attack("deposit", attack, spoke, pick)
        pending = self.m.spokes[spoke].deposits
        if pending:
            self._deliver_deposits(spoke, 1 + pick % len(pending), signers)
            return
        processed, head = self.s.ledger.depositRoute(SPOKE_IDS[spoke])
        batch = self.deposit_batch(spoke, [], self.keys(signers), nonce=processed, head=bytes(head))
        got = call_outcome(self.s.ledger.processDeposits, batch, self.s.relayer)
        assert got == error("BatchEmpty()"), describe(got)

    def rule_request_withdrawal(self, holder="st_holder", asset="st_asset", spoke="st_spoke",
                                percent="st_percent", dust="st_dust", recipient="st_recipient",
                                arbitrary="st_flag", pick="st_pick"):
        """A withdrawal request, which the ledger must grant or refuse exactly as the model says.
        Unless `arbitrary`, the account holds the asset and asks on a spoke that lists it, so that
        most requests get as far as the balance and liquidity checks."""
        s, m = self.s, self.m
        account = m.holders[holder]
        funded = sorted(key for key, balance in m.balances.items() if balance)
        if funded and not arbitrary:
            account, asset = funded[pick % len(funded)]
            homes = sorted({spec.spoke for spec in TOKEN_SPECS if spec.asset == asset})
            spoke = spoke if spoke in homes else homes[0]
        to = self._recipient(spoke, recipient)
        amount = m.balances[(account, asset)] * percent // 100 + dust
        verdict = m.withdrawal_verdict(account, asset, amount, spoke, to)
        args = (asset, amount, SPOKE_IDS[spoke], to)
        got = call_outcome(s.ledger.requestWithdrawal, args, account)
        assert got == verdict.error, f"ledger said {describe(got)}, model expected {describe(verdict.error)}"
        if verdict.error is not None:
            self.seen[f"request rejected: {error_name(verdict.error, REJECTIONS)}"] += 1
            return
        tx = send(s.ledger.requestWithdrawal, args, account)
        r = m.record_withdrawal(account, to, spoke, verdict)
        (event,) = events(tx, "WithdrawalQueued")
        fields = ("destChainId", "nonce", "account", "recipient", "token", "amount")
        assert tuple(event[f] for f in fields) == (SPOKE_IDS[spoke], r.nonce, r.account, r.recipient, r.token, r.amount)
        assert bytes(event["head"]) == r.head
        self.seen["withdrawal queued"] += 1
        if verdict.debit < amount:
            self.seen["withdrawal leaves dust below a token unit"] += 1

    def rule_deliver_withdrawals(self, spoke="st_spoke", pick="st_pick", signers="st_signers", attack="st_attack"):
        """Relay a random-size prefix of a spoke's queued withdrawals (the other spoke's if this one
        has none): every release is paid or parked as predicted. With none anywhere, an empty
        batch must be refused."""
        m = self.m
        spoke = spoke if m.spokes[spoke].withdrawals else 1 - spoke
        self._try_attack("withdrawal", attack, spoke, pick)
        s, state, lockbox = self.s, m.spokes[spoke], self.s.lockboxes[spoke]
        if not state.withdrawals:
            empty = self.empty_withdrawal_batch(spoke, self.keys(signers))
            got = call_outcome(lockbox.processWithdrawals, empty, s.relayer)
            assert got == error("BatchEmpty()"), describe(got)
            return
        batch = state.withdrawals[: 1 + pick % len(state.withdrawals)]
        processed, stored = lockbox.withdrawalRoute()
        assert processed == batch[0].nonce - 1
        assert fold(bytes(stored), processed, [r.message() for r in batch], withdrawal_leaf) == batch[-1].head
        signed = self.withdrawal_batch(spoke, batch, self.keys(signers))
        now = next_timestamp()
        released, parked, payouts = [], [], []
        redirected, rejected = [], []
        for r in batch:
            if r.token == RECOVERY_MARKER:
                self._predict_recovery(spoke, r, now, (released, parked, payouts, redirected, rejected))
                continue
            i = m.index[r.token]
            outcome = m.release(spoke, i, r.recipient, r.amount, now)
            self.seen[f"batch release: {outcome}"] += 1
            if outcome == RELEASED:
                released.append((r.nonce, r.recipient, r.token, r.amount))
                payouts.append((i, r.recipient, r.amount))
            else:
                parked.append((r.nonce, park_reason(outcome)))
                state.parked[r.nonce] = Parked(r.account, park_reason(outcome), r.recipient, r.token, r.amount)
        before = self._paid(payouts)
        tx = send(lockbox.processWithdrawals, signed, s.relayer)
        assert tx.timestamp == now
        (done,) = events(tx, "WithdrawalsProcessed")
        assert (done["lastNonce"], bytes(done["head"]), done["count"]) == (batch[-1].nonce, batch[-1].head, len(batch))
        assert [(e["nonce"], e["recipient"], e["token"], e["amount"]) for e in events(tx, "Released")] == released
        assert [(e["nonce"], e["reason"]) for e in events(tx, "ReleaseParked")] == parked
        assert [
            (e["nonce"], e["recoveryNonce"], e["previousRecipient"], e["newRecipient"])
            for e in events(tx, "ReleaseRedirected")
        ] == redirected
        refused = [(e["recoveryNonce"], e["target"], e["reason"]) for e in events(tx, "ReleaseRecoveryRejected")]
        assert refused == rejected
        self._assert_paid(before, payouts)
        del state.withdrawals[: len(batch)]
        state.last_withdrawal_batch = signed
        self.seen["withdrawals delivered (partial batch)" if state.withdrawals else "withdrawals delivered"] += 1

    def rule_advance_time(self, seconds="st_seconds"):
        """Time passes, so the rate-limit buckets refill."""
        mine_at(next_timestamp() - 1 + seconds)
        self.seen["time advanced"] += 1

    # ------------------------------------------------------------------------- invariants

    def _chain(self):
        """Everything the invariants read, in one batch, once per chain state."""
        if self._view_key == writes():
            return self._view
        self._view = read_view(self.s, self.m.holders, self.m.parked_entries())
        self._view_key = writes()
        return self._view

    def invariant_asset_solvency(self):
        """Lockbox holdings cover every balance and unreleased withdrawal, per asset."""
        self.seen["invariant sweeps"] += 1
        check_asset_solvency(self._chain(), self.m)

    def invariant_spoke_custody(self):
        """Each lockbox covers the withdrawals queued to it and not yet released."""
        check_spoke_custody(self._chain(), self.m)

    def invariant_liquidity_backed(self):
        """The ledger's liquidity figure never exceeds what the lockbox really holds."""
        check_liquidity_backed(self._chain(), self.m)

    def invariant_shadow_model(self):
        """Every balance, figure, parked release and route tip equals the shadow model."""
        check_shadow_model(self._chain(), self.m)


def test_solvency_holds_under_random_operations(system):
    brownie_state_machine()(SolvencyMachine, system, settings=SETTINGS)
