"""The solvency state machine's parked-release rules: a payout token or recipient that fails (the
false-returning token, the blocklist), anyone retrying a parked release, and a redirect asked on the
hub, carried by the withdrawal route and predicted on the shadow model as the lockbox applies it.
A mixin of `SolvencyMachine` (it uses the machine's system `s`, model `m`, counters and helpers)."""

from solvency_model import RELEASED, WithdrawalRecord, park_reason
from solvency_support import (
    RECOVERY_MARKER,
    SPOKE_IDS,
    TOKEN_SPECS,
    ZERO,
    call_outcome,
    describe,
    error,
    events,
    extend,
    next_timestamp,
    send,
    withdrawal_leaf,
)


class ParkedReleases:
    def rule_toggle_failure(self, blocklist="st_flag", holder="st_holder"):
        """Turn the false-returning token on or off, or (un)block a holder on the blocklist token."""
        s, m = self.s, self.m
        if blocklist:
            who = m.holders[holder]
            token = s.tokens[next(i for i, t in enumerate(TOKEN_SPECS) if t.kind == "blocklist")]
            send(token.setBlocked, (who, who not in m.blocked), s.gov)
            m.blocked ^= {who}
        else:
            token = s.tokens[next(i for i, t in enumerate(TOKEN_SPECS) if t.kind == "false")]
            m.failing = not m.failing
            send(token.setFailing, (m.failing,), s.gov)

    def rule_retry_release(self, pick="st_pick", wait="st_wait", fix="st_flag"):
        """Anyone retries a parked release, maybe after waiting for the bucket or once the token or
        the recipient was fixed: it pays, or reverts with the reason the model gives."""
        if wait:
            self.rule_advance_time(wait)
        s, m, entries = self.s, self.m, self.m.parked_entries()
        if not entries:
            spoke = pick % len(SPOKE_IDS)
            nonce = s.lockboxes[spoke].withdrawalRoute()[0] + 1
            got = call_outcome(s.lockboxes[spoke].retryRelease, (nonce,), s.relayer)
            assert got == error("ReleaseNotPending(uint64)", nonce), describe(got)
            return
        spoke, nonce = entries[pick % len(entries)]
        lockbox, p = s.lockboxes[spoke], m.spokes[spoke].parked[nonce]
        i = m.index[p.token]
        if fix and TOKEN_SPECS[i].kind == "false" and m.failing:
            self.rule_toggle_failure(blocklist=False, holder=0)
        if fix and TOKEN_SPECS[i].kind == "blocklist" and p.recipient in m.blocked:
            self.rule_toggle_failure(blocklist=True, holder=m.holders.index(p.recipient))
        now = next_timestamp()
        outcome, expected = m.retry(spoke, nonce, now)
        got = call_outcome(lockbox.retryRelease, (nonce,), s.relayer)
        assert got == expected, f"retry said {describe(got)}, model expected {outcome}"
        self.seen[f"retry: {outcome}"] += 1
        if expected is not None:
            return
        payouts = [(i, p.recipient, p.amount)]
        before = self._paid(payouts)
        tx = send(lockbox.retryRelease, (nonce,), s.relayer)
        assert tx.timestamp == now
        paid = [(e["nonce"], e["recipient"], e["token"], e["amount"]) for e in events(tx, "Released")]
        assert paid == [(nonce, p.recipient, p.token, p.amount)]
        self._assert_paid(before, payouts)

    def _predict_recovery(self, spoke, r, now, out):
        """A recovery message (a redirect asked on the hub) as the lockbox applies it, on the model."""
        released, parked, payouts, redirected, rejected = out
        state, m = self.m.spokes[spoke], self.m
        p = state.parked.get(r.amount)
        if p is None:
            rejected.append((r.nonce, r.amount, 1))  # NotParked
            self.seen["recovery rejected: not parked"] += 1
            return
        if p.account != r.account:
            rejected.append((r.nonce, r.amount, 2))  # AccountMismatch
            self.seen["recovery rejected: another account"] += 1
            return
        if r.recipient == self.s.lockboxes[spoke].address:
            rejected.append((r.nonce, r.amount, 3))  # RecipientInvalid
            self.seen["recovery rejected: recipient invalid"] += 1
            return
        i = m.index[p.token]
        outcome = m.release(spoke, i, r.recipient, p.amount, now)
        redirected.append((r.amount, r.nonce, p.recipient, r.recipient))
        self.seen[f"redirect: {outcome}"] += 1
        if outcome == RELEASED:
            released.append((r.amount, r.recipient, p.token, p.amount))
            payouts.append((i, r.recipient, p.amount))
            del state.parked[r.amount]
        else:
            parked.append((r.amount, park_reason(outcome)))
            p.recipient, p.reason = r.recipient, park_reason(outcome)

    def rule_redirect_release(self, pick="st_pick", recipient="st_recipient", as_stranger="st_flag"):
        """A parked release's hub account (or, refused later by the lockbox, a stranger) asks the
        ledger to redirect it; the recovery message goes out with the spoke's next withdrawals."""
        s, m, entries = self.s, self.m, self.m.parked_entries()
        if not entries:
            return
        spoke, nonce = entries[pick % len(entries)]
        state, p = m.spokes[spoke], m.spokes[spoke].parked[nonce]
        caller = p.account
        if as_stranger:
            caller = s.stranger.address if p.account != s.stranger.address else s.users[0].address
        to = self._recipient(spoke, recipient)
        if to == ZERO:
            to = caller  # zero would be a refund (a deposit back to the hub): not modelled here
        tip, head = state.withdrawal_tip
        tip += 1
        head = extend(head, withdrawal_leaf(tip, caller, to, RECOVERY_MARKER, nonce))
        tx = send(s.ledger.requestReleaseRecovery, (SPOKE_IDS[spoke], nonce, to), caller)
        (queued,) = events(tx, "WithdrawalQueued")
        assert (queued["nonce"], bytes(queued["head"])) == (tip, head)
        state.withdrawal_tip = (tip, head)
        state.withdrawals.append(WithdrawalRecord(tip, caller, to, RECOVERY_MARKER, nonce, head))
        self.seen["recovery requested"] += 1
