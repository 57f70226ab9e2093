// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IReleaseRecovery
/// @notice How a lockbox applies recovery messages (libraries/RecoveryMessage.sol): a redirect or
/// refund of a parked release, authorised on the hub by the release's account and carried in the
/// withdrawal route. A recovery that does not apply is rejected with an event, never a revert.
interface IReleaseRecovery {
    /// @notice Why a recovery message was not applied. Values are part of the event ABI.
    enum RecoveryRejection {
        None,
        NotParked, // no release is parked under that nonce (never parked, paid, or refunded)
        AccountMismatch, // the parked release belongs to another hub account
        RecipientInvalid // the new recipient is the zero address or the lockbox
    }

    /// @notice Recovery message `recoveryNonce` sent parked release `nonce` to `newRecipient`
    /// (then paid, or parked again under its new recipient).
    event ReleaseRedirected(
        uint64 indexed nonce, uint64 indexed recoveryNonce, address indexed previousRecipient, address newRecipient
    );
    /// @notice Recovery message `recoveryNonce` refunded parked release `nonce` to its hub
    /// account: the tokens stay in custody and deposit `depositNonce` credits the account.
    event ReleaseRefunded(
        uint64 indexed nonce, uint64 indexed recoveryNonce, address indexed account, uint64 depositNonce
    );
    /// @notice Recovery message `recoveryNonce`, aimed at release `target`, did nothing.
    event ReleaseRecoveryRejected(uint64 indexed recoveryNonce, uint256 indexed target, uint8 reason);
}
