// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ILockboxFees} from "../interfaces/ILockboxFees.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title LockboxFees
/// @notice Per-token minimum deposit and relay fee, and the relayers' accrued fees.
/// @dev The fee stays in the lockbox's custody (`_custodied`) until claimed: a withdrawal of
/// `amount` releases `amount - fee` to its recipient and books `fee` to the relayer; the claim
/// takes it out of custody through the outflow limit like any release (Lockbox.claimRelayFees).
/// The fee is charged when the batch is delivered, whatever happens to the release (paid or
/// parked): the relayer did the delivery. Rounding: the cap rounds down, in the recipient's favour.
abstract contract LockboxFees is AccessControl, ILockboxFees {
    /// @notice The most of one withdrawal a relay fee may take: 1 % (basis points).
    uint256 public constant MAX_RELAY_FEE_BPS = 100;
    /// @dev Basis points in one.
    uint256 private constant BPS = 10_000;

    /// @dev One slot per token, read by every deposit (minimum) and withdrawal batch (fee).
    struct TokenFees {
        uint128 minDeposit;
        uint128 relayFee;
    }

    mapping(address token => TokenFees) private _tokenFees;
    mapping(address relayer => mapping(address token => uint256)) private _relayFees;
    mapping(address token => uint256) private _relayFeesOwed;

    /// @inheritdoc ILockboxFees
    function setMinDeposit(address token, uint256 minimum) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (minimum > type(uint128).max) revert TokenFeeInvalid(minimum);
        _tokenFees[token].minDeposit = uint128(minimum);
        emit MinDepositSet(token, minimum);
    }

    /// @inheritdoc ILockboxFees
    function setRelayFee(address token, uint256 fee) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (fee > type(uint128).max) revert TokenFeeInvalid(fee);
        _tokenFees[token].relayFee = uint128(fee);
        emit RelayFeeSet(token, fee);
    }

    /// @inheritdoc ILockboxFees
    function tokenFees(address token) external view returns (uint256 minDeposit, uint256 relayFee) {
        TokenFees memory fees = _tokenFees[token];
        return (fees.minDeposit, fees.relayFee);
    }

    /// @inheritdoc ILockboxFees
    function relayFeeFor(address token, uint256 amount) public view returns (uint256) {
        uint256 fee = _tokenFees[token].relayFee;
        if (fee == 0) return 0;
        uint256 cap = amount * MAX_RELAY_FEE_BPS / BPS;
        return fee < cap ? fee : cap;
    }

    /// @inheritdoc ILockboxFees
    function relayFeesOf(address relayer, address token) external view returns (uint256) {
        return _relayFees[relayer][token];
    }

    /// @inheritdoc ILockboxFees
    function relayFeesOwed(address token) external view returns (uint256) {
        return _relayFeesOwed[token];
    }

    /// @dev Reverts if `amount` (token units received) is below `token`'s minimum deposit.
    function _checkMinDeposit(address token, uint256 amount) internal view {
        uint256 minimum = _tokenFees[token].minDeposit;
        if (amount < minimum) revert DepositBelowMinimum(token, amount, minimum);
    }

    /// @dev Books withdrawal `nonce`'s relay fee to `relayer`; returns what is left to release.
    function _chargeRelayFee(uint64 nonce, address relayer, address token, uint256 amount) internal returns (uint256) {
        uint256 fee = relayFeeFor(token, amount);
        if (fee == 0) return amount;
        _relayFees[relayer][token] += fee;
        _relayFeesOwed[token] += fee;
        emit RelayFeeCharged(nonce, relayer, token, fee);
        return amount - fee;
    }

    /// @dev Clears `relayer`'s accrued `token` fees and returns them (RelayFeesNone if none).
    function _takeRelayFees(address relayer, address token) internal returns (uint256 amount) {
        amount = _relayFees[relayer][token];
        if (amount == 0) revert RelayFeesNone(relayer, token);
        _relayFees[relayer][token] = 0;
        _relayFeesOwed[token] -= amount;
    }
}
