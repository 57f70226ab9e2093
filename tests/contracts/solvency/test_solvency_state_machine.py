"""Stateful property test of design.md's solvency invariants across the hub ledger and two spoke
lockboxes: deposits, batch deliveries both ways, withdrawal requests, failing tokens, blocked
recipients, rate limits, retries, redirects and forged batches, in random order and sizes. The
test plays relayer (it delivers what the contracts' own events announced) and keeps a shadow model
that predicts every outcome, including each revert, which must match exactly."""

import copy
from collections import Counter

import pytest
from brownie import chain, web3
from eth_account import Account
from eth_utils import keccak
from hypothesis import strategies as st

from solvency_support import (
    ASSETS,
    BUCKET_TOKENS,
    DELAYED,
    FAILED,
    OUTSIDER_KEY,
    REFILL_TOKENS,
    SPOKE_IDS,
    USDC,
    TOKEN_SPECS,
    VALIDATORS,
    ZERO,
    Bucket,
    DepositRecord,
    Parked,
    SpokeState,
    TokenBook,
    WithdrawalRecord,
    addresses,
    brownie_state_machine,
    call_outcome,
    deploy_system,
    deposit_leaf,
    describe,
    error,
    events,
    extend,
    fold,
    mine_at,
    read_batch,
    send,
    sign_checkpoint,
    withdrawal_leaf,
    writes,
)

SETTINGS = {
    "max_examples": 40,
    "stateful_step_count": 30,
    "derandomize": True,  # same examples on every run
    "database": None,
    "deadline": None,
    "verbosity": __import__("hypothesis").Verbosity.normal,
}
ERROR_SIGNATURES = (
    "AssetNotOnSpoke(uint32,uint64)",
    "BatchEmpty()",
    "BatchHeadMismatch(bytes32,bytes32)",
    "BatchNonceMismatch(uint64,uint256,uint64)",
    "CheckpointQuorumNotMet(uint256,uint256)",
    "CheckpointSignerNotValidator(address)",
    "CheckpointSignersNotAscending(address,address)",
    "ReleaseRecipientInvalid(address)",
    "ReleaseRedirectUnauthorized(uint64,address)",
    "RouteSourceMismatch(address,address)",
    "WithdrawalAmountZero()",
    "WithdrawalExceedsBalance(address,uint32,uint256,uint256)",
    "WithdrawalExceedsLiquidity(uint64,uint32,uint256,uint256)",
    "WithdrawalRecipientZero()",
)
ERRORS = {keccak(text=sig)[:4]: sig[: sig.index("(")] for sig in ERROR_SIGNATURES}
# States every run must reach (summed over its examples); see teardown_final.
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
    "batch release: released",
    "batch release: rate_limited",
    "batch release: transfer_failed",
    "retry: released",
    "redirect: released",
    "forged batch refused: BatchHeadMismatch",
    "forged batch refused: BatchNonceMismatch",
    "forged batch refused: CheckpointQuorumNotMet",
    "time advanced",
}
# What a delivery step's adversary tries first (None: nobody). "foreign": signed by a key outside
# the set (deposits) or for the other lockbox's EIP-712 domain (withdrawals); "misrouted": the
# checkpoint names the wrong route.
ATTACKS = (None, "replay", "tamper", "underquorum", "foreign", "misrouted")


@pytest.fixture(scope="module")
def system(module_isolation, accounts, MarginLedger, Lockbox, MockERC20, FalseReturningToken, BlocklistToken):
    """The deployed hub and spokes. Blocks advance exactly one second each while it lives, so that
    a release's timestamp (and so its rate-limit outcome) is known before it is sent."""
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


def next_timestamp() -> int:
    """Timestamp of the next block (one second after the latest, see the `system` fixture)."""
    return web3.eth.get_block("latest")["timestamp"] + 1


