// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPerpMarket} from "./IPerpMarket.sol";
import {IRiskEngine} from "./IRiskEngine.sol";

/// @title IMarginRiskEngine
/// @notice Cross-margin account health: the ledger's IRiskEngine checks (`meetsInitialMargin`:
/// equity >= IM with fresh prices, or no position and a non-negative USD balance;
/// `isLiquidatable`: equity < MM with fresh prices) plus the detail the liquidation module, the
/// lens and keepers read.
interface IMarginRiskEngine is IRiskEngine {
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

    /// @notice Registered markets.
    function markets() external view returns (IPerpMarket[] memory);
}
