// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {Roles} from "../libraries/Roles.sol";
import {MarginMath} from "./MarginMath.sol";
import {PerpMarketBase} from "./PerpMarketBase.sol";
import {PerpOrders} from "./PerpOrders.sol";

/// @title PerpMarket
/// @notice One oracle-priced perpetual futures market (deploy one per underlying). Traders change
/// positions only through delayed orders (PerpOrders: commit now, settle at the first price
/// published after the minimum delay); liquidations close at the current Ok oracle price. Every
/// fill pays a taker fee; funding accrues continuously from the skew; all PnL, fees and funding
/// settle as USD between the trader and the market's counterparty `pool` account on the ledger
/// (`transferUsd`), so the books are zero-sum by construction.
/// @dev The market needs MARGIN_ROLE on the ledger and must be added to the RiskEngine; nothing
/// else in the ledger changes per market. Oracle-failure policy: docs/margin.md.
contract PerpMarket is PerpOrders {
    using SafeCast for uint256;
    using SafeCast for int256;

    constructor(
        address admin,
        ILedgerHooks ledger_,
        IPriceOracle oracle_,
        IMarginRiskEngine riskEngine_,
        uint32 feedId_,
        address pool_,
        Params memory params_
    ) PerpMarketBase(ledger_, oracle_, riskEngine_, feedId_, pool_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
        _setParams(params_);
        _setOrderConfig(OrderConfig({minDelay: 2, maxDelay: 600, settlementReward: 0.5e18}));
        lastFundingTime = uint64(block.timestamp);
    }

    // ---------------------------------------------------------------- trading
    /// @dev Fills a settled order (PerpOrders): risk-increasing fills must respect both open
    /// interest caps, the trader's initial margin (which needs every price it holds Ok) and, when
    /// the larger side's open interest grows, the pool checks of `_checkPool`; reducing fills only
    /// settle.
    function _fill(address account, int256 sizeDelta, uint256 price, bool increases) internal override {
        int256 oldSkew = _skew();
        uint256 oldSide = Math.max(longOpenInterest, shortOpenInterest);
        _trade(account, sizeDelta, price, _params.takerFee);
        if (increases) {
            StoredParams storage p = _params;
            if (longOpenInterest > p.maxOpenInterest) revert MarketOpenInterestCapExceeded(longOpenInterest, p.maxOpenInterest);
            if (shortOpenInterest > p.maxOpenInterest) revert MarketOpenInterestCapExceeded(shortOpenInterest, p.maxOpenInterest);
            if (!riskEngine.meetsInitialMargin(account)) revert MarketAccountBelowInitialMargin(account);
            bool skewGrew = SignedMath.abs(_skew()) > SignedMath.abs(oldSkew);
            uint256 side = Math.max(longOpenInterest, shortOpenInterest);
            // one pool walk serves both checks (|skew| grows with the larger side except in a flip)
            if (skewGrew || side > oldSide) {
                _checkPool(skewGrew, side > oldSide ? Math.mulDiv(side, price, MarginMath.ONE) : 0, p.maxOiToVault);
            }
        }
    }

    /// @dev One health walk of the pool (LP vault): when |skew| grew it must stay at or above its
    /// initial margin, and a grown larger side's open interest notional (0 when it did not grow)
    /// must stay within `maxOiToVault` x its equity (GMX v2 reserve factor; docs/margin.md "LP vault").
    function _checkPool(bool skewGrew, uint256 notional, uint256 maxOiToVault) internal view {
        IMarginRiskEngine.Health memory h = riskEngine.health(pool);
        if (skewGrew && !(h.pricesOk && h.equity >= int256(h.initialMargin))) revert MarketPoolBelowInitialMargin(pool);
        uint256 cap = h.equity > 0 ? Math.mulDiv(uint256(h.equity), maxOiToVault, MarginMath.ONE) : 0;
        if (notional > cap) revert MarketOpenInterestExceedsVaultCap(notional, cap);
    }

    /// @inheritdoc IPerpMarket
    function liquidationClose(address account, uint256 closeSize)
        external
        nonReentrant
        onlyRole(LIQUIDATOR_ROLE)
        returns (uint256 closedNotional)
    {
        int256 size = positions[account].size;
        if (closeSize == 0 || closeSize > SignedMath.abs(size)) revert MarketCloseSizeInvalid(account, size, closeSize);
        (closedNotional,) = _liquidationClose(account, size, closeSize);
    }

    /// @inheritdoc IPerpMarket
    /// @dev The released margin is computed at the close price, which is the price the risk
    /// engine values the position at (the close needs it Ok), so it equals the drop of
    /// `marginState(account).maintenanceMargin` across the close.
    /// Nothing to close returns before the role check, as a module may hold the role on the
    /// markets it closes in only.
    function liquidationCloseFraction(address account, uint256 fraction)
        external
        nonReentrant
        returns (uint256 closedNotional, uint256 releasedMaintenance)
    {
        int256 size = positions[account].size;
        if (size == 0) return (0, 0);
        uint256 closeSize = Math.mulDiv(SignedMath.abs(size), fraction, MarginMath.ONE);
        if (closeSize == 0) return (0, 0);
        _checkRole(LIQUIDATOR_ROLE);
        uint256 price;
        (closedNotional, price) = _liquidationClose(account, size, closeSize);
        StoredParams storage p = _params;
        int256 newSize = positions[account].size;
        // slither-disable-next-line unused-return only the maintenance margin is needed
        (, uint256 mmBefore) = MarginMath.margins(size, price, p.imfBase, p.imfSlope, p.mmRatio);
        // slither-disable-next-line unused-return only the maintenance margin is needed
        (, uint256 mmAfter) = MarginMath.margins(newSize, price, p.imfBase, p.imfSlope, p.mmRatio);
        releasedMaintenance = mmBefore - mmAfter;
    }

    /// @notice Accrues funding up to now (anyone; also done by every trade).
    function accrueFunding() external {
        _accrueFunding(_anyPrice());
    }

    // ---------------------------------------------------------------- governance
    /// @notice Replaces the market parameters (GOVERNOR_ROLE); funding accrues first at the old rate.
    function setParams(Params calldata params_) external onlyRole(Roles.GOVERNOR_ROLE) {
        // slither-disable-next-line unused-return settle funding at the last price, fresh or not
        (uint256 price,,) = oracle.getPrice(feedId);
        if (price != 0) _accrueFunding(price);
        _setParams(params_);
    }

    // ---------------------------------------------------------------- internal
    /// @dev Settles the position's PnL and funding at `price`, applies `sizeDelta`, charges
    /// `feeRate`, then moves the net USD between account and pool (effects before interactions).
    function _trade(address account, int256 sizeDelta, uint256 price, uint256 feeRate) internal {
        _accrueFunding(price);
        Position storage pos = positions[account];
        int256 oldSize = pos.size;
        int256 funding = fundingIndex;
        int256 realized = MarginMath.pnl(oldSize, price, pos.lastPrice, funding, pos.lastFunding);
        int256 newSize = oldSize + sizeDelta;
        _updateOpenInterest(oldSize, newSize);
        sumSizePrice += newSize * int256(price) - oldSize * int256(uint256(pos.lastPrice));
        sumSizeFunding += newSize * funding - oldSize * pos.lastFunding;
        (pos.size, pos.lastPrice, pos.lastFunding) = (newSize.toInt128(), price.toUint128(), funding);
        // slither-disable-next-line incorrect-equality signed sizes: 0 means no position
        if ((oldSize == 0) != (newSize == 0)) riskEngine.notePosition(account, newSize != 0);
        uint256 fee = feeRate == 0 ? 0 : _mulCeil(MarginMath.notional(sizeDelta, price), feeRate);
        emit PositionModified(account, sizeDelta, newSize, price, realized, fee);
        _settle(account, realized - fee.toInt256());
    }

    /// @dev Closes `closeSize` of a position of `size` at the fresh oracle price, no fee.
    function _liquidationClose(address account, int256 size, uint256 closeSize)
        internal
        returns (uint256 closedNotional, uint256 price)
    {
        int256 delta = size > 0 ? -closeSize.toInt256() : closeSize.toInt256();
        price = oracle.freshPrice(feedId);
        _trade(account, delta, price, 0);
        emit PositionLiquidated(account, delta, price);
        closedNotional = MarginMath.notional(delta, price);
    }

    /// @dev Moves `amount` USD from the pool to `account` (or back when negative).
    function _settle(address account, int256 amount) internal {
        if (amount > 0) ledger.transferUsd(pool, account, uint256(amount));
        else if (amount < 0) ledger.transferUsd(account, pool, uint256(-amount));
    }

    /// @dev Brings the funding index to now at the current skew's rate.
    function _accrueFunding(uint256 price) internal {
        if (block.timestamp <= lastFundingTime) return;
        uint256 elapsed = block.timestamp - lastFundingTime;
        int256 rate = currentFundingRate();
        int256 index = fundingIndex + MarginMath.fundingDelta(rate, price, elapsed);
        (fundingIndex, lastFundingTime) = (index.toInt192(), uint64(block.timestamp));
        emit FundingAccrued(index, rate, price);
    }

    /// @dev Adjusts the per-side open interest for a size change.
    function _updateOpenInterest(int256 oldSize, int256 newSize) internal {
        uint256 longOi = longOpenInterest;
        uint256 shortOi = shortOpenInterest;
        if (oldSize > 0) longOi -= uint256(oldSize);
        else shortOi -= uint256(-oldSize);
        if (newSize > 0) longOi += uint256(newSize);
        else shortOi += uint256(-newSize);
        (longOpenInterest, shortOpenInterest) = (longOi.toUint128(), shortOi.toUint128());
    }

    /// @dev The latest price whatever its freshness (reduce-only use); reverts when Invalid.
    function _anyPrice() internal view returns (uint256 price) {
        // slither-disable-next-line unused-return any price is intended (reduce-only use); 0 (Invalid) reverts below
        (price,,) = oracle.getPrice(feedId);
        if (price == 0) revert MarketPriceUnavailable(feedId);
    }
}
