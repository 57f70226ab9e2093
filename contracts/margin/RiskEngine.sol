// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IRiskEngine} from "../interfaces/IRiskEngine.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title RiskEngine
/// @notice Cross-margin health of a ledger account over every listed asset and every registered
/// market: equity = sum(balance x price x weight) + USD balance + sum(unrealized PnL net of
/// funding); IM and MM are summed over markets. The ledger asks it before every withdrawal
/// (IRiskEngine), the markets before every risk-increasing trade, the liquidation module before
/// every liquidation.
/// @dev A collateral asset's price is the oracle feed whose id equals its ledger asset id. An asset
/// without a feed (or with weight 0) is valued at 0: conservative, never blocking.
contract RiskEngine is IMarginRiskEngine, AccessControl {
    /// @dev A zero address for the ledger or the oracle.
    error RiskEngineConfigZeroAddress();
    /// @dev The market is the zero address or already registered.
    error RiskEngineMarketInvalid(address market);
    /// @dev The market is not registered.
    error RiskEngineMarketUnknown(address market);
    /// @dev Registering would exceed MAX_MARKETS.
    error RiskEngineTooManyMarkets(uint256 max);

    /// @dev A market joined the cross-margin set.
    event MarketAdded(address indexed market);
    /// @dev A market left the cross-margin set.
    event MarketRemoved(address indexed market);

    /// @dev Bounds the per-account loop (gas of every health check).
    uint256 public constant MAX_MARKETS = 16;
    /// @dev Basis-point denominator of collateral weights.
    uint256 internal constant BPS = 10_000;
    /// @dev Share of the last good price a Stale or Invalid collateral price is valued at.
    uint256 public constant DOUBTFUL_BPS = 5_000;

    /// @dev The hub ledger.
    ILedgerHooks public immutable ledger;
    /// @dev Price source of collateral assets.
    IPriceOracle public immutable oracle;
    /// @dev Registered markets.
    IPerpMarket[] internal _markets;
    /// @dev Registration flag per market.
    mapping(address => bool) public isMarket;
    /// @dev Feed id of `_markets[i]` (same order).
    uint32[] internal _marketFeeds;

    constructor(address admin, ILedgerHooks ledger_, IPriceOracle oracle_) {
        if (address(ledger_) == address(0) || address(oracle_) == address(0)) revert RiskEngineConfigZeroAddress();
        ledger = ledger_;
        oracle = oracle_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    /// @notice Adds a market to the cross-margin set (GOVERNOR_ROLE). The market also needs the
    /// ledger's MARGIN_ROLE; the ledger itself needs no change per market.
    function addMarket(IPerpMarket market) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (address(market) == address(0) || isMarket[address(market)]) revert RiskEngineMarketInvalid(address(market));
        if (_markets.length >= MAX_MARKETS) revert RiskEngineTooManyMarkets(MAX_MARKETS);
        _markets.push(market);
        _marketFeeds.push(market.feedId());
        isMarket[address(market)] = true;
        emit MarketAdded(address(market));
    }

    /// @notice Removes a market (GOVERNOR_ROLE). WARNING: positions in it stop counting toward
    /// equity and margin; only remove a market whose open interest is zero.
    function removeMarket(IPerpMarket market) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (!isMarket[address(market)]) revert RiskEngineMarketUnknown(address(market));
        uint256 n = _markets.length;
        for (uint256 i; i < n; ++i) {
            if (_markets[i] == market) {
                _markets[i] = _markets[n - 1];
                _markets.pop();
                _marketFeeds[i] = _marketFeeds[n - 1];
                _marketFeeds.pop();
                break;
            }
        }
        isMarket[address(market)] = false;
        emit MarketRemoved(address(market));
    }

    /// @inheritdoc IMarginRiskEngine
    /// @dev Oracle-failure policy (docs/margin.md): every position is counted whatever its price
    /// status (the market values it at the last good price); any non-Ok price held clears
    /// `pricesOk` (withdrawals and risk-increasing trades wait); Stale or Invalid collateral is
    /// valued at its last good price x DOUBTFUL_BPS; only a non-Ok MARKET held or a down
    /// sequencer clears `liquidationPricesOk`, so a collateral feed never freezes liquidation.
    function health(address account) public view returns (Health memory h) {
        h.pricesOk = true;
        h.liquidationPricesOk = oracle.sequencerOk();
        uint32[] memory ids = ledger.listedAssets();
        for (uint256 i; i < ids.length; ++i) {
            uint256 bal = ledger.balanceOf(account, ids[i]);
            if (bal == 0) continue;
            (uint8 dec, uint16 weightBps) = ledger.collateralOf(ids[i]);
            if (weightBps == 0) continue;
            (uint256 price, IPriceOracle.PriceStatus status) = collateralPrice(ids[i]);
            if (status != IPriceOracle.PriceStatus.Ok) h.pricesOk = false;
            // floor: collateral is never over-valued
            h.collateralValue += Math.mulDiv(bal, price * weightBps, 10 ** dec * BPS);
        }
        h.equity = ledger.usdBalanceOf(account) + int256(h.collateralValue);
        uint256 n = _markets.length;
        for (uint256 i; i < n; ++i) {
            IPerpMarket.MarginState memory s = _markets[i].marginState(account);
            if (s.size == 0 && s.pnl == 0) continue;
            if (s.status != IPriceOracle.PriceStatus.Ok) {
                h.pricesOk = false;
                if (s.size != 0) h.liquidationPricesOk = false;
            }
            if (s.size != 0) h.hasPositions = true;
            h.equity += s.pnl;
            h.initialMargin += s.initialMargin;
            h.maintenanceMargin += s.maintenanceMargin;
        }
    }

    /// @inheritdoc IRiskEngine
    function meetsInitialMargin(address account) external view returns (bool) {
        Health memory h = health(account);
        if (!h.hasPositions && ledger.usdBalanceOf(account) >= 0) return true;
        return h.pricesOk && h.equity >= int256(h.initialMargin);
    }

    /// @inheritdoc IRiskEngine
    function isLiquidatable(address account) external view returns (bool) {
        Health memory h = health(account);
        return h.liquidationPricesOk && h.equity < int256(h.maintenanceMargin);
    }

    /// @inheritdoc IMarginRiskEngine
    function collateralPrice(uint32 assetId) public view returns (uint256 price, IPriceOracle.PriceStatus status) {
        // slither-disable-next-line unused-return updatedAt is not needed: the status says whether the price is fresh
        try oracle.getPrice(assetId) returns (uint256 p, uint64, IPriceOracle.PriceStatus s) {
            if (s == IPriceOracle.PriceStatus.Stale || s == IPriceOracle.PriceStatus.Invalid) {
                p = p * DOUBTFUL_BPS / BPS; // floor: doubtful collateral is never over-valued
            }
            return (p, s);
        } catch {
            return (0, IPriceOracle.PriceStatus.Ok); // no feed: worth 0, never blocking
        }
    }

    /// @inheritdoc IMarginRiskEngine
    function markets() external view returns (IPerpMarket[] memory) {
        return _markets;
    }

    /// @inheritdoc IMarginRiskEngine
    function priceFeeds() external view returns (uint32[] memory feeds) {
        uint32[] memory assets = ledger.listedAssets();
        uint256 n = _marketFeeds.length;
        feeds = new uint32[](assets.length + n);
        for (uint256 i; i < assets.length; ++i) feeds[i] = assets[i];
        for (uint256 i; i < n; ++i) feeds[assets.length + i] = _marketFeeds[i];
    }
}
