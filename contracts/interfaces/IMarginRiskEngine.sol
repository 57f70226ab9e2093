// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPerpMarket} from "./IPerpMarket.sol";
import {IPriceOracle} from "./IPriceOracle.sol";
import {IRiskEngine} from "./IRiskEngine.sol";

/// @title IMarginRiskEngine
/// @notice Cross-margin account health: the ledger's IRiskEngine checks (`meetsInitialMargin`:
/// equity >= IM with every held price Ok, or no position and a non-negative USD balance;
/// `isLiquidatable`: equity < MM with every held market price Ok and the sequencer up) plus the detail the liquidation module, the
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
        bool liquidationPricesOk; // every market held is Ok and the sequencer is up past its grace
    }

    /// @notice Health of `account` now.
    function health(address account) external view returns (Health memory);

    /// @notice Collateral price under the oracle-failure policy: the oracle price when `Ok` (or
    /// SequencerDown), the last good price x DOUBTFUL_BPS when Stale or Invalid, 0 without a feed.
    function collateralPrice(uint32 assetId) external view returns (uint256 price, IPriceOracle.PriceStatus status);

    /// @notice The price oracle every health check reads.
    function oracle() external view returns (IPriceOracle);

    /// @notice Registered markets.
    function markets() external view returns (IPerpMarket[] memory);

    /// @notice Called by a market when `account`'s position in it opens (`open`: size 0 -> non-zero)
    /// or closes (-> 0): keeps the per-account index `health` walks.
    function notePosition(address account, bool open) external;

    /// @notice The registered markets `account` holds a position in (or is the pool of).
    function heldMarkets(address account) external view returns (IPerpMarket[] memory);

    /// @notice Every oracle feed a health check may read: the listed assets' then the markets'
    /// (callers pass it to `IPriceOracle.cachePrices` so that one transaction prices each once).
    function priceFeeds() external view returns (uint32[] memory);

    /// @notice The feeds a health check of `account` reads: the listed assets' then those of the
    /// markets it holds (a liquidation caches these, not every market's).
    function priceFeedsOf(address account) external view returns (uint32[] memory);
}
