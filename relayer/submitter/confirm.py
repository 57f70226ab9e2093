"""Confirming a route's in-flight window: one look at each sent batch, oldest first, without
waiting; what each mined batch means (relayer.submitter.window.classify), with a reverted one
replayed on today's state to tell "delivered by someone else" from a real failure."""

from __future__ import annotations

import logging
from collections.abc import Callable

from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.sender import SentTx, TxRequest, TxSender
from relayer.errors import CallRevertedError, NonceTakenError
from relayer.submitter.results import Batch
from relayer.submitter.reverts import describe_revert, is_batch_nonce_mismatch
from relayer.submitter.window import InFlight, Outcome, Window, classify
from relayer.types import RouteId

log = logging.getLogger(__name__)


def confirm(
    route: RouteId, window: Window[Batch], sender: TxSender,
    delivered: Callable[[InFlight[Batch], SentTx], None], processed_now: Callable[[], int],
) -> bool:
    """Confirm the window's mined batches, oldest first (one look each, no waiting); True if any
    was confirmed. `delivered` is told of each batch that applied; `processed_now` reads the
    destination's processed nonce (asked only when a batch reverted)."""
    progressed = False
    while (item := window.oldest()) is not None:
        try:
            sent = sender.poll(item.data.pending)
        except NonceTakenError as err:  # its nonce was mined with another transaction: never lands
            window.confirmed(Outcome.FAILED)
            item.data.why = str(err)
            log.warning("route %s: batch %d..%d lost (%s); %d behind it are only confirmed", route,
                        item.first, item.last, err, len(window.batches),
                        extra={"route": str(route), "nonce_first": item.first, "nonce_last": item.last})
            progressed = True
            continue
        if sent is None:
            return progressed
        progressed = True
        item.data.tx_hash, item.data.gas_used = sent.tx_hash, sent.gas_used
        fields = {"route": str(route), "chain": route.dest_chain_id, "nonce_first": item.first,
                  "nonce_last": item.last, "tx_hash": sent.tx_hash}
        if sent.status == 1:
            window.confirmed(Outcome.DELIVERED)
            delivered(item, sent)
            log.info("route %s: delivered nonces %d..%d in %s", route, item.first, item.last, sent.tx_hash,
                     extra=fields)
            continue
        mismatch, why = replay(item.data.pending.request, sender)
        outcome = classify(sent.status, mismatch, processed_now(), item.last)
        item.data.why = why
        item.data.simulated_failure = outcome is Outcome.FAILED and item.simulated and not mismatch
        window.confirmed(outcome)
        level = logging.INFO if outcome is Outcome.DELIVERED_BY_OTHER else logging.WARNING
        log.log(level, "route %s: batch %d..%d did not apply (%s: %s); %d behind it are only confirmed",
                route, item.first, item.last, outcome.value, why, len(window.batches), extra=fields)
    return progressed


def replay(request: TxRequest, sender: TxSender) -> tuple[bool, str]:
    """Why a mined batch reverted, from replaying it on today's state: (BatchNonceMismatch?, text)."""
    try:
        sender.estimate_gas(request)
    except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
        return is_batch_nonce_mismatch(err), describe_revert(err)
    return False, "reverted on chain (out of gas?), applies now"
