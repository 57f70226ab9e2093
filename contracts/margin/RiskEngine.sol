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
/// Positions are indexed per account (issue 10): each market gets a permanent id when first
/// registered, and reports (`notePosition`) when an account's position opens (size 0 -> non-zero)
/// or closes; `health` walks only the account's held markets (a bitmap, one slot per account),
/// so a check costs in proportion to the markets HELD, not listed. A market's pool holds the
/// other side of every position: its bit is set when the market is registered.
contract RiskEngine is IMarginRiskEngine, AccessControl {
    /// @dev A zero address for the ledger or the oracle.
    error RiskEngineConfigZeroAddress();
    /// @dev The market is the zero address or already registered.
    error RiskEngineMarketInvalid(address market);
    /// @dev The market is not registered.
    error RiskEngineMarketUnknown(address market);
    /// @dev Registering would exceed MAX_MARKETS (or MAX_MARKET_IDS markets ever registered).
    error RiskEngineTooManyMarkets(uint256 max);

    /// @dev A market joined the cross-margin set.
    event MarketAdded(address indexed market);
    /// @dev A market left the cross-margin set.
    event MarketRemoved(address indexed market);

    /// @dev Bounds the per-account loop (gas of every health check).
    uint256 public constant MAX_MARKETS = 16;
    /// @dev Markets ever registered (ids are permanent: the held-market bitmap has 256 bits).
    uint256 public constant MAX_MARKET_IDS = 256;
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
    /// @dev Permanent id + 1 of every market ever registered (0: never registered).
    mapping(address market => uint256) internal _idPlusOne;
    /// @dev The market registered under an id now (zero once removed; back when re-added).
    mapping(uint256 id => IPerpMarket) internal _byId;
    /// @dev Ids handed out so far.
    uint256 internal _nextId;
    /// @dev Per account: bit `id` set while the account holds a position in market `id` (or is
    /// that market's pool).
    mapping(address account => uint256) internal _held;

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
        uint256 id = _idPlusOne[address(market)];
        if (id == 0) {
            if (_nextId >= MAX_MARKET_IDS) revert RiskEngineTooManyMarkets(MAX_MARKET_IDS);
            id = ++_nextId;
            _idPlusOne[address(market)] = id;
        }
        --id;
        _byId[id] = market;
        _held[market.pool()] |= 1 << id;
        _markets.push(market);
        _marketFeeds.push(market.feedId());
        isMarket[address(market)] = true;
        emit MarketAdded(address(market));
    }

    /// @notice Removes a market (GOVERNOR_ROLE). WARNING: positions in it stop counting toward
    /// equity and margin; only remove a market whose open interest is zero. Its id and the
    /// accounts' bits stay: re-adding it counts its positions again.
    function removeMarket(IPerpMarket market) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (!isMarket[address(market)]) revert RiskEngineMarketUnknown(address(market));
        delete _byId[_idPlusOne[address(market)] - 1];
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
    /// @dev A market never registered may not open positions (it would hide them from a later
    /// registration); closes are always accepted. A removed market keeps reporting (its bits
    /// count again if it is re-added).
    function notePosition(address account, bool open) external {
        uint256 id = _idPlusOne[msg.sender];
        if (id == 0) {
            if (open) revert RiskEngineMarketUnknown(msg.sender);
            return;
        }
        uint256 bit = 1 << (id - 1);
        uint256 held = _held[account];
        uint256 next = open ? held | bit : held & ~bit;
        if (next != held) _held[account] = next;
    }

    /// @inheritdoc IMarginRiskEngine
    function heldMarkets(address account) external view returns (IPerpMarket[] memory held) {
        uint256 bits = _held[account];
        held = new IPerpMarket[](_markets.length);
        // slither-disable-next-line uninitialized-local a counter that starts at zero
        uint256 n;
        for (uint256 id; bits != 0; ++id) {
            if (bits & 1 != 0 && address(_byId[id]) != address(0)) held[n++] = _byId[id];
            bits >>= 1;
        }
        assembly ("memory-safe") {
            mstore(held, n)
        }
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
        // one ledger call: the listed assets of non-zero balance and weight, and the USD balance
        (ILedgerHooks.Collateral[] memory held, int256 usd) = ledger.collateralState(account);
        for (uint256 i; i < held.length; ++i) {
            ILedgerHooks.Collateral memory c = held[i];
            (uint256 price, IPriceOracle.PriceStatus status) = collateralPrice(c.assetId);
            if (status != IPriceOracle.PriceStatus.Ok) h.pricesOk = false;
            // floor: collateral is never over-valued
            h.collateralValue += Math.mulDiv(c.balance, price * c.weightBps, 10 ** c.decimals * BPS);
        }
        h.equity = usd + int256(h.collateralValue);
        uint256 bits = _held[account];
        for (uint256 id; bits != 0; ++id) {
            bool heldHere = bits & 1 != 0;
            bits >>= 1;
            if (!heldHere) continue;
            IPerpMarket market = _byId[id];
            if (address(market) == address(0)) continue; // removed: its positions do not count
            IPerpMarket.MarginState memory s = market.marginState(account);
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

    /// @inheritdoc IMarginRiskEngine
    function priceFeedsOf(address account) external view returns (uint32[] memory feeds) {
        uint32[] memory assets = ledger.listedAssets();
        feeds = new uint32[](assets.length + _markets.length);
        uint256 n = assets.length;
        for (uint256 i; i < n; ++i) feeds[i] = assets[i];
        uint256 bits = _held[account];
        for (uint256 id; bits != 0; ++id) {
            if (bits & 1 != 0 && address(_byId[id]) != address(0)) feeds[n++] = _byId[id].feedId();
            bits >>= 1;
        }
        assembly ("memory-safe") {
            mstore(feeds, n)
        }
    }
}
