// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ILockboxFees
/// @notice Per-token minimum deposit and relay fee of a lockbox (issue 9): spam deposits and tiny
/// releases cost their sender, not the relayer. The relay fee is taken, in the withdrawn token,
/// out of each withdrawal a batch delivers and accrues to the account that delivered the batch
/// (`msg.sender` of `processWithdrawals`, the submitter), which claims it with {claimRelayFees}.
interface ILockboxFees {
    /// @notice Governance set `token`'s minimum deposit (token units, 0 = none).
    event MinDepositSet(address indexed token, uint256 minimum);
    /// @notice Governance set `token`'s relay fee per withdrawal (token units, 0 = none).
    event RelayFeeSet(address indexed token, uint256 fee);
    /// @notice Withdrawal `nonce` paid `fee` of `token` to the relayer that delivered it.
    event RelayFeeCharged(uint64 indexed nonce, address indexed relayer, address token, uint256 fee);
    /// @notice `relayer` claimed `amount` of its accrued `token` fees, paid to `to`.
    event RelayFeesClaimed(address indexed relayer, address indexed token, address to, uint256 amount);

    /// @notice The deposit is below `token`'s minimum (token units, as received).
    error DepositBelowMinimum(address token, uint256 amount, uint256 minimum);
    /// @notice The caller has no accrued fees in `token`.
    error RelayFeesNone(address relayer, address token);
    /// @notice Paying out accrued fees failed (the token or `to` refused).
    error RelayFeesTransferFailed(address token, address to, uint256 amount);
    /// @notice A fee or minimum does not fit in 128 bits.
    error TokenFeeInvalid(uint256 value);

    /// @notice Sets `token`'s minimum deposit in token units (0 = none). GOVERNOR_ROLE only.
    function setMinDeposit(address token, uint256 minimum) external;

    /// @notice Sets `token`'s relay fee per withdrawal in token units (0 = none); at most
    /// `MAX_RELAY_FEE_BPS` of a withdrawal is ever taken. GOVERNOR_ROLE only.
    function setRelayFee(address token, uint256 fee) external;

    /// @notice Pays the caller's accrued `token` fees to `to` (through the outflow limit).
    function claimRelayFees(address token, address to) external;

    /// @notice `token`'s minimum deposit and relay fee (token units).
    function tokenFees(address token) external view returns (uint256 minDeposit, uint256 relayFee);

    /// @notice The fee a withdrawal of `amount` of `token` pays: min(fee, amount * cap / 10_000).
    function relayFeeFor(address token, uint256 amount) external view returns (uint256);

    /// @notice `relayer`'s accrued, unclaimed fees in `token`.
    function relayFeesOf(address relayer, address token) external view returns (uint256);

    /// @notice All accrued, unclaimed fees in `token` (held in custody for relayers).
    function relayFeesOwed(address token) external view returns (uint256);
}
