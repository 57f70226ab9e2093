// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IReleaseRecovery} from "../interfaces/IReleaseRecovery.sol";
import {ReleaseQueue} from "./ReleaseQueue.sol";

/// @title ReleaseRecovery
/// @notice Applies recovery messages to parked releases: a redirect pays a new recipient, a
/// refund hands the release back to its hub account through the deposit route. Only the hub
/// account that withdrew can ask (the ledger signs its `msg.sender` into the message), so a
/// smart account with no code, or another owner, at its address on this spoke loses nothing.
/// @dev Exactly once: a recovery acts only on a release that is parked now, and takes it out of
/// the queue before anything else; a paid, refunded or never-parked release rejects it.
abstract contract ReleaseRecovery is ReleaseQueue, IReleaseRecovery {
    /// @dev Applies recovery message `recoveryNonce` from hub `account` to the release parked
    /// under `target`: `newRecipient` zero refunds it, anything else redirects it. Never reverts
    /// but for {_payRecovered}'s gas check (the same as any release in a batch).
    function _applyRecovery(uint64 recoveryNonce, address account, address newRecipient, uint256 target) internal {
        RecoveryRejection rejection = _rejection(account, newRecipient, target);
        if (rejection != RecoveryRejection.None) {
            emit ReleaseRecoveryRejected(recoveryNonce, target, uint8(rejection));
            return;
        }
        uint64 nonce = uint64(target); // fits: _rejection found a release parked under it
        PendingRelease memory release = _unpark(nonce); // EFFECTS before any transfer
        if (newRecipient == address(0)) {
            uint64 depositNonce = _creditBack(account, release.token, release.amount);
            emit ReleaseRefunded(nonce, recoveryNonce, account, depositNonce);
            return;
        }
        emit ReleaseRedirected(nonce, recoveryNonce, release.recipient, newRecipient);
        ParkReason reason = _payRecovered(nonce, newRecipient, release.token, release.amount);
        if (reason != ParkReason.None) _park(nonce, account, newRecipient, release.token, release.amount, reason);
    }

    /// @dev Why the recovery cannot apply, or `None`.
    function _rejection(address account, address newRecipient, uint256 target)
        private
        view
        returns (RecoveryRejection)
    {
        if (target > type(uint64).max) return RecoveryRejection.NotParked;
        PendingRelease memory release = pendingRelease(uint64(target));
        if (release.reason == ParkReason.None) return RecoveryRejection.NotParked;
        if (release.account != account) return RecoveryRejection.AccountMismatch;
        if (newRecipient != address(0) && _recipientRejected(newRecipient)) return RecoveryRejection.RecipientInvalid;
        return RecoveryRejection.None;
    }

    /// @dev Pays release `nonce` to `recipient` as a batch release would; `None` if paid, else
    /// why it must be parked again (nothing changed then).
    function _payRecovered(uint64 nonce, address recipient, address token, uint256 amount)
        internal
        virtual
        returns (ParkReason);

    /// @dev Appends a deposit crediting `account` with `amount` of `token` already in custody;
    /// returns its deposit nonce.
    function _creditBack(address account, address token, uint256 amount) internal virtual returns (uint64);

    /// @dev Whether `recipient` may never receive a release.
    function _recipientRejected(address recipient) internal view virtual returns (bool);
}
