// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title LiquidationModule
/// @notice Anyone may liquidate an account whose equity is below its maintenance margin (every
/// market it holds priced Ok, sequencer up; collateral with a Stale / Invalid price is valued and
/// sold at its doubtful value instead of blocking). Waterfall, in order (docs/margin.md):
///  1. positions: close `closeFactor` of every position; if the account is still liquidatable,
///     close everything. The liquidator earns `rewardRate` and the insurance fund `penaltyRate`
///     of the closed notional, both capped by the maintenance margin the close released AND by
///     the equity left after the close (reward first), so a liquidation never lowers
///     `equity - maintenance margin` and never turns positive equity into a deficit;
///  2. collateral: once no position remains and the USD balance is negative, the deficit is
///     first netted against the account's USDC at par (`settlement`), then the liquidator may
///     buy any collateral, weight 0 included (up to `maxRepay` USD), at a discount capped by
///     the asset's haircut;
///  3. insurance: once no weighted collateral remains, the insurance fund first takes every
///     remaining (weight-0) collateral — bought at the discounted oracle price when one is
///     fresh, seized at zero value otherwise — and only then covers the deficit up to its own
///     equity;
///  4. socialisation: the rest is charged to the LP pool (the counterparty that earned the other
///     side) up to its free margin (equity - maintenance margin);
///  5. bad debt: whatever still remains is written off on the ledger (`writeOffBadDebt`).
contract LiquidationModule is AccessControl, ReentrancyGuardTransient {
    // ---------------------------------------------------------------- errors
    /// @dev The account is at or above maintenance margin.
    error LiquidationAccountHealthy(address account, int256 equity, uint256 maintenanceMargin);
    /// @dev A market the account holds is not priced Ok, or the sequencer is down: liquidations wait.
    error LiquidationPricesNotFresh(address account);
    /// @dev The LP pool and the insurance fund are never liquidated.
    error LiquidationAccountProtected(address account);
    /// @dev After buying collateral the liquidator is below its own initial margin.
    error LiquidatorBelowInitialMargin(address liquidator);
    /// @dev Governance parameters out of bounds.
    error LiquidationParamsInvalid();
    /// @dev A zero address in the configuration.
    error LiquidationConfigZeroAddress();

    // ---------------------------------------------------------------- events
    /// @dev Positions were (partly) closed.
    event Liquidated(
        address indexed account, address indexed liquidator, uint256 closedNotional, uint256 reward, uint256 penalty,
        bool full
    );
    /// @dev Collateral sold to the liquidator at a discount against the account's USD deficit.
    event CollateralSold(
        address indexed account, address indexed liquidator, uint32 indexed assetId, uint256 amount, uint256 repaid
    );
    /// @dev The insurance fund covered part of a deficit.
    event InsuranceUsed(address indexed account, uint256 amount);
    /// @dev The LP pool absorbed part of a deficit (insurance fund empty).
    event LossSocialised(address indexed account, address indexed pool, uint256 amount);
    /// @dev A deficit nobody could cover was written off as ledger bad debt.
    event BadDebtRecorded(address indexed account, uint256 amount);
    /// @dev New parameters.
    event ParamsSet(Params params);
    /// @dev New settlement contract (zero: no USDC netting before collateral sales).
    event SettlementSet(address indexed settlement);
    /// @dev Collateral without a usable price taken by the insurance fund at zero value.
    event CollateralSeized(address indexed account, address indexed insurance, uint32 indexed assetId, uint256 amount);

    // ---------------------------------------------------------------- storage
    /// @dev 1e18-scaled parameters.
    struct Params {
        uint256 closeFactor; // share of each position closed by a partial liquidation, (0, 1]
        uint256 rewardRate; // liquidator reward per unit of closed notional
        uint256 penaltyRate; // insurance fund fee per unit of closed notional
        uint256 collateralDiscount; // discount on collateral sold to the liquidator, < 1
    }

    /// @dev How `Params` is stored: one slot (each field is at most 1e18 < 2^64, `_setParams`), so
    /// a liquidation reads its parameters with one cold load instead of four.
    struct StoredParams {
        uint64 closeFactor;
        uint64 rewardRate;
        uint64 penaltyRate;
        uint64 collateralDiscount;
    }

    /// @dev Fixed-point one.
    uint256 internal constant ONE = 1e18;
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @dev Weight-bps to 1e18 fraction.
    uint256 internal constant BPS_TO_WAD = 1e14;

    /// @dev The hub ledger.
    ILedgerHooks public immutable ledger;
    /// @dev Health checks and the market list.
    IMarginRiskEngine public immutable riskEngine;
    /// @dev Collateral prices.
    IPriceOracle public immutable oracle;
    /// @dev The LP pool account (counterparty of every market): protected, absorbs socialised losses.
    address public immutable lpPool;
    /// @dev Current parameters (read them with `params()`).
    StoredParams internal _params;
    /// @dev USD settlement (nets a deficit against the account's USDC); zero = none.
    ISettlement public settlement;

    constructor(address admin, ILedgerHooks ledger_, IMarginRiskEngine engine_, IPriceOracle oracle_, address lpPool_, Params memory p) {
        if (address(ledger_) == address(0) || address(engine_) == address(0) || address(oracle_) == address(0)
                || lpPool_ == address(0)) revert LiquidationConfigZeroAddress();
        ledger = ledger_;
        riskEngine = engine_;
        oracle = oracle_;
        lpPool = lpPool_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
        _setParams(p);
    }

    /// @notice Replaces the parameters (GOVERNOR_ROLE).
    function setParams(Params calldata p) external onlyRole(Roles.GOVERNOR_ROLE) {
        _setParams(p);
    }

    /// @notice Sets the settlement contract used to net a deficit against USDC (GOVERNOR_ROLE).
    function setSettlement(ISettlement settlement_) external onlyRole(Roles.GOVERNOR_ROLE) {
        settlement = settlement_;
        emit SettlementSet(address(settlement_));
    }

    /// @notice Liquidates `account` (see the contract's waterfall). `maxRepay` bounds the USD the
    /// caller spends buying collateral (0: positions only). The caller must stay above its own
    /// initial margin after buying.
    /// @dev Every price the account's health reads is computed once for the whole liquidation
    /// (the oracle's transaction cache: the listed assets and the markets the account holds, so
    /// the cost follows the markets held, not listed).
    function liquidate(address account, uint256 maxRepay) external nonReentrant {
        oracle.cachePrices(riskEngine.priceFeedsOf(account));
        _liquidate(account, maxRepay);
        oracle.clearPriceCache();
    }

    /// @notice The current parameters (fields of `Params`, in its order).
    function params()
        external
        view
        returns (uint256 closeFactor, uint256 rewardRate, uint256 penaltyRate, uint256 collateralDiscount)
    {
        StoredParams memory p = _params;
        return (p.closeFactor, p.rewardRate, p.penaltyRate, p.collateralDiscount);
    }

    // ---------------------------------------------------------------- internal
    /// @dev The waterfall (see the contract's notice). The account's health is computed ONCE:
    /// each close then updates it (see `_closePositions`), so an account is walked once however
    /// many rounds of closing it takes. Pending orders are cancelled before that health is read,
    /// so the escrow they return is in it (a healthy or unpriced account reverts, undoing them).
    function _liquidate(address account, uint256 maxRepay) internal {
        address insurance = ledger.insuranceFund();
        if (account == lpPool || account == insurance) revert LiquidationAccountProtected(account);
        _cancelOrders(riskEngine.markets(), account);
        IMarginRiskEngine.Health memory h = riskEngine.health(account);
        if (!h.liquidationPricesOk) revert LiquidationPricesNotFresh(account);
        if (h.equity >= int256(h.maintenanceMargin)) {
            revert LiquidationAccountHealthy(account, h.equity, h.maintenanceMargin);
        }
        // `h` follows the account: each close updates it for the close and the fees.
        if (h.hasPositions) {
            IPerpMarket[] memory held = riskEngine.heldMarkets(account);
            _closePositions(held, account, insurance, _params.closeFactor, false, h);
            if (h.equity < int256(h.maintenanceMargin)) _closePositions(held, account, insurance, ONE, true, h);
        }
        if (h.hasPositions) return;
        // slither-disable-next-line unused-return the balance is read again on the next line
        if (ledger.usdBalanceOf(account) < 0 && address(settlement) != address(0)) settlement.settle(account);
        if (ledger.usdBalanceOf(account) < 0 && maxRepay > 0) {
            _sellCollateral(account, maxRepay, msg.sender);
            // Equity at policy values (doubtful collateral at its haircut value), not
            // `meetsInitialMargin`: buying Stale / Invalid collateral must not refuse the liquidator.
            IMarginRiskEngine.Health memory lh = riskEngine.health(msg.sender);
            if (!lh.liquidationPricesOk || lh.equity < int256(lh.initialMargin)) {
                revert LiquidatorBelowInitialMargin(msg.sender);
            }
        }
        _coverDeficit(account, insurance);
    }

    // ---------------------------------------------------------------- internal
    /// @dev Cancels the account's pending order in every market (escrow back to the account): an
    /// order committed before a liquidation never fills after it.
    function _cancelOrders(IPerpMarket[] memory ms, address account) internal {
        for (uint256 i; i < ms.length; ++i) {
            ms[i].cancelOrderForLiquidation(account);
        }
    }

    /// @dev Closes `fraction` of every position (`ms`: the markets the account holds); pays reward
    /// and penalty capped by released MM and by the equity left. Updates `h` (the account's health before the close) in place,
    /// without walking the account again: a close settles each closed position's PnL and funding
    /// into the USD balance at the very price and funding index `health` valued it at (the
    /// liquidation's cached price; the close needs it Ok), and leaves the rest of the position
    /// with zero unrealised PnL, so equity is unchanged by the close itself; the maintenance
    /// margin falls by exactly the released sum (the markets compute it at that price); the
    /// fees are USD moved out of the account, so equity then falls by exactly their sum. A close
    /// of `fraction` < 1 always leaves every position open (it rounds down); after a close of 1
    /// only a market's pool exposure can remain (`_holdsAny`). `h.initialMargin` is NOT updated
    /// (nothing after a close reads it).
    function _closePositions(
        IPerpMarket[] memory ms,
        address account,
        address insurance,
        uint256 fraction,
        bool full,
        IMarginRiskEngine.Health memory h
    ) internal {
        (uint256 closed, uint256 reward, uint256 penalty, uint256 releasedSum) = _closeEach(ms, account, fraction);
        h.maintenanceMargin -= releasedSum;
        if (fraction == ONE) h.hasPositions = _holdsAny(ms, account);
        // Cap by the equity the close left: fees never push the account below zero.
        uint256 room = h.equity > 0 ? uint256(h.equity) : 0;
        if (reward > room) reward = room;
        if (reward + penalty > room) penalty = room - reward;
        if (reward > 0) ledger.transferUsd(account, msg.sender, reward);
        if (penalty > 0) ledger.transferUsd(account, insurance, penalty);
        h.equity -= int256(reward + penalty);
        emit Liquidated(account, msg.sender, closed, reward, penalty, full);
    }

    /// @dev Whether `account` still has a non-zero size in one of `ms` (`health`'s hasPositions):
    /// after a full close only a pool's -skew can be left.
    function _holdsAny(IPerpMarket[] memory ms, address account) internal view returns (bool) {
        for (uint256 i; i < ms.length; ++i) {
            if (ms[i].pool() == account && ms[i].marginState(account).size != 0) return true;
        }
        return false;
    }

    /// @dev Closes `fraction` of the account's position in each market; returns the closed
    /// notional, the reward and penalty (each market's capped by the maintenance margin its close
    /// released) and the released maintenance margin, all summed.
    function _closeEach(IPerpMarket[] memory ms, address account, uint256 fraction)
        internal
        returns (uint256 closed, uint256 reward, uint256 penalty, uint256 releasedSum)
    {
        StoredParams memory p = _params;
        for (uint256 i; i < ms.length; ++i) {
            (uint256 notional, uint256 released) = ms[i].liquidationCloseFraction(account, fraction);
            if (notional == 0) continue;
            uint256 r = Math.mulDiv(notional, p.rewardRate, ONE);
            uint256 pen = Math.mulDiv(notional, p.penaltyRate, ONE);
            if (r > released) r = released;
            if (r + pen > released) pen = released - r;
            closed += notional;
            reward += r;
            penalty += pen;
            releasedSum += released;
        }
    }

    /// @dev Sells collateral to `buyer`, asset by asset, until the USD deficit or `budget` is
    /// used up.
    function _sellCollateral(address account, uint256 budget, address buyer) internal {
        uint256 deficit = uint256(-ledger.usdBalanceOf(account));
        uint32[] memory ids = ledger.listedAssets();
        for (uint256 i; i < ids.length && deficit > 0 && budget > 0; ++i) {
            uint256 repaid = _sellAsset(account, ids[i], Math.min(deficit, budget), buyer);
            deficit -= repaid;
            budget -= repaid;
        }
    }

    /// @dev Sells up to `limit` USD of one asset to `buyer` at min(discount, 1 - weight) below
    /// the oracle price (so the sale never lowers the account's equity; a weight-0 asset sells at
    /// the full discount); returns the USD repaid, 0 when the asset has no fresh price.
    function _sellAsset(address account, uint32 assetId, uint256 limit, address buyer) internal returns (uint256 repay) {
        uint256 bal = ledger.balanceOf(account, assetId);
        if (bal == 0) return 0;
        (uint8 dec, uint16 weightBps) = ledger.collateralOf(assetId);
        uint256 salePrice = _salePrice(assetId, weightBps);
        if (salePrice == 0) return 0;
        uint256 maxValue = Math.mulDiv(bal, salePrice, 10 ** dec, Math.Rounding.Ceil);
        repay = Math.min(limit, maxValue);
        uint256 amount = repay == maxValue ? bal : Math.mulDiv(repay, 10 ** dec, salePrice);
        if (amount == 0 || repay == 0) return 0;
        emit CollateralSold(account, buyer, assetId, amount, repay);
        ledger.transferUsd(buyer, account, repay);
        ledger.transferCollateral(account, buyer, assetId, amount);
    }

    /// @dev Policy price (RiskEngine.collateralPrice: a Stale / Invalid collateral at its doubtful
    /// value, never blocking) less min(discount, 1 - weight), rounded up so the buyer always pays
    /// at least amount x price x weight and the account's equity cannot fall even when the
    /// discount equals the haircut; 0 when the asset has no price at all.
    function _salePrice(uint32 assetId, uint16 weightBps) internal view returns (uint256) {
        // slither-disable-next-line unused-return the price already carries the doubtful haircut
        (uint256 price,) = riskEngine.collateralPrice(assetId);
        if (price == 0) return 0;
        uint256 discount = Math.min(_params.collateralDiscount, ONE - uint256(weightBps) * BPS_TO_WAD);
        return Math.mulDiv(price, ONE - discount, ONE, Math.Rounding.Ceil);
    }

    /// @dev Every remaining balance goes to the insurance fund before it pays: bought at the
    /// discounted policy price up to the deficit, the rest of an unpriced asset seized at zero.
    function _insuranceTakesCollateral(address account, address insurance) internal {
        uint32[] memory ids = ledger.listedAssets();
        for (uint256 i; i < ids.length; ++i) {
            int256 usd = ledger.usdBalanceOf(account);
            if (usd >= 0) return;
            _sellAsset(account, ids[i], uint256(-usd), insurance);
            // slither-disable-next-line unused-return only whether the asset has any price matters here
            (uint256 price,) = riskEngine.collateralPrice(ids[i]);
            if (price != 0) continue;
            uint256 left = ledger.balanceOf(account, ids[i]);
            if (left == 0) continue;
            emit CollateralSeized(account, insurance, ids[i], left);
            ledger.transferCollateral(account, insurance, ids[i], left);
        }
    }

    /// @dev Insurance, then LP pool, then write-off, once nothing of value is left to sell.
    function _coverDeficit(address account, address insurance) internal {
        if (ledger.usdBalanceOf(account) >= 0 || riskEngine.health(account).collateralValue != 0) return;
        _insuranceTakesCollateral(account, insurance);
        int256 usd = ledger.usdBalanceOf(account);
        if (usd >= 0) return;
        uint256 deficit = uint256(-usd);
        IMarginRiskEngine.Health memory ins = riskEngine.health(insurance);
        uint256 cover = ins.equity > 0 ? Math.min(deficit, uint256(ins.equity)) : 0;
        if (cover > 0) {
            deficit -= cover;
            emit InsuranceUsed(account, cover);
            ledger.transferUsd(insurance, account, cover);
        }
        if (deficit == 0) return;
        IMarginRiskEngine.Health memory lp = riskEngine.health(lpPool);
        int256 free = lp.equity - int256(lp.maintenanceMargin);
        uint256 socialised = free > 0 ? Math.min(deficit, uint256(free)) : 0;
        if (socialised > 0) {
            deficit -= socialised;
            emit LossSocialised(account, lpPool, socialised);
            ledger.transferUsd(lpPool, account, socialised);
        }
        if (deficit == 0) return;
        uint256 written = ledger.writeOffBadDebt(account);
        emit BadDebtRecorded(account, written);
    }

    /// @dev closeFactor in (0, 1]; discount < 1; reward and penalty each < 1.
    function _setParams(Params memory p) internal {
        if (p.closeFactor == 0 || p.closeFactor > ONE || p.collateralDiscount >= ONE || p.rewardRate >= ONE
                || p.penaltyRate >= ONE) revert LiquidationParamsInvalid();
        // every field is at most 1e18 < 2^64 (checked above): the casts are exact
        _params = StoredParams(
            uint64(p.closeFactor), uint64(p.rewardRate), uint64(p.penaltyRate), uint64(p.collateralDiscount)
        );
        emit ParamsSet(p);
    }
}
