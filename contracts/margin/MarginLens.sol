// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";

/// @title MarginLens
/// @notice Read-only batch view for keepers and the stress tool: the health of many accounts in
/// one eth_call. Holds no state and no privilege (`scan` is not marked view only because it
/// uses the oracle's transient price cache).
contract MarginLens {
    /// @notice One account's health plus whether a liquidation would be accepted now.
    struct AccountHealth {
        address account;
        int256 equity;
        uint256 initialMargin;
        uint256 maintenanceMargin;
        uint256 collateralValue;
        bool hasPositions;
        bool pricesOk;
        bool liquidatable;
    }

    /// @dev The engine read.
    IMarginRiskEngine public immutable riskEngine;

    constructor(IMarginRiskEngine engine) {
        riskEngine = engine;
    }

    /// @notice Health of every account in `accounts`, in order.
    function healthOf(address[] calldata accounts) external view returns (AccountHealth[] memory out) {
        out = new AccountHealth[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            IMarginRiskEngine.Health memory h = riskEngine.health(accounts[i]);
            out[i] = AccountHealth({
                account: accounts[i],
                equity: h.equity,
                initialMargin: h.initialMargin,
                maintenanceMargin: h.maintenanceMargin,
                collateralValue: h.collateralValue,
                hasPositions: h.hasPositions,
                pricesOk: h.pricesOk,
                liquidatable: h.liquidationPricesOk && h.equity < int256(h.maintenanceMargin)
            });
        }
    }

    /// @notice One page of a keeper's scan: the liquidatable accounts among
    /// `accounts[offset : offset + limit]` with their shortfall (maintenance margin - equity,
    /// 1e18 USD; the keeper liquidates the largest first), and `next`, the offset of the next page
    /// (`accounts.length` when the scan is done). A page of `limit` accounts costs about `limit`
    /// health checks, so keepers size it under their node's eth_call gas cap (bench/margin_gas.py).
    /// @dev Not a view: it prices every feed once for the whole page (the oracle's transaction
    /// cache) and clears the cache; it changes no state. Call it with eth_call.
    function scan(address[] calldata accounts, uint256 offset, uint256 limit)
        external
        returns (address[] memory found, uint256[] memory shortfall, uint256 next)
    {
        IPriceOracle oracle = riskEngine.oracle();
        oracle.cachePrices(riskEngine.priceFeeds());
        next = offset + limit < accounts.length ? offset + limit : accounts.length;
        uint256 size = next > offset ? next - offset : 0;
        address[] memory tmp = new address[](size);
        uint256[] memory gap = new uint256[](size);
        // slither-disable-next-line uninitialized-local a counter starting at zero
        uint256 n;
        for (uint256 i = offset; i < next; ++i) {
            IMarginRiskEngine.Health memory h = riskEngine.health(accounts[i]);
            if (h.liquidationPricesOk && h.equity < int256(h.maintenanceMargin)) {
                tmp[n] = accounts[i];
                gap[n++] = uint256(int256(h.maintenanceMargin) - h.equity);
            }
        }
        found = new address[](n);
        shortfall = new uint256[](n);
        for (uint256 i; i < n; ++i) (found[i], shortfall[i]) = (tmp[i], gap[i]);
        oracle.clearPriceCache();
    }

    /// @notice Only the liquidatable accounts among `accounts`.
    function liquidatable(address[] calldata accounts) external view returns (address[] memory found) {
        address[] memory tmp = new address[](accounts.length);
        // slither-disable-next-line uninitialized-local a counter that starts at zero
        uint256 n;
        for (uint256 i; i < accounts.length; ++i) {
            IMarginRiskEngine.Health memory h = riskEngine.health(accounts[i]);
            if (h.liquidationPricesOk && h.equity < int256(h.maintenanceMargin)) tmp[n++] = accounts[i];
        }
        found = new address[](n);
        for (uint256 i; i < n; ++i) found[i] = tmp[i];
    }
}
