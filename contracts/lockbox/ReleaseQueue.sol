// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IReleaseQueue} from "../interfaces/ILockbox.sol";

/// @title ReleaseQueue
/// @notice Releases a lockbox could not pay out when their batch was applied, kept by withdrawal
/// nonce until someone retries them (or their hub account redirects or refunds them, see
/// ReleaseRecovery). Nothing is ever dropped: a parked release leaves only by being paid or
/// credited back to its hub account.
/// @dev Each withdrawal nonce is applied once (the route's nonce check), so a nonce keys at most
/// one record. `owed` is the sum of parked amounts per token, still counted in custody.
abstract contract ReleaseQueue is IReleaseQueue {
    mapping(uint64 nonce => PendingRelease) private _pending;
    mapping(address token => uint256) private _owed;

    /// @inheritdoc IReleaseQueue
    function pendingRelease(uint64 nonce) public view returns (PendingRelease memory) {
        return _pending[nonce];
    }

    /// @inheritdoc IReleaseQueue
    function owed(address token) external view returns (uint256) {
        return _owed[token];
    }

    /// @dev Keeps release `nonce` for later and says why.
    function _park(
        uint64 nonce,
        address account,
        address recipient,
        address token,
        uint256 amount,
        ParkReason reason
    ) internal {
        _pending[nonce] =
            PendingRelease({account: account, reason: reason, recipient: recipient, token: token, amount: amount});
        _owed[token] += amount;
        emit ReleaseParked(nonce, uint8(reason));
    }

    /// @dev Removes release `nonce` from the queue and returns it; reverts if none is parked.
    /// Callers take it out BEFORE paying it (checks-effects-interactions) and park it again,
    /// or revert, when the payment fails.
    function _unpark(uint64 nonce) internal returns (PendingRelease memory release) {
        release = _pending[nonce];
        if (release.reason == ParkReason.None) revert ReleaseNotPending(nonce);
        delete _pending[nonce];
        _owed[release.token] -= release.amount;
    }
}
