"""What a destination's revert means to the submitter: BatchNonceMismatch (the batch was already
delivered, or overlaps one that was) versus any other reason, in a short text for the logs."""

from __future__ import annotations

from relayer.chain.abi import DecodedError, decode_error, revert_data

BATCH_NONCE_MISMATCH = "BatchNonceMismatch"
"""The destination's answer to a batch that does not continue the route (already delivered)."""


def dest_error(err: BaseException) -> DecodedError | None:
    """The destination's custom error in a revert, if any."""
    return decode_error(revert_data(err))


def is_batch_nonce_mismatch(err: BaseException) -> bool:
    """True if a revert is BatchNonceMismatch (the batch was already delivered, or overlaps)."""
    error = dest_error(err)
    return error is not None and error.name == BATCH_NONCE_MISMATCH


def describe_revert(err: BaseException) -> str:
    """Short text of a revert: the decoded custom error, or the node's message."""
    error = dest_error(err)
    return str(error) if error is not None else str(err)
