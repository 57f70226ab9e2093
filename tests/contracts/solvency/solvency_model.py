"""Shadow model of the hub ledger and both lockboxes for the solvency state machine: what every
balance, liquidity and custody figure, route tip and parked release should be, and the outcome
(or exact revert) each operation should have. Pure Python: it never reads the chain."""

import copy
from dataclasses import dataclass, field

from solvency_support import (
    ASSETS,
    BUCKET_TOKENS,
    REFILL_TOKENS,
    SPOKE_IDS,
    TOKEN_SPECS,
    ZERO,
    deposit_leaf,
    error,
    extend,
    withdrawal_leaf,
)

# Park reasons (IReleaseQueue.ParkReason).
DELAYED, FAILED = 1, 2
# Outcomes of Lockbox._release.
RELEASED, INVALID, UNCOVERED, RATE_LIMITED, TRANSFER_FAILED = (
    "released",
    "invalid",
    "uncovered",
    "rate_limited",
    "transfer_failed",
)


def park_reason(outcome: str) -> int:
    """How the lockbox parks a failed outcome: delayed if only the rate limit stood in the way."""
    return DELAYED if outcome == RATE_LIMITED else FAILED


@dataclass
class Bucket:
    """OutflowLimiter's token bucket (same refill, cap and refund rules)."""

    capacity: int
    refill: int
    available: int
    updated: int

    def level(self, now: int) -> int:
        return min(self.capacity, self.available + (now - self.updated) * self.refill)

    def consume(self, now: int, amount: int) -> bool:
        level = self.level(now)
        if amount > level:
            return False  # nothing stored, as in _consumeOutflow
        self.available, self.updated = level - amount, now
        return True

    def refund(self, amount: int) -> None:
        self.available = min(self.capacity, self.available + amount)


@dataclass
class TokenBook:
    """One (spoke, token): the ledger's liquidity and the lockbox's custody, in token units."""

    bucket: Bucket
    liquidity: int = 0  # ledger: credited, net of requested withdrawals
    custodied: int = 0  # lockbox: received - released
    released: int = 0  # lockbox: paid out so far


@dataclass(frozen=True)
class DepositRecord:
    """A Deposited event not yet delivered to the ledger."""

    nonce: int
    depositor: str
    account: str
    token: str
    amount: int
    head: bytes

    def message(self) -> tuple:
        return (self.depositor, self.account, self.token, self.amount)


@dataclass(frozen=True)
class WithdrawalRecord:
    """A WithdrawalQueued event not yet delivered to the lockbox."""

    nonce: int
    account: str
    recipient: str
    token: str
    amount: int
    head: bytes

    def message(self) -> tuple:
        return (self.account, self.recipient, self.token, self.amount)


@dataclass
class Parked:
    """A parked release (IReleaseQueue.PendingRelease)."""

    account: str
    reason: int
    recipient: str
    token: str
    amount: int

    def as_tuple(self) -> tuple:
        return (self.account, self.reason, self.recipient, self.token, self.amount)


