// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IReleaseRecoveryRequests
/// @notice The hub side of recovering a parked release: the account that withdrew asks the
/// ledger, and the ledger appends a recovery message (libraries/RecoveryMessage.sol) to the
/// withdrawal route of that spoke, signed and delivered like any withdrawal.
interface IReleaseRecoveryRequests {
    /// @notice `account` asked, in withdrawal-route message `recoveryNonce` to `destChainId`, to
    /// redirect release `target` to `newRecipient` (zero: refund it to the hub balance).
    event ReleaseRecoveryRequested(
        uint64 indexed destChainId,
        uint64 indexed recoveryNonce,
        address indexed account,
        uint64 target,
        address newRecipient
    );

    /// @notice `target` is not a withdrawal nonce already queued on the route to `destChainId`.
    error RecoveryTargetUnknown(uint64 destChainId, uint64 target);

    /// @notice Asks spoke `destChainId`'s lockbox to redirect parked release `target` to
    /// `newRecipient`, or with `newRecipient` zero to refund it to the caller's hub balance (it
    /// comes back as a deposit). Only the release's own account gets it applied: the lockbox
    /// rejects a recovery from any other account, or for a release that is not parked (paid,
    /// refunded, never parked), with `ReleaseRecoveryRejected`.
    function requestReleaseRecovery(uint64 destChainId, uint64 target, address newRecipient) external;
}
