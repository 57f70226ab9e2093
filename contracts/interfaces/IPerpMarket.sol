// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPriceOracle} from "./IPriceOracle.sol";

/// @title IPerpMarket
/// @notice An oracle-priced perpetual futures market, as the risk engine and the liquidation
/// module see it. Any contract with this interface can be added to the RiskEngine.
interface IPerpMarket {
    /// @notice An account's exposure in this market, valued now.
    struct MarginState {
        int256 size; // base units 1e18, + long / - short
        int256 pnl; // unrealized PnL net of accrued funding (1e18 USD), at the last good price if not Ok
        uint256 initialMargin; // 1e18 USD
        uint256 maintenanceMargin; // 1e18 USD
        uint256 price; // the price used (the last good one unless Ok; never 0 for an open position)
        IPriceOracle.PriceStatus status;
    }

    /// @notice Margin state of `account`; for the counterparty pool, its aggregate exposure (-skew).
    function marginState(address account) external view returns (MarginState memory);

    /// @notice Closes `closeSize` (absolute base units) of `account`'s position at the oracle price
    /// without a fee (liquidation module only); returns the closed notional (1e18 USD).
    function liquidationClose(address account, uint256 closeSize) external returns (uint256 closedNotional);

    /// @notice Cancels `account`'s pending order, if any, and returns its escrow to the account
    /// (liquidation module and auto-deleverager only): an order committed before a liquidation or
    /// a deleveraging never fills after it.
    function cancelOrderForLiquidation(address account) external;

    /// @notice Closes `fraction` (1e18 = all) of `account`'s position, rounded down, at the oracle
    /// price without a fee (liquidation module only); returns the closed notional and the
    /// maintenance margin the close released, both 0 when there is nothing to close.
    function liquidationCloseFraction(address account, uint256 fraction)
        external
        returns (uint256 closedNotional, uint256 releasedMaintenance);

    /// @notice Base maintenance margin fraction (1e18): the smallest MM per unit of notional.
    function baseMaintenanceFraction() external view returns (uint256);

    /// @notice The counterparty (LP pool) account of the market.
    function pool() external view returns (address);

    /// @notice Oracle feed id of the market's underlying.
    function feedId() external view returns (uint32);
}
