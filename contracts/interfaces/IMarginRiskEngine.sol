// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPerpMarket} from "./IPerpMarket.sol";

/// @title IMarginRiskEngine
/// @notice Cross-margin account health: the ledger's IRiskEngine checks plus the detail the
/// liquidation module, the lens and keepers read.
interface IMarginRiskEngine {
    /// @notice An account's cross-margin health.
    struct Health {
        int256 equity; // weighted collateral + USD balance + unrealized PnL net of funding (1e18 USD)
        uint256 initialMargin; // summed over markets
        uint256 maintenanceMargin; // summed over markets
        uint256 collateralValue; // weighted collateral value alone
        bool hasPositions;
        bool pricesOk; // every price used is fresh and valid
    }

    /// @notice Health of `account` now.
    function health(address account) external view returns (Health memory);

    /// @notice Equity >= initial margin with fresh prices (true without prices for an account with
    /// no position and a non-negative USD balance: it owes nothing).
    function meetsInitialMargin(address account) external view returns (bool);

    /// @notice Equity < maintenance margin with fresh prices.
    function isLiquidatable(address account) external view returns (bool);

    /// @notice Registered markets.
    function markets() external view returns (IPerpMarket[] memory);
}
