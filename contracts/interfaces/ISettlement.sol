// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ISettlement
/// @notice Converts an account's signed USD balance into the settlement asset (USDC) at par
/// against the markets' counterparty (the LP vault): a positive balance is paid out of the
/// counterparty's USDC, a negative one is netted against the account's own USDC.
interface ISettlement {
    /// @notice Settles `account`'s USD balance as far as USDC allows; returns the USD moved
    /// (positive: paid to the account, negative: collected from it).
    function settle(address account) external returns (int256 settledUsd);
}
