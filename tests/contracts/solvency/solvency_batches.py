"""Signed batches for the solvency state machine: the honest relayer's (continuing each route from
what the contracts' events announced) and an adversary's (replayed, tampered, under-signed,
foreign-signed or misrouted), each with the exact revert it must meet."""

from brownie import chain
from eth_account import Account

from solvency_model import DepositRecord, WithdrawalRecord
from solvency_support import (
    OUTSIDER_KEY,
    SPOKE_IDS,
    THRESHOLD,
    TOKEN_SPECS,
    VALIDATORS,
    ZERO,
    addresses,
    deposit_leaf,
    error,
    extend,
    fold,
    sign_checkpoint,
    withdrawal_leaf,
)

# What a delivery step's adversary submits first (None: nobody). "foreign": signed by a key outside
# the set (deposits) or for the other lockbox's EIP-712 domain (withdrawals); "misrouted": the
# checkpoint names the wrong route.
ATTACKS = (None, "replay", "tamper", "underquorum", "foreign", "misrouted")
SIGNATURE_LENGTH = 65


class Batches:
    """Mixin for the state machine: needs `self.s` (the System) and `self.m` (the ShadowModel)."""

    def keys(self, first, count=THRESHOLD):
        """`count` validator keys, starting at `first` (any quorum signs the same checkpoint)."""
        return [VALIDATORS[(first + j) % len(VALIDATORS)] for j in range(count)]

    def deposit_batch(self, spoke, records, keys, source_chain=None, nonce=None, head=None):
        """(messages, checkpoint, signatures) for the ledger: the deposit route of `spoke` up to
        the last of `records`, signed by `keys` (`source_chain`: the route the checkpoint claims)."""
        s, spoke_id = self.s, SPOKE_IDS[spoke]
        nonce = records[-1].nonce if nonce is None else nonce
        head = records[-1].head if head is None else head
        source = s.lockboxes[spoke].address
        sigs = sign_checkpoint(keys, chain.id, s.ledger.address, spoke_id, source, nonce, head)
        checkpoint = (spoke_id if source_chain is None else source_chain, source, nonce, head)
        return [r.message() for r in records], checkpoint, sigs

    def withdrawal_batch(self, spoke, records, keys, signed_for=None):
        """(messages, checkpoint, signatures) for `spoke`'s lockbox (or signed for `signed_for`'s
        EIP-712 domain instead), up to the last of `records`."""
        s = self.s
        nonce, head = records[-1].nonce, records[-1].head
        dest = (signed_for or s.lockboxes[spoke]).address
        sigs = sign_checkpoint(keys, chain.id, dest, chain.id, s.ledger.address, nonce, head)
        return [r.message() for r in records], (chain.id, s.ledger.address, nonce, head), sigs

    def empty_withdrawal_batch(self, spoke, keys):
        """A batch of no messages at the lockbox's current route tip."""
        processed, head = self.s.lockboxes[spoke].withdrawalRoute()
        record = WithdrawalRecord(processed, ZERO, ZERO, ZERO, 0, bytes(head))
        _, checkpoint, sigs = self.withdrawal_batch(spoke, [record], keys)
        return [], checkpoint, sigs

    # ----------------------------------------------------------------------------- forgeries

    def forged_batch(self, route, attack, spoke, pick):
        """(contract function, args, expected revert data) of `attack` on `spoke`'s `route`. An
        attack that needs material the run lacks (nothing to replay or tamper with) becomes a
        forged batch signed outside the validator set."""
        if route == "deposit":
            return self._forged_deposit_batch(attack, spoke, pick)
        return self._forged_withdrawal_batch(attack, spoke, pick)

    def _forged_deposit_batch(self, attack, spoke, pick):
        s, state, other = self.s, self.m.spokes[spoke], 1 - spoke
        fn = s.ledger.processDeposits
        processed, stored = s.ledger.depositRoute(SPOKE_IDS[spoke])
        batch = state.deposits[: 1 + pick % 3]
        if attack == "replay" and state.last_deposit_batch:
            msgs, checkpoint, _ = state.last_deposit_batch
            expected = error("BatchNonceMismatch(uint64,uint256,uint64)", processed, len(msgs), checkpoint[2])
            return fn, state.last_deposit_batch, expected
        if attack == "tamper" and batch:
            msgs, checkpoint, sigs = self.deposit_batch(spoke, batch, self.keys(pick))
            msgs = [self._tampered(msgs[0], 1), *msgs[1:]]  # credit the stranger instead
            computed = fold(bytes(stored), processed, msgs, deposit_leaf)
            return fn, (msgs, checkpoint, sigs), error("BatchHeadMismatch(bytes32,bytes32)", computed, checkpoint[3])
        if attack == "underquorum" and batch:
            signed = self.deposit_batch(spoke, batch, self.keys(pick, THRESHOLD - 1))
            return fn, signed, error("CheckpointQuorumNotMet(uint256,uint256)", THRESHOLD - 1, THRESHOLD)
        if attack == "misrouted" and batch:
            signed = self.deposit_batch(spoke, batch, self.keys(pick), source_chain=SPOKE_IDS[other])
            source, claimed = s.lockboxes[spoke].address, s.lockboxes[other].address
            return fn, signed, error("RouteSourceMismatch(address,address)", claimed, source)
        records = batch or [self._invented_deposit(spoke, processed, bytes(stored))]
        signed = self.deposit_batch(spoke, records, [*self.keys(pick, THRESHOLD - 1), OUTSIDER_KEY])
        return fn, signed, error("CheckpointSignerNotValidator(address)", Account.from_key(OUTSIDER_KEY).address)

    def _forged_withdrawal_batch(self, attack, spoke, pick):
        s, state, other = self.s, self.m.spokes[spoke], 1 - spoke
        lockbox = s.lockboxes[spoke]
        fn = lockbox.processWithdrawals
        processed, stored = lockbox.withdrawalRoute()
        batch = state.withdrawals[: 1 + pick % 3]
        if attack == "replay" and state.last_withdrawal_batch:
            msgs, checkpoint, _ = state.last_withdrawal_batch
            expected = error("BatchNonceMismatch(uint64,uint256,uint64)", processed, len(msgs), checkpoint[2])
            return fn, state.last_withdrawal_batch, expected
        if attack == "tamper" and batch:
            msgs, checkpoint, sigs = self.withdrawal_batch(spoke, batch, self.keys(pick))
            msgs = [self._tampered(msgs[0], 1), *msgs[1:]]  # pay the stranger instead
            computed = fold(bytes(stored), processed, msgs, withdrawal_leaf)
            return fn, (msgs, checkpoint, sigs), error("BatchHeadMismatch(bytes32,bytes32)", computed, checkpoint[3])
        if attack == "underquorum" and batch:
            signed = self.withdrawal_batch(spoke, batch, self.keys(pick, THRESHOLD - 1))
            return fn, signed, error("CheckpointQuorumNotMet(uint256,uint256)", THRESHOLD - 1, THRESHOLD)
        if attack == "misrouted" and batch:
            msgs, (chain_id, _, nonce, head), sigs = self.withdrawal_batch(spoke, batch, self.keys(pick))
            source = s.lockboxes[other].address  # claims to come from another contract
            expected = error("RouteSourceMismatch(address,address)", s.ledger.address, source)
            return fn, (msgs, (chain_id, source, nonce, head), sigs), expected
        records = batch or [self._invented_withdrawal(spoke, processed, bytes(stored))]
        msgs, checkpoint, sigs = self.withdrawal_batch(spoke, records, self.keys(pick), signed_for=s.lockboxes[other])
        return fn, (msgs, checkpoint, sigs), self._expected_quorum_error(lockbox, checkpoint, sigs)

    def _tampered(self, message, field):
        """`message` redirected to the stranger at `field` (or, already his, one unit larger)."""
        tampered, stranger = list(message), self.s.stranger.address
        if tampered[field] != stranger:
            tampered[field] = stranger
        else:
            tampered[3] += 1
        return tuple(tampered)

    def _first_token(self, spoke):
        return next(i for i, spec in enumerate(TOKEN_SPECS) if spec.spoke == spoke)

    def _invented_deposit(self, spoke, processed, stored):
        """A deposit of 10**6 whole tokens to the stranger that never happened."""
        i = self._first_token(spoke)
        token, stranger, amount = self.m.tokens[i], self.s.stranger.address, 10**6 * TOKEN_SPECS[i].unit
        head = extend(stored, deposit_leaf(processed + 1, stranger, stranger, token, amount))
        return DepositRecord(processed + 1, stranger, stranger, token, amount, head)

    def _invented_withdrawal(self, spoke, processed, stored):
        """A withdrawal of everything the lockbox holds of a token, to the stranger, never requested."""
        i = self._first_token(spoke)
        token, stranger = self.m.tokens[i], self.s.stranger.address
        amount = max(self.m.books[i].custodied, 1)
        head = extend(stored, withdrawal_leaf(processed + 1, stranger, stranger, token, amount))
        return WithdrawalRecord(processed + 1, stranger, stranger, token, amount, head)

    def _expected_quorum_error(self, verifier, checkpoint, sigs):
        """QuorumVerifier's signer loop replayed in Python over `verifier`'s own digest."""
        digest = bytes(verifier.checkpointDigest(checkpoint))
        members = {a.lower() for a in addresses(VALIDATORS)}
        previous = ZERO
        for k in range(len(sigs) // SIGNATURE_LENGTH):
            signature = sigs[SIGNATURE_LENGTH * k : SIGNATURE_LENGTH * (k + 1)]
            signer = Account._recover_hash(digest, signature=signature)
            if int(signer, 16) <= int(previous, 16):
                return error("CheckpointSignersNotAscending(address,address)", previous, signer)
            if signer.lower() not in members:
                return error("CheckpointSignerNotValidator(address)", signer)
            previous = signer
        raise AssertionError("the signatures verify: not an attack")
