// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";

/// @notice The vault views auto-deleveraging depends on.
interface IDeleverageVault {
    /// @notice Whether the vault is below its maintenance margin or over its max-PnL factor.
    function needsDeleverage() external view returns (bool);
}

/// @title AutoDeleverager
/// @notice Auto-deleveraging (ADL) of profitable positions against the LP vault, the last line
/// before the vault could go negative (Hyperliquid HLP / dYdX v4 deleveraging, GMX v2 ADL).
/// While the vault `needsDeleverage()` (equity below its maintenance margin, or traders' open
/// profit over the max-PnL factor), anyone may close part of a position that is IN PROFIT at
/// the oracle price, without fee: the trader keeps the realised profit (it settles in USDC like
/// any other), the vault's exposure and the traders' unrealised claim on it shrink.
/// @dev Keepers pick the targets highest first by unrealised PnL x leverage (dYdX v4's ranking,
/// mirrored in relayer/margin); the contract enforces that the vault needs it, that the target is
/// in profit and that the market's counterparty is the vault. Needs the LIQUIDATOR_ROLE of every
/// market (its `liquidationClose` and `cancelOrderForLiquidation`).
contract AutoDeleverager is ReentrancyGuardTransient {
    /// @dev The vault is healthy: no deleveraging.
    error AdlNotNeeded();
    /// @dev The market is not registered or its counterparty is not the vault.
    error AdlMarketInvalid(address market);
    /// @dev The target position is not in profit (only winners are deleveraged).
    error AdlPositionNotProfitable(address account, int256 pnl);

    /// @dev `closeSize` of `account`'s position in `market` was deleveraged while its PnL was `pnl`.
    event Deleveraged(address indexed account, address indexed market, address indexed keeper, uint256 closeSize,
        int256 pnl, uint256 closedNotional);

    /// @dev Market registry.
    IMarginRiskEngine public immutable riskEngine;
    /// @dev The LP vault (the markets' counterparty).
    IDeleverageVault public immutable vault;

    constructor(IMarginRiskEngine engine_, IDeleverageVault vault_) {
        riskEngine = engine_;
        vault = vault_;
    }

    /// @notice Closes `closeSize` (capped at the position) of `account`'s profitable position in
    /// `market` while the vault needs deleveraging.
    function deleverage(IPerpMarket market, address account, uint256 closeSize)
        external
        nonReentrant
        returns (uint256 closedNotional)
    {
        if (!_registered(market) || market.pool() != address(vault)) revert AdlMarketInvalid(address(market));
        if (!vault.needsDeleverage()) revert AdlNotNeeded();
        IPerpMarket.MarginState memory s = market.marginState(account);
        if (s.size == 0 || s.pnl <= 0) revert AdlPositionNotProfitable(account, s.pnl);
        uint256 size = SignedMath.abs(s.size);
        if (closeSize > size || closeSize == 0) closeSize = size;
        market.cancelOrderForLiquidation(account); // an order sized on the old position is void
        closedNotional = market.liquidationClose(account, closeSize);
        emit Deleveraged(account, address(market), msg.sender, closeSize, s.pnl, closedNotional);
    }

    /// @dev Whether `market` is in the risk engine's cross-margin set.
    function _registered(IPerpMarket market) internal view returns (bool) {
        IPerpMarket[] memory ms = riskEngine.markets();
        for (uint256 i; i < ms.length; ++i) {
            if (ms[i] == market) return true;
        }
        return false;
    }
}