class SolvencyMachine:
    st_spoke = st.integers(0, len(SPOKE_IDS) - 1)
    st_token = st.integers(0, 3)  # a token of the chosen spoke, modulo their number
    st_asset = st.sampled_from(ASSETS)
    st_user = st.integers(0, 3)
    st_holder = st.integers(0, 4)  # a user or the stranger
    st_recipient = st.integers(0, 6)  # a holder, 5 = the destination lockbox itself, 6 = zero
    st_flag = st.booleans()
    st_millis = st.integers(1, 1_500_000)  # thousandths of a token: 0.001 to 1,500
    st_odd = st.integers(0, 999)
    st_percent = st.integers(0, 130)
    st_dust = st.integers(0, 3 * 10**12)  # below one token unit of USDC (10**12 ledger units)
    st_signers = st.integers(0, len(VALIDATORS) - 1)
    st_seconds = st.integers(1, 1_800)
    st_wait = st.sampled_from((0, 0, 30, 600, 1_800))
    st_pick = st.integers(0, 2**16)
    st_attack = st.sampled_from(ATTACKS)
    st_requests = st.lists(
        st.tuples(st.integers(0, 1), st.integers(1, 100), st.integers(0, 5), st.integers(0, 2**16)), max_size=4
    )
    st_initial = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, len(TOKEN_SPECS) - 1), st.integers(1, 1_500_000)),
        min_size=1,
        max_size=4,
    )

    def __init__(cls, system):
        cls.s = system
        cls.seen = Counter()  # what the runs exercised, summed over all examples

    def teardown_final(cls):
        """The runs must have reached every interesting state, or they proved little."""
        print("\nsolvency state machine exercised:", dict(sorted(cls.seen.items())))
        missing = REQUIRED_COVERAGE - set(cls.seen)
        assert not missing, f"never exercised: {sorted(missing)}"

    def setup(self):
        s = self.s
        self.holders = [str(h) for h in s.holders]
        self.balances = {(h, a): 0 for h in self.holders for a in ASSETS}
        self.spokes = [SpokeState() for _ in SPOKE_IDS]
        self.deposit_tip = [(0, bytes(32)) for _ in SPOKE_IDS]  # lockbox deposit route (nonce, head)
        self.withdrawal_tip = [(0, bytes(32)) for _ in SPOKE_IDS]  # ledger withdrawal route
        self.books = []
        for i, spec in enumerate(TOKEN_SPECS):
            cap = BUCKET_TOKENS * spec.unit
            bucket = Bucket(cap, REFILL_TOKENS * spec.unit, cap, s.rate_limit_time[i])
            self.books.append(TokenBook(bucket=bucket))
        self.index = {str(t): i for i, t in enumerate(s.tokens)}
        self.failing = False
        self.blocked = set()
        self._cache_key = self._cache = None  # the chain was just reverted

    # ------------------------------------------------------------------------- helpers

    def _token_index(self, spoke, pick):
        """Index (into TOKEN_SPECS) of a token listed on `spoke`."""
        choices = [i for i, spec in enumerate(TOKEN_SPECS) if spec.spoke == spoke]
        return choices[pick % len(choices)]

    def _token_of(self, spoke, asset):
        return next((i for i, t in enumerate(TOKEN_SPECS) if t.spoke == spoke and t.asset == asset), None)

    def _keys(self, first, count=3):
        return [VALIDATORS[(first + j) % len(VALIDATORS)] for j in range(count)]

    def _recipient(self, spoke, pick):
        if pick < len(self.holders):
            return self.holders[pick]
        return str(self.s.lockboxes[spoke]) if pick == len(self.holders) else ZERO

    def _deposit_batch(self, spoke, records, keys, source_chain=None, nonce=None, head=None):
        """(messages, checkpoint, signatures) as validators sign the deposit route at its tip."""
        s, spoke_id = self.s, SPOKE_IDS[spoke]
        nonce = records[-1].nonce if nonce is None else nonce
        head = records[-1].head if head is None else head
        source = str(s.lockboxes[spoke])
        sigs = sign_checkpoint(keys, chain.id, s.ledger.address, spoke_id, source, nonce, head)
        checkpoint = (spoke_id if source_chain is None else source_chain, source, nonce, head)
        return [r.message() for r in records], checkpoint, sigs

    def _withdrawal_batch(self, spoke, records, keys, signed_for=None):
        s = self.s
        nonce, head = records[-1].nonce, records[-1].head
        dest = (signed_for or s.lockboxes[spoke]).address
        sigs = sign_checkpoint(keys, chain.id, dest, chain.id, s.ledger.address, nonce, head)
        return [r.message() for r in records], (chain.id, s.ledger.address, nonce, head), sigs

    def _release(self, spoke, i, recipient, amount, now):
        """Lockbox._release on the model: the outcome, with its effects applied."""
        spec, book = TOKEN_SPECS[i], self.books[i]
        if recipient in (ZERO, str(self.s.lockboxes[spoke])):
            return "invalid"
        if amount > book.custodied:
            return "uncovered"
        if not book.bucket.consume(now, amount):
            return "rate_limited"
        refused = (spec.kind == "false" and self.failing) or (spec.kind == "blocklist" and recipient in self.blocked)
        if refused:
            book.bucket.refund(amount)
            return "transfer_failed"
        book.custodied -= amount
        book.released += amount
        return "released"

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
        token, lockbox = self.s.tokens[i], self.s.lockboxes[spec.spoke]
        tx = send(lockbox.deposit, (token, amount, account), depositor)
        nonce, head = self.deposit_tip[spec.spoke]
        nonce += 1
        head = extend(head, deposit_leaf(nonce, depositor, account, token, amount))
        (event,) = events(tx, "Deposited")
        assert (event["nonce"], event["account"], event["amount"], bytes(event["head"])) == (nonce, account, amount, head)
        self.deposit_tip[spec.spoke] = (nonce, head)
        self.spokes[spec.spoke].deposits.append(DepositRecord(nonce, str(depositor), account, str(token), amount, head))
        self.books[i].custodied += amount
        self.seen["deposit for another account" if account != str(depositor) else "deposit"] += 1

    def _deliver_deposits(self, spoke, count, signers):
        s, state = self.s, self.spokes[spoke]
        batch = state.deposits[:count]
        processed, stored = s.ledger.depositRoute(SPOKE_IDS[spoke])
        assert processed == batch[0].nonce - 1
        assert fold(bytes(stored), processed, [r.message() for r in batch], deposit_leaf) == batch[-1].head
        signed = self._deposit_batch(spoke, batch, self._keys(signers))
        tx = send(s.ledger.processDeposits, signed, s.relayer)
        (done,) = events(tx, "DepositsProcessed")
        assert (done["lastNonce"], bytes(done["head"]), done["count"]) == (batch[-1].nonce, batch[-1].head, len(batch))
        credits = []
        for r in batch:
            i = self.index[r.token]
            spec = TOKEN_SPECS[i]
            self.balances[(r.account, spec.asset)] += r.amount * spec.scale
            self.books[i].liquidity += r.amount
            credits.append((r.account, spec.asset, r.amount * spec.scale))
        assert [(e["account"], e["assetId"], e["amount"]) for e in events(tx, "DepositCredited")] == credits
        del state.deposits[: len(batch)]
        state.last_deposit_batch = signed
        self.seen["deposits delivered (partial batch)" if state.deposits else "deposits delivered"] += 1

    # ------------------------------------------------------------------------- rules

    def initialize_funds(self, initial="st_initial", requests="st_requests", failing="st_flag",
                         blocked="st_holder", block="st_flag"):
        """Start every run with a few credited deposits and a few withdrawal requests, so that the
        release paths are reachable within a short run, and (sometimes) with the false-returning
        token failing and a holder blocked."""
        if failing:
            self.rule_toggle_failure(blocklist=False, holder=0)
        if block:
            self.rule_toggle_failure(blocklist=True, holder=blocked)
        for user, i, millis in initial:
            depositor = str(self.s.users[user])
            self._deposit(i, depositor, depositor, millis * TOKEN_SPECS[i].unit // 1000 or 1)
        for spoke, state in enumerate(self.spokes):
            if state.deposits:
                self._deliver_deposits(spoke, len(state.deposits), 0)
        for spoke, percent, recipient, pick in requests:
            self.rule_request_withdrawal(0, USDC, spoke, percent, 0, recipient, False, pick)

    def rule_deposit(self, spoke="st_spoke", token="st_token", user="st_user", holder="st_holder",
                     for_other="st_flag", millis="st_millis", odd="st_odd"):
        i = self._token_index(spoke, token)
        depositor = str(self.s.users[user])
        account = self.holders[holder] if for_other else depositor
        self._deposit(i, depositor, account, millis * TOKEN_SPECS[i].unit // 1000 + odd)

    def rule_deliver_deposits(self, spoke="st_spoke", pick="st_pick", signers="st_signers", attack="st_attack"):
        """Relay a random-size prefix of a spoke's undelivered deposits (the other spoke's if this
        one has none; with none anywhere, an empty batch is refused)."""
        spoke = spoke if self.spokes[spoke].deposits else 1 - spoke
        self._try_attack("deposit", attack, spoke, pick)
        pending = self.spokes[spoke].deposits
        if pending:
            self._deliver_deposits(spoke, 1 + pick % len(pending), signers)
            return
        processed, head = self.s.ledger.depositRoute(SPOKE_IDS[spoke])
        batch = self._deposit_batch(spoke, [], self._keys(signers), nonce=processed, head=bytes(head))
        got = call_outcome(self.s.ledger.processDeposits, batch, self.s.relayer)
        assert got == error("BatchEmpty()"), describe(got)

    def rule_request_withdrawal(self, holder="st_holder", asset="st_asset", spoke="st_spoke",
                                percent="st_percent", dust="st_dust", recipient="st_recipient",
                                arbitrary="st_flag", pick="st_pick"):
        """A request: the ledger's verdict must be exactly the one the model predicts. Unless
        `arbitrary`, the account holds the asset and asks for it on the asset's own spoke (USDC:
        either spoke), so that most requests get far enough to meet the balance and liquidity checks."""
        s = self.s
        account = self.holders[holder]
        funded = sorted(key for key, balance in self.balances.items() if balance)
        if funded and not arbitrary:
            account, asset = funded[pick % len(funded)]
            homes = sorted({spec.spoke for spec in TOKEN_SPECS if spec.asset == asset})
            spoke = spoke if spoke in homes else homes[0]
        spoke_id = SPOKE_IDS[spoke]
        to = self._recipient(spoke, recipient)
        balance = self.balances[(account, asset)]
        amount = balance * percent // 100 + dust
        i = self._token_of(spoke, asset)
        expected, token_amount, debit = None, 0, 0
        if amount == 0:
            expected = error("WithdrawalAmountZero()")
        elif to == ZERO:
            expected = error("WithdrawalRecipientZero()")
        elif i is None:
            expected = error("AssetNotOnSpoke(uint32,uint64)", asset, spoke_id)
        else:
            spec, book = TOKEN_SPECS[i], self.books[i]
            token_amount = amount // spec.scale
            debit = token_amount * spec.scale
            if token_amount == 0:
                expected = error("WithdrawalAmountZero()")
            elif balance < debit:
                expected = error("WithdrawalExceedsBalance(address,uint32,uint256,uint256)", account, asset, balance, debit)
            elif book.liquidity < token_amount:
                expected = error(
                    "WithdrawalExceedsLiquidity(uint64,uint32,uint256,uint256)", spoke_id, asset, book.liquidity, token_amount
                )
        got = call_outcome(s.ledger.requestWithdrawal, (asset, amount, spoke_id, to), account)
        assert got == expected, f"ledger said {describe(got)}, model expected {describe(expected)}"
        if expected is not None:
            self.seen[f"request rejected: {ERRORS.get(expected[:4], expected[:4].hex())}"] += 1
            return
        tx = send(s.ledger.requestWithdrawal, (asset, amount, spoke_id, to), account)
        token = str(s.tokens[i])
        nonce, head = self.withdrawal_tip[spoke]
        nonce += 1
        head = extend(head, withdrawal_leaf(nonce, account, to, token, token_amount))
        (event,) = events(tx, "WithdrawalQueued")
        assert (event["nonce"], event["recipient"], event["amount"], bytes(event["head"])) == (nonce, to, token_amount, head)
        self.withdrawal_tip[spoke] = (nonce, head)
        self.spokes[spoke].withdrawals.append(WithdrawalRecord(nonce, account, to, token, token_amount, head))
        self.balances[(account, asset)] -= debit
        self.books[i].liquidity -= token_amount
        self.seen["withdrawal queued"] += 1
        if debit < amount:
            self.seen["withdrawal leaves dust below a token unit"] += 1

    def rule_deliver_withdrawals(self, spoke="st_spoke", pick="st_pick", signers="st_signers", attack="st_attack"):
        """Relay a random-size prefix of a spoke's queued withdrawals (the other spoke's if this one
        has none) and predict each release or park; with none anywhere, an empty batch is refused."""
        spoke = spoke if self.spokes[spoke].withdrawals else 1 - spoke
        self._try_attack("withdrawal", attack, spoke, pick)
        s, state = self.s, self.spokes[spoke]
        lockbox = s.lockboxes[spoke]
        if not state.withdrawals:
            processed, head = lockbox.withdrawalRoute()
            record = WithdrawalRecord(processed, ZERO, ZERO, ZERO, 0, bytes(head))
            msgs, checkpoint, sigs = self._withdrawal_batch(spoke, [record], self._keys(signers))
            got = call_outcome(lockbox.processWithdrawals, ([], checkpoint, sigs), s.relayer)
            assert got == error("BatchEmpty()"), describe(got)
            return
        batch = state.withdrawals[: 1 + pick % len(state.withdrawals)]
        processed, stored = lockbox.withdrawalRoute()
        assert processed == batch[0].nonce - 1
        assert fold(bytes(stored), processed, [r.message() for r in batch], withdrawal_leaf) == batch[-1].head
        signed = self._withdrawal_batch(spoke, batch, self._keys(signers))
        now = next_timestamp()
        released, parked, payouts, outcomes = [], [], [], []
        for r in batch:
            i = self.index[r.token]
            outcome = self._release(spoke, i, r.recipient, r.amount, now)
            outcomes.append(outcome)
            if outcome == "released":
                released.append((r.nonce, r.recipient, r.amount))
                payouts.append((i, r.recipient, r.amount))
            else:
                reason = DELAYED if outcome == "rate_limited" else FAILED
                parked.append((r.nonce, reason))
                state.parked[r.nonce] = Parked(r.account, reason, r.recipient, r.token, r.amount)
        before = self._paid(payouts)
        tx = send(lockbox.processWithdrawals, signed, s.relayer)
        assert tx.timestamp == now
        assert [(e["nonce"], e["recipient"], e["amount"]) for e in events(tx, "Released")] == released
        assert [(e["nonce"], e["reason"]) for e in events(tx, "ReleaseParked")] == parked
        self._assert_paid(before, payouts)
        del state.withdrawals[: len(batch)]
        state.last_withdrawal_batch = signed
        self.seen["withdrawals delivered" if not state.withdrawals else "withdrawals delivered (partial batch)"] += 1
        self.seen.update(f"batch release: {o}" for o in outcomes)

    def rule_toggle_failure(self, blocklist="st_flag", holder="st_holder"):
        """Turn the false-returning token on or off, or (un)block a recipient of the blocklist token."""
        s = self.s
        if blocklist:
            who = self.holders[holder]
            token = s.tokens[next(i for i, t in enumerate(TOKEN_SPECS) if t.kind == "blocklist")]
            send(token.setBlocked, (who, who not in self.blocked), s.gov)
            self.blocked ^= {who}
        else:
            token = s.tokens[next(i for i, t in enumerate(TOKEN_SPECS) if t.kind == "false")]
            self.failing = not self.failing
            send(token.setFailing, (self.failing,), s.gov)

    def _parked_entries(self):
        return sorted((spoke, nonce) for spoke, st_ in enumerate(self.spokes) for nonce in st_.parked)

    def rule_retry_release(self, pick="st_pick", wait="st_wait", fix="st_flag"):
        """Anyone retries a parked release, maybe after waiting for the bucket or after the token
        or recipient was fixed (`fix`): it pays, or reverts with the reason the model gives."""
        if wait:
            self.rule_advance_time(wait)
        s, entries = self.s, self._parked_entries()
        if not entries:
            spoke = pick % len(SPOKE_IDS)
            nonce = s.lockboxes[spoke].withdrawalRoute()[0] + 1
            got = call_outcome(s.lockboxes[spoke].retryRelease, (nonce,), s.relayer)
            assert got == error("ReleaseNotPending(uint64)", nonce), describe(got)
            return
        spoke, nonce = entries[pick % len(entries)]
        lockbox, p = s.lockboxes[spoke], self.spokes[spoke].parked[nonce]
        if fix and TOKEN_SPECS[self.index[p.token]].kind == "false" and self.failing:
            self.rule_toggle_failure(blocklist=False, holder=0)
        if fix and TOKEN_SPECS[self.index[p.token]].kind == "blocklist" and p.recipient in self.blocked:
            self.rule_toggle_failure(blocklist=True, holder=self.holders.index(p.recipient))
        i, now = self.index[p.token], next_timestamp()
        book = self.books[i]
        saved = copy.copy(book.bucket)
        available = book.bucket.level(now)
        outcome = self._release(spoke, i, p.recipient, p.amount, now)
        expected = {
            "released": None,
            "invalid": error("ReleaseRecipientInvalid(address)", p.recipient),
            "uncovered": error("ReleaseExceedsCustody(address,uint256,uint256)", p.token, book.custodied, p.amount),
            "rate_limited": error("ReleaseRateLimited(address,uint256,uint256)", p.token, available, p.amount),
            "transfer_failed": error("ReleaseTransferFailed(uint64,address)", nonce, p.recipient),
        }[outcome]
        got = call_outcome(lockbox.retryRelease, (nonce,), s.relayer)
        assert got == expected, f"retry said {describe(got)}, model expected {outcome}"
        self.seen[f"retry: {outcome}"] += 1
        if expected is not None:
            book.bucket = saved  # the revert undid the bucket update too
            return
        payouts = [(i, p.recipient, p.amount)]
        before = self._paid(payouts)
        tx = send(lockbox.retryRelease, (nonce,), s.relayer)
        assert tx.timestamp == now
        assert [(e["nonce"], e["recipient"], e["amount"]) for e in events(tx, "Released")] == [(nonce, p.recipient, p.amount)]
        self._assert_paid(before, payouts)
        del self.spokes[spoke].parked[nonce]

    def rule_redirect_release(self, pick="st_pick", recipient="st_recipient", as_stranger="st_flag"):
        """The release's account (or, refused, someone else) sends a parked release elsewhere."""
        s, entries = self.s, self._parked_entries()
        if not entries:
            return
        spoke, nonce = entries[pick % len(entries)]
        lockbox, p = s.lockboxes[spoke], self.spokes[spoke].parked[nonce]
        caller = p.account
        if as_stranger:
            caller = str(s.stranger) if p.account != str(s.stranger) else str(s.users[0])
        to = self._recipient(spoke, recipient)
        if caller != p.account:
            expected = error("ReleaseRedirectUnauthorized(uint64,address)", nonce, caller)
        elif to in (ZERO, str(lockbox)):
            expected = error("ReleaseRecipientInvalid(address)", to)
        else:
            expected = None
        got = call_outcome(lockbox.redirectRelease, (nonce, to), caller)
        assert got == expected, f"redirect said {describe(got)}, model expected {describe(expected)}"
        if expected is not None:
            self.seen[f"redirect rejected: {ERRORS.get(expected[:4], expected[:4].hex())}"] += 1
            return
        i, now = self.index[p.token], next_timestamp()
        outcome = self._release(spoke, i, to, p.amount, now)
        payouts = [(i, to, p.amount)] if outcome == "released" else []
        before = self._paid(payouts)
        tx = send(lockbox.redirectRelease, (nonce, to), caller)
        assert tx.timestamp == now
        (moved,) = events(tx, "ReleaseRedirected")
        assert (moved["nonce"], moved["previousRecipient"], moved["newRecipient"]) == (nonce, p.recipient, to)
        self._assert_paid(before, payouts)
        self.seen[f"redirect: {outcome}"] += 1
        if outcome == "released":
            assert [e["nonce"] for e in events(tx, "Released")] == [nonce]
            del self.spokes[spoke].parked[nonce]
        else:
            reason = DELAYED if outcome == "rate_limited" else FAILED
            assert [(e["nonce"], e["reason"]) for e in events(tx, "ReleaseParked")] == [(nonce, reason)]
            p.recipient, p.reason = to, reason

    def rule_advance_time(self, seconds="st_seconds"):
        """Let the rate-limit buckets refill. (Mines a block `seconds` later: with fixed block
        steps anvil ignores evm_increaseTime, so chain.sleep would not move the clock.)"""
        mine_at(next_timestamp() - 1 + seconds)
        self.seen["time advanced"] += 1

    def _try_attack(self, route, attack, spoke, pick):
        """Before the honest relayer, someone submits a replayed, tampered, under-signed,
        foreign-signed or misrouted batch: it must revert with exactly the predicted error."""
        if attack is None:
            return
        fn, args, expected = self._attack(f"{route}_{attack}", spoke, pick)
        got = call_outcome(fn, args, self.s.relayer)
        assert got == expected, f"{route} {attack}: got {describe(got)}, expected {describe(expected)}"
        self.seen[f"forged batch refused: {ERRORS.get(expected[:4], expected[:4].hex())}"] += 1
        send(fn, args, self.s.relayer, expect_success=False)  # and on chain too

    # ------------------------------------------------------------------------- attacks

    def _attack(self, attack, spoke, pick):
        """(contract function, args, expected revert data) of `attack` on `spoke`."""
        s, state = self.s, self.spokes[spoke]
        other = 1 - spoke
        lockbox = s.lockboxes[spoke]
        count = 1 + pick % 3
        if attack.startswith("deposit"):
            fn = s.ledger.processDeposits
            processed, stored = s.ledger.depositRoute(SPOKE_IDS[spoke])
            batch = state.deposits[:count]
            if attack == "deposit_replay" and state.last_deposit_batch:
                msgs, cp, _ = state.last_deposit_batch
                return fn, state.last_deposit_batch, error(
                    "BatchNonceMismatch(uint64,uint256,uint64)", processed, len(msgs), cp[2]
                )
            if attack == "deposit_tamper" and batch:
                msgs, cp, sigs = self._deposit_batch(spoke, batch, self._keys(pick))
                msgs = [self._tampered(msgs[0], 1), *msgs[1:]]
                computed = fold(bytes(stored), processed, msgs, deposit_leaf)
                return fn, (msgs, cp, sigs), error("BatchHeadMismatch(bytes32,bytes32)", computed, cp[3])
            if attack == "deposit_underquorum" and batch:
                return fn, self._deposit_batch(spoke, batch, self._keys(pick, 2)), error(
                    "CheckpointQuorumNotMet(uint256,uint256)", 2, 3
                )
            if attack == "deposit_misrouted" and batch:
                signed = self._deposit_batch(spoke, batch, self._keys(pick), source_chain=SPOKE_IDS[other])
                return fn, signed, error(
                    "RouteSourceMismatch(address,address)", s.lockboxes[other].address, lockbox.address
                )
            # deposit_foreign, or nothing to replay / tamper with: a forged deposit to the stranger
            records = batch or [self._forged_deposit(spoke, processed, bytes(stored))]
            keys = [*self._keys(pick, 2), OUTSIDER_KEY]
            return fn, self._deposit_batch(spoke, records, keys), error(
                "CheckpointSignerNotValidator(address)", Account.from_key(OUTSIDER_KEY).address
            )
        fn = lockbox.processWithdrawals
        processed, stored = lockbox.withdrawalRoute()
        batch = state.withdrawals[:count]
        if attack == "withdrawal_replay" and state.last_withdrawal_batch:
            msgs, cp, _ = state.last_withdrawal_batch
            return fn, state.last_withdrawal_batch, error(
                "BatchNonceMismatch(uint64,uint256,uint64)", processed, len(msgs), cp[2]
            )
        if attack == "withdrawal_tamper" and batch:
            msgs, cp, sigs = self._withdrawal_batch(spoke, batch, self._keys(pick))
            msgs = [self._tampered(msgs[0], 1), *msgs[1:]]
            computed = fold(bytes(stored), processed, msgs, withdrawal_leaf)
            return fn, (msgs, cp, sigs), error("BatchHeadMismatch(bytes32,bytes32)", computed, cp[3])
        if attack == "withdrawal_underquorum" and batch:
            return fn, self._withdrawal_batch(spoke, batch, self._keys(pick, 2)), error(
                "CheckpointQuorumNotMet(uint256,uint256)", 2, 3
            )
        if attack == "withdrawal_misrouted" and batch:
            msgs, (chain_id, _, nonce, head), sigs = self._withdrawal_batch(spoke, batch, self._keys(pick))
            forged = s.lockboxes[other].address
            return fn, (msgs, (chain_id, forged, nonce, head), sigs), error(
                "RouteSourceMismatch(address,address)", s.ledger.address, forged
            )
        # withdrawal_foreign, or nothing to replay / tamper with: signed for the other
        # lockbox (a forged payout to the stranger when nothing is queued)
        records = batch or [self._forged_withdrawal(spoke, processed, bytes(stored))]
        msgs, cp, sigs = self._withdrawal_batch(spoke, records, self._keys(pick), signed_for=s.lockboxes[other])
        return fn, (msgs, cp, sigs), self._expected_quorum_error(lockbox, cp, sigs)

    def _tampered(self, message, field):
        """`message` redirected to the stranger at `field` (or, already his, one unit larger)."""
        tampered, stranger = list(message), str(self.s.stranger)
        if tampered[field] != stranger:
            tampered[field] = stranger
        else:
            tampered[3] += 1
        return tuple(tampered)

    def _forged_deposit(self, spoke, processed, stored):
        token = str(self.s.tokens[self._token_index(spoke, 0)])
        stranger = str(self.s.stranger)
        amount = 10**24
        head = extend(stored, deposit_leaf(processed + 1, stranger, stranger, token, amount))
        return DepositRecord(processed + 1, stranger, stranger, token, amount, head)

    def _forged_withdrawal(self, spoke, processed, stored):
        i = self._token_index(spoke, 0)
        token, stranger = str(self.s.tokens[i]), str(self.s.stranger)
        amount = max(self.books[i].custodied, 1)
        head = extend(stored, withdrawal_leaf(processed + 1, stranger, stranger, token, amount))
        return WithdrawalRecord(processed + 1, stranger, stranger, token, amount, head)

    def _expected_quorum_error(self, verifier, checkpoint, sigs):
        """QuorumVerifier's loop replayed in Python over `verifier`'s own digest."""
        digest = bytes(verifier.checkpointDigest(checkpoint))
        members = {a.lower() for a in addresses(VALIDATORS)}
        previous = ZERO
        for k in range(len(sigs) // 65):
            signer = Account._recover_hash(digest, signature=sigs[65 * k : 65 * k + 65])
            if int(signer, 16) <= int(previous, 16):
                return error("CheckpointSignersNotAscending(address,address)", previous, signer)
            if signer.lower() not in members:
                return error("CheckpointSignerNotValidator(address)", signer)
            previous = signer
        raise AssertionError("the signatures verify: not an attack")

    # ------------------------------------------------------------------------- invariants

    def _read_chain(self):
        """Everything the invariants look at, read once per chain state (after each write)."""
        if self._cache_key == writes():
            return self._cache
        s, calls = self.s, {}
        for h in self.holders:
            for a in ASSETS:
                calls[("balance", h, a)] = (s.ledger.balanceOf, (h, a))
        for i, spec in enumerate(TOKEN_SPECS):
            token, lockbox, spoke_id = s.tokens[i], s.lockboxes[spec.spoke], SPOKE_IDS[spec.spoke]
            calls[("held", i)] = (token.balanceOf, (lockbox,))
            calls[("custodied", i)] = (lockbox.custodied, (token,))
            calls[("owed", i)] = (lockbox.owed, (token,))
            calls[("liquidity", i)] = (s.ledger.liquidity, (spoke_id, spec.asset))
            calls[("queued_total", i)] = (s.ledger.queuedTotal, (spoke_id, token))
            calls[("claims", i)] = (s.ledger.totalClaims, (spoke_id, token))
        for a in ASSETS:
            calls[("asset_total", a)] = (s.ledger.assetInfo, (a,))
        for spoke, spoke_id in enumerate(SPOKE_IDS):
            lockbox = s.lockboxes[spoke]
            calls[("ledger_deposit", spoke)] = (s.ledger.depositRoute, (spoke_id,))
            calls[("ledger_withdrawal", spoke)] = (s.ledger.withdrawalRoute, (spoke_id,))
            calls[("lockbox_deposit", spoke)] = (lockbox.depositRoute, ())
            calls[("lockbox_withdrawal", spoke)] = (lockbox.withdrawalRoute, ())
            for nonce in self.spokes[spoke].parked:
                calls[("parked", spoke, nonce)] = (lockbox.pendingRelease, (nonce,))
        got = read_batch(calls)
        view = {
            "balances": {(h, a): int(got[("balance", h, a)]) for h in self.holders for a in ASSETS},
            "tokens": [
                {k: int(got[(k, i)]) for k in ("held", "custodied", "owed", "liquidity", "queued_total", "claims")}
                for i in range(len(TOKEN_SPECS))
            ],
            "assets": {a: int(got[("asset_total", a)][4]) for a in ASSETS},
            "spokes": [
                {k: (int(got[(k, spoke)][0]), bytes(got[(k, spoke)][1]))
                 for k in ("ledger_deposit", "ledger_withdrawal", "lockbox_deposit", "lockbox_withdrawal")}
                for spoke in range(len(SPOKE_IDS))
            ],
            "parked": {key[1:]: tuple(value) for key, value in got.items() if key[0] == "parked"},
        }
        self._cache_key, self._cache = writes(), view
        return view

    def _outstanding(self, i):
        """Token units of token `i` debited on the ledger and not yet paid out: queued on the
        ledger and not processed by the lockbox, plus parked on the lockbox (chain figures)."""
        spec, token = TOKEN_SPECS[i], str(self.s.tokens[i])
        undelivered = sum(r.amount for r in self.spokes[spec.spoke].withdrawals if r.token == token)
        return undelivered + self._read_chain()["tokens"][i]["owed"]

    def invariant_asset_solvency(self):
        """Per asset: what the lockboxes hold and have booked covers every balance plus every
        withdrawal debited and not yet released (all in ledger units)."""
        view = self._read_chain()
        for a in ASSETS:
            mine = [i for i, spec in enumerate(TOKEN_SPECS) if spec.asset == a]
            held = sum(view["tokens"][i]["held"] * TOKEN_SPECS[i].scale for i in mine)
            booked = sum(view["tokens"][i]["custodied"] * TOKEN_SPECS[i].scale for i in mine)
            balances = sum(view["balances"][(h, a)] for h in self.holders)
            owed = sum(self._outstanding(i) * TOKEN_SPECS[i].scale for i in mine)
            assert balances == view["assets"][a], "a balance outside the known holders"
            assert held >= booked >= balances + owed, (a, held, booked, balances, owed)

    def invariant_spoke_custody(self):
        """Per (spoke, token): the lockbox's balance and books cover what is owed to that spoke's
        recipients, and the ledger's queued total is accounted for release by release."""
        view = self._read_chain()
        for i, chain_view in enumerate(view["tokens"]):
            outstanding = self._outstanding(i)
            assert chain_view["held"] >= chain_view["custodied"] >= outstanding, (TOKEN_SPECS[i].label, chain_view)
            assert chain_view["queued_total"] == self.books[i].released + outstanding, TOKEN_SPECS[i].label

    def invariant_liquidity_backed(self):
        """Per (spoke, token): the ledger's liquidity never exceeds what the lockbox holds net of
        outstanding withdrawals, and custody is exactly liquidity + outstanding withdrawals +
        deposits not yet delivered (+ claims, none here)."""
        view = self._read_chain()
        for i, spec in enumerate(TOKEN_SPECS):
            t = view["tokens"][i]
            outstanding = self._outstanding(i)
            token = str(self.s.tokens[i])
            undelivered = sum(r.amount for r in self.spokes[spec.spoke].deposits if r.token == token)
            assert t["liquidity"] + outstanding <= t["custodied"] <= t["held"], (spec.label, t)
            assert t["custodied"] == t["liquidity"] + outstanding + undelivered + t["claims"], (spec.label, t)

    def invariant_shadow_model(self):
        """The model's balances, liquidity, custody, parked releases and route tips are the chain's."""
        view = self._read_chain()
        assert view["balances"] == self.balances
        for i, spec in enumerate(TOKEN_SPECS):
            t, book = view["tokens"][i], self.books[i]
            assert (t["liquidity"], t["custodied"], t["claims"]) == (book.liquidity, book.custodied, 0), spec.label
            token = str(self.s.tokens[i])
            parked = sum(p.amount for st_ in self.spokes for p in st_.parked.values() if p.token == token)
            assert t["owed"] == parked, spec.label
        for (spoke, nonce), got in view["parked"].items():
            p = self.spokes[spoke].parked[nonce]
            assert got == (p.account, p.reason, p.recipient, p.token, p.amount)
        for spoke, routes in enumerate(view["spokes"]):
            state = self.spokes[spoke]
            tip_nonce, tip_head = self.deposit_tip[spoke]
            assert routes["lockbox_deposit"] == (tip_nonce, tip_head)
            assert routes["ledger_deposit"][0] == tip_nonce - len(state.deposits)
            tip_nonce, tip_head = self.withdrawal_tip[spoke]
            assert routes["ledger_withdrawal"] == (tip_nonce, tip_head)
            assert routes["lockbox_withdrawal"][0] == tip_nonce - len(state.withdrawals)


def test_solvency_holds_under_random_operations(system):
    brownie_state_machine()(SolvencyMachine, system, settings=SETTINGS)
