// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {MarginMath} from "./MarginMath.sol";

/// @title PerpMarketBase
/// @notice Errors, events, storage, parameters and views of a PerpMarket (the trading logic lives
/// in PerpMarket).
abstract contract PerpMarketBase is IPerpMarket, AccessControl {
    // ---------------------------------------------------------------- errors
    /// @dev A trade of size 0.
    error MarketSizeDeltaZero();
    /// @dev A risk-increasing trade would take one side's open interest past the cap.
    error MarketOpenInterestCapExceeded(uint256 openInterest, uint256 cap);
    /// @dev After a risk-increasing trade the trader's equity is below its initial margin.
    error MarketAccountBelowInitialMargin(address account);
    /// @dev A risk-increasing trade would take the larger side's open interest notional past
    /// `maxOiToVault` x the counterparty pool's (LP vault's) equity (GMX v2 reserve factor).
    error MarketOpenInterestExceedsVaultCap(uint256 notional, uint256 cap);
    /// @dev A trade that grows |skew| would leave the counterparty pool below its initial margin.
    error MarketPoolBelowInitialMargin(address pool);
    /// @dev The counterparty pool account cannot trade in its own market.
    error MarketPoolCannotTrade(address pool);
    /// @dev A liquidation close of 0 or of more than the position.
    error MarketCloseSizeInvalid(address account, int256 size, uint256 closeSize);
    /// @dev The oracle has no usable price at all (Invalid), not even for reducing.
    error MarketPriceUnavailable(uint32 feedId);
    /// @dev Governance parameters out of their bounds (see `_setParams`).
    error MarketParamsInvalid();
    /// @dev A zero address for the ledger, oracle, risk engine or pool.
    error MarketConfigZeroAddress();

    // ---------------------------------------------------------------- events
    /// @dev A position changed (trade or liquidation); the keeper follows accounts through it.
    event PositionModified(
        address indexed account, int256 sizeDelta, int256 newSize, uint256 price, int256 realizedPnl, uint256 fee
    );
    /// @dev The liquidation module closed part or all of a position.
    event PositionLiquidated(address indexed account, int256 sizeDelta, uint256 price);
    /// @dev The funding index moved.
    event FundingAccrued(int256 fundingIndex, int256 ratePerDay, uint256 price);
    /// @dev New market parameters.
    event ParamsSet(Params params);

    // ---------------------------------------------------------------- types & storage
    /// @dev Governance parameters; fractions and rates are 1e18-scaled.
    struct Params {
        uint256 takerFee; // fee per unit of traded notional
        uint256 imfBase; // initial margin fraction of a tiny position (1 / max leverage)
        uint256 imfSlope; // extra initial margin fraction per 1e18 base units of |size|
        uint256 mmRatio; // maintenance margin = initial margin x mmRatio
        uint256 maxFundingRate; // per day, reached when |skew| >= skewScale
        uint256 skewScale; // base units
        uint256 maxOpenInterest; // per side, base units
        uint256 maxOiToVault; // per side: open interest notional <= maxOiToVault x the pool's equity (1e18)
    }

    /// @dev How `Params` is stored: three slots, grouped by reader. A health check reads the
    /// first two (margin fractions and funding: imfBase, mmRatio, maxFundingRate, imfSlope,
    /// skewScale), a fill the first and the third. The 1e18 fractions are bounded by `_setParams`
    /// to at most 1e18 (< 2^64); the other four to at most type(uint128).max (open interest is a
    /// uint128 already).
    struct StoredParams {
        uint64 takerFee;
        uint64 imfBase;
        uint64 mmRatio;
        uint64 maxFundingRate;
        uint128 imfSlope;
        uint128 skewScale;
        uint128 maxOpenInterest;
        uint128 maxOiToVault;
    }

    /// @dev One account's position: size and the price / funding index it was last settled at.
    /// Size and price share one slot (a health check reads two slots, an open writes two).
    struct Position {
        int128 size;
        uint128 lastPrice;
        int256 lastFunding;
    }

    /// @dev Held by the liquidation module and the auto-deleverager: may close positions
    /// (`liquidationClose`) and cancel pending orders (`cancelOrderForLiquidation`).
    bytes32 public constant LIQUIDATOR_ROLE = keccak256("LIQUIDATOR_ROLE");
    /// @dev Upper bound of the taker fee (10 %).
    uint256 internal constant MAX_TAKER_FEE = 0.1e18;
    /// @dev Upper bound of the maximum funding rate per day (100 %).
    uint256 internal constant MAX_FUNDING_RATE = 1e18;

    /// @inheritdoc IPerpMarket
    address public immutable pool;
    /// @inheritdoc IPerpMarket
    uint32 public immutable feedId;
    /// @dev The hub ledger (USD settlement).
    ILedgerHooks public immutable ledger;
    /// @dev Price source.
    IPriceOracle public immutable oracle;
    /// @dev Cross-margin checks.
    IMarginRiskEngine public immutable riskEngine;

    /// @dev Current parameters (read them with `params()`).
    StoredParams internal _params;
    /// @dev Positions by account.
    mapping(address => Position) public positions;
    /// @dev Sum of long sizes (one slot with the short side: the skew is one read).
    uint128 public longOpenInterest;
    /// @dev Sum of |short sizes|.
    uint128 public shortOpenInterest;
    /// @dev Cumulative funding per base unit (1e18 USD); longs pay its increase. One slot with
    /// `lastFundingTime` (an accrual is one write).
    int192 public fundingIndex;
    /// @dev Time the index was last accrued.
    uint64 public lastFundingTime;
    /// @dev Sum over positions of size x lastPrice (for the pool's aggregate PnL).
    int256 public sumSizePrice;
    /// @dev Sum over positions of size x lastFunding (for the pool's aggregate PnL).
    int256 public sumSizeFunding;

    constructor(ILedgerHooks ledger_, IPriceOracle oracle_, IMarginRiskEngine riskEngine_, uint32 feedId_, address pool_) {
        if (address(ledger_) == address(0) || address(oracle_) == address(0) || address(riskEngine_) == address(0)
                || pool_ == address(0)) revert MarketConfigZeroAddress();
        ledger = ledger_;
        oracle = oracle_;
        riskEngine = riskEngine_;
        feedId = feedId_;
        pool = pool_;
    }

    // ---------------------------------------------------------------- views
    /// @inheritdoc IPerpMarket
    function marginState(address account) external view returns (MarginState memory s) {
        // slither-disable-next-line unused-return the status carries freshness, not updatedAt
        (uint256 price,, IPriceOracle.PriceStatus status) = oracle.getPrice(feedId);
        s.status = status;
        bool isPool = account == pool;
        Position storage pos = positions[account];
        // size and price share a slot; lastFunding (the other) is read only for an open position
        // slither-disable-start uninitialized-local the pool has no Position entry: both stay zero
        int256 size;
        uint256 lastPrice;
        // slither-disable-end uninitialized-local
        if (!isPool) (size, lastPrice) = (pos.size, pos.lastPrice);
        // Policy: a position is ALWAYS counted. The oracle returns the last good price whatever
        // the status; a feed that never had one falls back to the price the position was last
        // settled at (the pool: its size alone, valued at 0).
        if (price == 0) {
            s.status = IPriceOracle.PriceStatus.Invalid;
            if (isPool) {
                s.size = -_skew();
                return s;
            }
            price = lastPrice;
            // slither-disable-next-line incorrect-equality 0 is lastPrice's never-priced sentinel, not a balance
            if (price == 0) return s;
        }
        s.price = price;
        // No position: nothing to value (funding and parameters are not read: a health check of
        // an account that holds few of the markets stays cheap).
        if (!isPool && size == 0) return s;
        // saturating: some RPC nodes evaluate eth_call with a timestamp below the latest block's
        uint256 elapsed = block.timestamp > lastFundingTime ? block.timestamp - lastFundingTime : 0;
        int256 funding = fundingIndex + MarginMath.fundingDelta(currentFundingRate(), price, elapsed);
        if (isPool) {
            // The pool holds the other side of every position: size -skew and minus the traders'
            // aggregate PnL (sum of size x (price - lastPrice) - size x (funding - lastFunding)).
            int256 skew = _skew();
            s.size = -skew;
            int256 tradersPnl = MarginMath.divFloor(
                skew * int256(price) - sumSizePrice - (skew * funding - sumSizeFunding), int256(MarginMath.ONE)
            );
            s.pnl = -tradersPnl;
        } else {
            s.size = size;
            s.pnl = MarginMath.pnl(size, price, lastPrice, funding, pos.lastFunding);
        }
        // only the three margin parameters are read (not the whole struct)
        StoredParams storage p = _params;
        (s.initialMargin, s.maintenanceMargin) = MarginMath.margins(s.size, price, p.imfBase, p.imfSlope, p.mmRatio);
    }

    /// @notice The current market parameters (fields of `Params`, in its order).
    function params()
        external
        view
        returns (
            uint256 takerFee,
            uint256 imfBase,
            uint256 imfSlope,
            uint256 mmRatio,
            uint256 maxFundingRate,
            uint256 skewScale,
            uint256 maxOpenInterest,
            uint256 maxOiToVault
        )
    {
        StoredParams storage p = _params;
        return (p.takerFee, p.imfBase, p.imfSlope, p.mmRatio, p.maxFundingRate, p.skewScale, p.maxOpenInterest,
            p.maxOiToVault);
    }

    /// @notice Funding rate per day (1e18) at the current skew; positive: longs pay shorts.
    function currentFundingRate() public view returns (int256) {
        return MarginMath.fundingRate(_skew(), _params.skewScale, _params.maxFundingRate);
    }

    /// @inheritdoc IPerpMarket
    function baseMaintenanceFraction() external view returns (uint256) {
        return Math.mulDiv(_params.imfBase, _params.mmRatio, MarginMath.ONE);
    }

    /// @notice Long minus short open interest (base units).
    function skew() external view returns (int256) {
        return _skew();
    }

    // ---------------------------------------------------------------- internal
    /// @dev Long minus short open interest.
    function _skew() internal view returns (int256) {
        return int256(uint256(longOpenInterest)) - int256(uint256(shortOpenInterest));
    }

    /// @dev x * rate / 1e18 rounded up.
    function _mulCeil(uint256 x, uint256 rate) internal pure returns (uint256) {
        return Math.mulDiv(x, rate, MarginMath.ONE, Math.Rounding.Ceil);
    }

    /// @dev Validates and stores parameters: fee <= 10 %, 0 < imfBase <= 1, 0 < mmRatio < 1,
    /// funding rate <= 100 %/day, skewScale > 0, maxOpenInterest > 0, maxOiToVault > 0, and
    /// imfSlope, skewScale, maxOpenInterest, maxOiToVault at most type(uint128).max.
    function _setParams(Params memory p) internal {
        if (p.takerFee > MAX_TAKER_FEE || p.imfBase == 0 || p.imfBase > MarginMath.ONE || p.mmRatio == 0
                || p.mmRatio >= MarginMath.ONE || p.maxFundingRate > MAX_FUNDING_RATE || p.skewScale == 0
                || p.maxOpenInterest == 0 || p.maxOiToVault == 0) revert MarketParamsInvalid();
        uint256 wide = p.imfSlope | p.skewScale | p.maxOpenInterest | p.maxOiToVault;
        if (wide > type(uint128).max) revert MarketParamsInvalid();
        // the fractions are <= 1e18 < 2^64 (checked above), the rest < 2^128: the casts are exact
        _params = StoredParams(
            uint64(p.takerFee), uint64(p.imfBase), uint64(p.mmRatio), uint64(p.maxFundingRate), uint128(p.imfSlope),
            uint128(p.skewScale), uint128(p.maxOpenInterest), uint128(p.maxOiToVault)
        );
        emit ParamsSet(p);
    }
}