@dataclass
class SpokeState:
    """One spoke as the relayer sees it: undelivered messages both ways, the route tips, the last
    good batches (for replays) and the releases parked on its lockbox."""

    deposits: list = field(default_factory=list)
    withdrawals: list = field(default_factory=list)
    deposit_tip: tuple = (0, bytes(32))  # lockbox deposit route (nonce, head)
    withdrawal_tip: tuple = (0, bytes(32))  # ledger withdrawal route to this spoke
    last_deposit_batch: tuple = None
    last_withdrawal_batch: tuple = None
    parked: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What a withdrawal request should do: revert with `error`, or debit and queue."""

    error: bytes = None
    token: int = None  # index into TOKEN_SPECS
    token_amount: int = 0
    debit: int = 0


class ShadowModel:
    """The expected state of the whole system, updated rule by rule."""

    def __init__(self, holders, tokens, lockboxes, rate_limit_time):
        self.holders = holders  # addresses (str)
        self.tokens = tokens  # addresses, parallel to TOKEN_SPECS
        self.lockboxes = lockboxes  # addresses, parallel to SPOKE_IDS
        self.index = {t: i for i, t in enumerate(tokens)}
        self.balances = {(h, a): 0 for h in holders for a in ASSETS}
        self.books = []
        for i, spec in enumerate(TOKEN_SPECS):
            cap = BUCKET_TOKENS * spec.unit
            self.books.append(TokenBook(Bucket(cap, REFILL_TOKENS * spec.unit, cap, rate_limit_time[i])))
        self.spokes = [SpokeState() for _ in SPOKE_IDS]
        self.failing = False  # FalseReturningToken.failing
        self.blocked = set()  # BlocklistToken.blocked

    # ----------------------------------------------------------------------------- deposits

    def record_deposit(self, i, depositor, account, amount) -> DepositRecord:
        """The Deposited event a deposit should emit; the lockbox now holds `amount` more."""
        spoke = self.spokes[TOKEN_SPECS[i].spoke]
        nonce, head = spoke.deposit_tip
        nonce += 1
        head = extend(head, deposit_leaf(nonce, depositor, account, self.tokens[i], amount))
        record = DepositRecord(nonce, depositor, account, self.tokens[i], amount, head)
        spoke.deposit_tip = (nonce, head)
        spoke.deposits.append(record)
        self.books[i].custodied += amount
        return record

    def credit(self, spoke, count) -> list:
        """Delivers the first `count` pending deposits; the DepositCredited events they should emit."""
        state = self.spokes[spoke]
        credits = []
        for r in state.deposits[:count]:
            i = self.index[r.token]
            spec = TOKEN_SPECS[i]
            self.balances[(r.account, spec.asset)] += r.amount * spec.scale
            self.books[i].liquidity += r.amount
            credits.append((r.account, spec.asset, r.amount * spec.scale))
        del state.deposits[:count]
        return credits

    # ----------------------------------------------------------------------------- withdrawals

    def token_of(self, spoke, asset):
        """Index of `asset`'s token on `spoke`, or None."""
        return next((i for i, t in enumerate(TOKEN_SPECS) if t.spoke == spoke and t.asset == asset), None)

    def withdrawal_verdict(self, account, asset, amount, spoke, recipient) -> Verdict:
        """MarginLedger.requestWithdrawal's checks, in its order, against the model."""
        spoke_id = SPOKE_IDS[spoke]
        if amount == 0:
            return Verdict(error("WithdrawalAmountZero()"))
        if recipient == ZERO:
            return Verdict(error("WithdrawalRecipientZero()"))
        i = self.token_of(spoke, asset)
        if i is None:
            return Verdict(error("AssetNotOnSpoke(uint32,uint64)", asset, spoke_id))
        spec, book = TOKEN_SPECS[i], self.books[i]
        token_amount = amount // spec.scale  # rounds down: the protocol keeps the dust
        debit = token_amount * spec.scale
        balance = self.balances[(account, asset)]
        if token_amount == 0:
            return Verdict(error("WithdrawalAmountZero()"))
        if balance < debit:
            signature = "WithdrawalExceedsBalance(address,uint32,uint256,uint256)"
            return Verdict(error(signature, account, asset, balance, debit))
        if book.liquidity < token_amount:
            signature = "WithdrawalExceedsLiquidity(uint64,uint32,uint256,uint256)"
            return Verdict(error(signature, spoke_id, asset, book.liquidity, token_amount))
        return Verdict(None, i, token_amount, debit)

    def record_withdrawal(self, account, recipient, spoke, verdict: Verdict) -> WithdrawalRecord:
        """Debits a granted request; the WithdrawalQueued event it should emit."""
        state, spec = self.spokes[spoke], TOKEN_SPECS[verdict.token]
        nonce, head = state.withdrawal_tip
        nonce += 1
        token = self.tokens[verdict.token]
        head = extend(head, withdrawal_leaf(nonce, account, recipient, token, verdict.token_amount))
        record = WithdrawalRecord(nonce, account, recipient, token, verdict.token_amount, head)
        state.withdrawal_tip = (nonce, head)
        state.withdrawals.append(record)
        self.balances[(account, spec.asset)] -= verdict.debit
        self.books[verdict.token].liquidity -= verdict.token_amount
        return record

    # ----------------------------------------------------------------------------- releases

    def release(self, spoke, i, recipient, amount, now) -> str:
        """Lockbox._release on the model at block time `now`: the outcome, effects applied (a
        failed transfer leaves the bucket brought up to date, as the contract's refund does)."""
        spec, book = TOKEN_SPECS[i], self.books[i]
        if recipient in (ZERO, self.lockboxes[spoke]):
            return INVALID
        if amount > book.custodied:
            return UNCOVERED
        if not book.bucket.consume(now, amount):
            return RATE_LIMITED
        if (spec.kind == "false" and self.failing) or (spec.kind == "blocklist" and recipient in self.blocked):
            book.bucket.refund(amount)
            return TRANSFER_FAILED
        book.custodied -= amount
        book.released += amount
        return RELEASED

    def retry(self, spoke, nonce, now):
        """Lockbox.retryRelease: (outcome, expected revert data or None). A failed retry reverts,
        so it leaves the model untouched; a successful one unparks the release."""
        p = self.spokes[spoke].parked[nonce]
        i = self.index[p.token]
        book = self.books[i]
        saved = copy.copy(book.bucket)
        available = book.bucket.level(now)
        outcome = self.release(spoke, i, p.recipient, p.amount, now)
        expected = {
            RELEASED: None,
            INVALID: error("ReleaseRecipientInvalid(address)", p.recipient),
            UNCOVERED: error("ReleaseExceedsCustody(address,uint256,uint256)", p.token, book.custodied, p.amount),
            RATE_LIMITED: error("ReleaseRateLimited(address,uint256,uint256)", p.token, available, p.amount),
            TRANSFER_FAILED: error("ReleaseTransferFailed(uint64,address)", nonce, p.recipient),
        }[outcome]
        if outcome == RELEASED:
            del self.spokes[spoke].parked[nonce]
        else:
            book.bucket = saved
        return outcome, expected

    def parked_entries(self) -> list:
        """(spoke, nonce) of every parked release, in a stable order."""
        return sorted((spoke, nonce) for spoke, state in enumerate(self.spokes) for nonce in state.parked)

    def outstanding(self, i, owed) -> int:
        """Token units of token `i` debited on the ledger and not yet paid: queued and not yet
        delivered to the lockbox, plus `owed` (parked on the lockbox, as the chain reports it)."""
        spec, token = TOKEN_SPECS[i], self.tokens[i]
        return sum(r.amount for r in self.spokes[spec.spoke].withdrawals if r.token == token) + owed

    def undelivered_deposits(self, i) -> int:
        """Token units of token `i` the lockbox took in and the ledger has not credited yet."""
        spec, token = TOKEN_SPECS[i], self.tokens[i]
        return sum(r.amount for r in self.spokes[spec.spoke].deposits if r.token == token)
