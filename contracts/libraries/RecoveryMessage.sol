// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title RecoveryMessage
/// @notice The second kind of message on a withdrawal route: a redirect or refund of a parked
/// release, authorised on the hub by the account that withdrew (docs/protocol.md, "Recovery
/// messages"). It travels in the same hash chain as withdrawals, as a `WithdrawalMessage` whose
/// `token` is {MARKER}:
///   account   = the hub account that asked (the ledger's `msg.sender`);
///   recipient = the new recipient on the spoke, or the zero address for a refund to the hub;
///   token     = {MARKER};
///   amount    = the withdrawal nonce of the parked release it acts on.
/// @dev The leaf is the ordinary withdrawal leaf, so validators and submitters carry it
/// unchanged. No real withdrawal can carry {MARKER}: the ledger refuses to list it, and no
/// lockbox can list it (nothing is deployed there: it is the last 20 bytes of
/// keccak256("xmargin.release-recovery"), an address nobody holds the code or key of).
library RecoveryMessage {
    /// @dev The token field of a recovery message.
    address internal constant MARKER = 0x3e471713Ba29bf8523714805800AbED4E99511Aa;
}
