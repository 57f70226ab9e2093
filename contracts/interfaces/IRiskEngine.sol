// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IRiskEngine
/// @notice What the MarginLedger asks the margin engine (markets, oracle, liquidation) before
/// letting collateral leave an account.
interface IRiskEngine {
    /// @notice Whether `account`'s equity covers its initial margin (checked after a withdrawal
    /// has been debited; the withdrawal reverts otherwise).
    function meetsInitialMargin(address account) external view returns (bool);

    /// @notice Whether `account`'s equity is below its maintenance margin.
    function isLiquidatable(address account) external view returns (bool);
}
