"""Recovering a parked release. From the hub: redirect it to another recipient, or refund it to the
hub balance. The hub account that withdrew asks the ledger (`requestReleaseRecovery`); the
validators sign and the submitters deliver the recovery message like any withdrawal, and the
lockbox applies it (docs/protocol.md, "Recovery messages"). On the spoke: retry it
(`Lockbox.retryRelease`, open to anyone, pays the recorded recipient) once the cause is gone. The
spoke is read first so that a request the lockbox would reject is refused here, in words, before
any gas is spent."""

from __future__ import annotations

from eth_account import Account
from pydantic import BaseModel
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from relayer.chain.abi import DecodedError, explain
from relayer.context import Context
from relayer.errors import ActionError
from relayer.proofs.hashchain import ZERO_ADDRESS
from relayer.services.transfers import Explainer, TxResult, chain_id_of, spoke_of, transact
from relayer.services.units import parse_address
from relayer.types import ChainId

PARKED_REASONS = {1: "delayed by the outflow rate limit", 2: "failed"}


class RecoveryRefusal(Explainer):
    """A refused recovery request, with what to do about it."""

    def __init__(self, chain: str) -> None:
        self.chain = chain

    def __call__(self, error: DecodedError) -> str:
        if error.name == "RecoveryTargetUnknown":
            target = error.args["target"]
            return f"no withdrawal {target} was ever queued to {self.chain}: check the nonce (`xmargin pending`)"
        return explain(error)


def check_recoverable(ctx: Context, chain_id: int, nonce: int, account: str, new_recipient: str) -> None:
    """ActionError unless release `nonce` is parked on `chain_id`, belongs to `account`, and
    `new_recipient` (zero: refund) is one the lockbox can pay."""
    lockbox = ctx.lockbox(chain_id)
    chain = ctx.chain_name(chain_id)
    owner, reason, *_ = ctx.client(chain_id).call(lockbox.functions.pendingRelease(nonce))
    if int(reason) == 0:
        raise ActionError(
            f"withdrawal {nonce} is not parked on {chain} (paid, already refunded, or never parked): nothing to recover"
        )
    if str(owner).lower() != account.lower():
        raise ActionError(
            f"withdrawal {nonce} on {chain} belongs to hub account {owner}, not {account}: "
            "only the account that withdrew can redirect or refund it"
        )
    if new_recipient.lower() == lockbox.address.lower():
        raise ActionError(f"the lockbox itself cannot take withdrawal {nonce}: choose another recipient, or refund it")


def request_recovery(ctx: Context, to_chain: str, nonce: int, new_recipient: str | None, key: str) -> TxResult:
    """Ask the ledger to redirect parked withdrawal `nonce` on `to_chain` to `new_recipient`, or
    (None) refund it to the sender's hub balance. Returns the recovery message's route nonce."""
    dest = chain_id_of(ctx, to_chain)
    account = Account.from_key(key).address
    target = ZERO_ADDRESS if new_recipient is None else parse_address(new_recipient)
    if target == ZERO_ADDRESS and new_recipient is not None:
        raise ActionError("the new recipient is the zero address: use `refund` to send it back to the hub balance")
    check_recoverable(ctx, dest, nonce, account, target)
    ledger = ctx.ledger()
    fn = ledger.functions.requestReleaseRecovery(dest, nonce, target)
    receipt = transact(ctx.sender(key, ctx.deployment.hub.chain_id), fn, RecoveryRefusal(to_chain))
    (event,) = ledger.events.ReleaseRecoveryRequested().process_receipt(receipt, errors=DISCARD)
    return TxResult(
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=receipt["blockNumber"],
        route_nonce=int(event["args"]["recoveryNonce"]),
    )


# ------------------------------------------------------------------ retry on the spoke


class ReleaseRetried(BaseModel):
    """A parked release paid out by a retry (`Lockbox.retryRelease`)."""

    tx_hash: str
    block_number: int
    chain: str
    """The spoke it was parked on, and is now paid on."""
    retried_nonce: int
    """The withdrawal nonce of the release now paid."""
    recipient: str
    """Who was paid: the release's recorded recipient (a retry never changes it)."""


class RetryRefusal(Explainer):
    """A retry the lockbox refuses, and what else the account can do: the release stays parked."""

    def __init__(self, chain: str, nonce: int) -> None:
        self.chain = chain
        self.nonce = nonce

    def __call__(self, error: DecodedError) -> str:
        stays = f"withdrawal {self.nonce} stays parked on {self.chain}"
        if error.name == "ReleaseTransferFailed":
            recipient = Web3.to_checksum_address(str(error.args["recipient"]))
            return (f"retry not possible now: paying withdrawal {self.nonce} to {recipient} on "
                    f"{self.chain} still fails (the recipient or token refuses it); it stays parked: retry once "
                    "that is fixed, or redirect it or refund it to the hub balance")
        if error.name == "ReleaseRateLimited":
            return f"retry not possible yet: {explain(error)}"
        if error.name in ("ReleasesPaused", "ReleaseExceedsCustody", "ReleaseRecipientInvalid"):
            return f"retry not possible now: {explain(error)}; {stays}"
        return explain(error)


def retry_call(ctx: Context, to_chain: str, nonce: int) -> tuple[ChainId, ContractFunction]:
    """The spoke and the `retryRelease(nonce)` call for release `nonce` parked on `to_chain`;
    ActionError when nothing is parked under that nonce (paid, refunded, or never parked)."""
    dest = spoke_of(ctx, to_chain, "retry")
    lockbox = ctx.lockbox(dest)
    _, reason, *_ = ctx.client(dest).call(lockbox.functions.pendingRelease(nonce))
    if int(reason) == 0:
        raise ActionError(f"withdrawal {nonce} is not parked on {ctx.chain_name(dest)} (paid, refunded, or never "
                          "parked): nothing to retry")
    return dest, lockbox.functions.retryRelease(nonce)


def retry_release(ctx: Context, to_chain: str, nonce: int, key: str) -> ReleaseRetried:
    """Retry paying release `nonce` parked on `to_chain` to its recorded recipient, sent by `key`
    (anyone may: it pays no one else); refused in words, with the release left parked, if it still fails."""
    dest, fn = retry_call(ctx, to_chain, nonce)
    lockbox = ctx.lockbox(dest)
    receipt = transact(ctx.sender(key, dest), fn, RetryRefusal(ctx.chain_name(dest), nonce))
    (paid,) = lockbox.events.Released().process_receipt(receipt, errors=DISCARD)
    return ReleaseRetried(
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(), block_number=receipt["blockNumber"],
        chain=ctx.chain_name(dest), retried_nonce=nonce, recipient=str(paid["args"]["recipient"]),
    )
