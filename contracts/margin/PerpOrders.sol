// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {Roles} from "../libraries/Roles.sol";
import {PerpMarketBase} from "./PerpMarketBase.sol";

/// @title PerpOrders
/// @notice Delayed (asynchronous) orders, after Synthetix v3's async orders: the only way a trader
/// changes a position. `commitOrder` records the size change, an acceptable price and escrows the
/// keeper reward; after `minDelay` anyone may `settleOrder` at the FIRST oracle round published at
/// or after `commitTime + minDelay` (the round before it must be older), and earns the reward; an
/// order not settled by `commitTime + maxDelay` expires and `cancelExpiredOrder` (anyone) returns
/// the escrow to the trader. The fill price is fixed by the commit time alone, so a trader never
/// chooses it after seeing the next price: no free option against oracle pushes.
/// @dev A guardian can pause opening and increasing (never closing, never liquidation).
abstract contract PerpOrders is PerpMarketBase, ReentrancyGuardTransient {
    // ---------------------------------------------------------------- errors
    /// @dev The account already has a pending order (one at a time).
    error OrderAlreadyPending(address account);
    /// @dev The account has no pending order.
    error OrderNotFound(address account);
    /// @dev The order's settlement window has closed: only `cancelExpiredOrder` remains.
    error OrderExpired(address account, uint64 expiresAt);
    /// @dev The order can still be settled; it cannot be cancelled before it expires.
    error OrderNotExpired(address account, uint64 expiresAt);
    /// @dev The round given is not the first valid round published at or after the order's
    /// settlement time (or lies after its expiry).
    error OrderSettlementPriceInvalid(address account, uint80 roundId, uint64 updatedAt, uint64 settleFrom);
    /// @dev Delays out of bounds (0 < minDelay < maxDelay <= 1 day) or a reward above 1,000 USD.
    error OrderConfigInvalid();
    /// @dev `fillOrder` is the market's internal hop; nobody else may call it.
    error OrderFillNotSelf(address caller);
    /// @dev The guardian paused opening and increasing positions.
    error MarketOpeningPaused();

    // ---------------------------------------------------------------- events
    /// @dev A trader committed an order.
    event OrderCommitted(
        address indexed account, int256 sizeDelta, uint256 acceptablePrice, uint64 settleFrom, uint64 expiresAt,
        uint256 escrow
    );
    /// @dev An order was filled; `keeper` earned `reward`.
    event OrderSettled(
        address indexed account, address indexed keeper, int256 sizeDelta, uint256 price, uint80 roundId,
        uint256 reward
    );
    /// @dev An order ended unfilled; the escrow went to `escrowTo`.
    event OrderCanceled(address indexed account, address indexed caller, CancelReason reason, address escrowTo);
    /// @dev The fill of `account`'s order was refused with the custom error `reason`.
    event OrderFillRefused(address indexed account, bytes reason);
    /// @dev New order delays / reward.
    event OrderConfigSet(OrderConfig config);
    /// @dev The guardian switch changed.
    event OpeningPausedSet(bool paused);

    // ---------------------------------------------------------------- types & storage
    /// @dev Why an order ended unfilled.
    enum CancelReason {
        Expired, // nobody settled it in its window
        PriceLimit, // the settlement price is beyond the trader's acceptable price
        OpeningPaused, // the order increases risk and opening is paused
        FillRefused, // a cap or margin rule refused the fill (OrderFillRefused carries the error)
        Liquidated // the account was liquidated (or deleveraged) after the commit
    }

    /// @dev Governance settings of the order flow.
    struct OrderConfig {
        uint32 minDelay; // seconds after commit before the settlement price may be published
        uint32 maxDelay; // seconds after commit at which the order expires
        uint256 settlementReward; // USD (1e18) escrowed at commit, paid to the settling keeper
    }

    /// @dev One pending order, packed in two storage slots (a commit writes two fresh slots, not
    /// four). `acceptablePrice` is stored capped at type(uint128).max (3.4e20 USD, above any
    /// oracle price, so "no limit" still means no limit); the escrow is bounded by
    /// MAX_SETTLEMENT_REWARD.
    struct Order {
        int128 sizeDelta;
        uint128 acceptablePrice; // a buy fills at or below it, a sell at or above it
        uint128 escrow;
        uint64 settleFrom;
        uint64 expiresAt;
    }

    /// @dev Upper bound of the settlement window.
    uint32 internal constant MAX_ORDER_DELAY = 1 days;
    /// @dev Upper bound of the keeper reward.
    uint256 internal constant MAX_SETTLEMENT_REWARD = 1_000e18;

    /// @dev Pending orders by account (read through `orders`, which widens them back).
    mapping(address => Order) internal _orders;
    /// @notice Current delays and reward.
    OrderConfig public orderConfig;
    /// @notice Guardian switch: opening and increasing positions are refused while set.
    bool public openingPaused;

    // ---------------------------------------------------------------- orders
    /// @notice The pending order of `account` (all zero when none), in the unpacked types: a
    /// capped `acceptablePrice` (type(uint128).max, "no limit") reads as type(uint256).max.
    function orders(address account)
        external
        view
        returns (int256 sizeDelta, uint256 acceptablePrice, uint256 escrow, uint64 settleFrom, uint64 expiresAt)
    {
        Order memory o = _orders[account];
        // slither-disable-next-line incorrect-equality type(uint128).max is the stored "no limit" sentinel, not a balance
        acceptablePrice = o.acceptablePrice == type(uint128).max ? type(uint256).max : o.acceptablePrice;
        return (o.sizeDelta, acceptablePrice, o.escrow, o.settleFrom, o.expiresAt);
    }

    /// @notice Commits an order changing the caller's position by `sizeDelta` (base units, + buys
    /// / - sells), filled later at the first price published after the minimum delay if that
    /// price is within `acceptablePrice`. Escrows the keeper reward from the caller's USD balance.
    function commitOrder(int256 sizeDelta, uint256 acceptablePrice) external nonReentrant {
        address account = msg.sender;
        if (sizeDelta == 0) revert MarketSizeDeltaZero();
        if (account == pool) revert MarketPoolCannotTrade(account);
        if (_orders[account].expiresAt != 0) revert OrderAlreadyPending(account);
        int256 oldSize = positions[account].size;
        if (_increases(oldSize, oldSize + sizeDelta)) {
            if (openingPaused) revert MarketOpeningPaused();
            // slither-disable-next-line unused-return called only to revert unless the price is Ok
            oracle.freshPrice(feedId); // fail early: the fill will need an Ok price
        }
        OrderConfig memory c = orderConfig;
        uint64 settleFrom = uint64(block.timestamp) + c.minDelay;
        uint64 expiresAt = uint64(block.timestamp) + c.maxDelay;
        uint128 limit = acceptablePrice > type(uint128).max ? type(uint128).max : uint128(acceptablePrice);
        // escrow: settlementReward <= MAX_SETTLEMENT_REWARD (_setOrderConfig), fits 128 bits
        _orders[account] =
            Order(SafeCast.toInt128(sizeDelta), limit, uint128(c.settlementReward), settleFrom, expiresAt);
        emit OrderCommitted(account, sizeDelta, acceptablePrice, settleFrom, expiresAt, c.settlementReward);
        if (c.settlementReward > 0) ledger.transferUsd(account, address(this), c.settlementReward);
    }

    /// @notice Fills `account`'s order at oracle round `roundId`, which must be the first valid
    /// round published at or after the order's settlement time and before its expiry (anyone;
    /// the caller earns the escrowed reward). An order whose price is beyond its limit, that
    /// increases risk while opening is paused, or whose fill a cap or margin rule refuses, is
    /// cancelled instead (the caller still earns).
    function settleOrder(address account, uint80 roundId) external nonReentrant {
        Order memory o = _orders[account];
        if (o.expiresAt == 0) revert OrderNotFound(account);
        if (block.timestamp > o.expiresAt) revert OrderExpired(account, o.expiresAt);
        (uint256 price, uint64 at, uint64 previousAt, bool valid) = oracle.roundPrice(feedId, roundId);
        if (!valid || at < o.settleFrom || previousAt >= o.settleFrom || at > o.expiresAt) {
            revert OrderSettlementPriceInvalid(account, roundId, at, o.settleFrom);
        }
        delete _orders[account];
        int256 oldSize = positions[account].size;
        bool increases = _increases(oldSize, oldSize + o.sizeDelta);
        bool withinLimit = o.sizeDelta > 0 ? price <= o.acceptablePrice : price >= o.acceptablePrice;
        if (!withinLimit || (increases && openingPaused)) {
            emit OrderCanceled(
                account, msg.sender, withinLimit ? CancelReason.OpeningPaused : CancelReason.PriceLimit, msg.sender
            );
        } else {
            // A fill the margin rules refuse cancels the order instead of reverting, so that a
            // refused order never sits until expiry blocking the trader's next one.
            // A risk-increasing fill checks trader and pool margin: price every feed once.
            if (increases) oracle.cachePrices(riskEngine.priceFeeds());
            try this.fillOrder(account, o.sizeDelta, price, increases) {
                emit OrderSettled(account, msg.sender, o.sizeDelta, price, roundId, o.escrow);
            } catch (bytes memory reason) {
                emit OrderFillRefused(account, reason);
                emit OrderCanceled(account, msg.sender, CancelReason.FillRefused, msg.sender);
            }
            if (increases) oracle.clearPriceCache();
        }
        if (o.escrow > 0) ledger.transferUsd(address(this), msg.sender, o.escrow);
    }

    /// @notice Applies a settled order; callable by the market itself only (the hop that lets
    /// `settleOrder` turn a refused fill into a cancellation).
    function fillOrder(address account, int256 sizeDelta, uint256 price, bool increases) external {
        if (msg.sender != address(this)) revert OrderFillNotSelf(msg.sender);
        _fill(account, sizeDelta, price, increases);
    }

    /// @notice Removes an expired order and returns its escrow to the trader (anyone).
    function cancelExpiredOrder(address account) external nonReentrant {
        Order memory o = _orders[account];
        if (o.expiresAt == 0) revert OrderNotFound(account);
        if (block.timestamp <= o.expiresAt) revert OrderNotExpired(account, o.expiresAt);
        delete _orders[account];
        emit OrderCanceled(account, msg.sender, CancelReason.Expired, account);
        if (o.escrow > 0) ledger.transferUsd(address(this), account, o.escrow);
    }

    /// @inheritdoc IPerpMarket
    /// @dev The order was sized on a position and margin the liquidation changed (a close order
    /// would flip into a new position): it is void. The escrow goes back to the account.
    /// Reads the expiry slot alone when there is no order (one cold slot per market a liquidation
    /// walks).
    function cancelOrderForLiquidation(address account) external nonReentrant onlyRole(LIQUIDATOR_ROLE) {
        if (_orders[account].expiresAt == 0) return;
        Order memory o = _orders[account];
        delete _orders[account];
        emit OrderCanceled(account, msg.sender, CancelReason.Liquidated, account);
        if (o.escrow > 0) ledger.transferUsd(address(this), account, o.escrow);
    }

    // ---------------------------------------------------------------- governance
    /// @notice Sets the order delays and keeper reward (GOVERNOR_ROLE); pending orders keep theirs.
    function setOrderConfig(OrderConfig calldata c) external onlyRole(Roles.GOVERNOR_ROLE) {
        _setOrderConfig(c);
    }

    /// @notice Pauses (GUARDIAN_ROLE or GOVERNOR_ROLE) or resumes (GOVERNOR_ROLE) opening and
    /// increasing positions. Closing, reducing and liquidation are never paused.
    function setOpeningPaused(bool paused) external {
        if (!hasRole(Roles.GOVERNOR_ROLE, msg.sender) && !(paused && hasRole(Roles.GUARDIAN_ROLE, msg.sender))) {
            revert AccessControlUnauthorizedAccount(msg.sender, paused ? Roles.GUARDIAN_ROLE : Roles.GOVERNOR_ROLE);
        }
        openingPaused = paused;
        emit OpeningPausedSet(paused);
    }

    // ---------------------------------------------------------------- internal
    /// @dev Applies a settled order at `price` (trade, fee, and for `increases` every cap and margin check).
    function _fill(address account, int256 sizeDelta, uint256 price, bool increases) internal virtual;

    /// @dev Validates and stores the order settings.
    function _setOrderConfig(OrderConfig memory c) internal {
        if (c.minDelay == 0 || c.maxDelay <= c.minDelay || c.maxDelay > MAX_ORDER_DELAY
                || c.settlementReward > MAX_SETTLEMENT_REWARD) revert OrderConfigInvalid();
        orderConfig = c;
        emit OrderConfigSet(c);
    }

    /// @dev True when going from `oldSize` to `newSize` opens, grows or flips a position.
    function _increases(int256 oldSize, int256 newSize) internal pure returns (bool) {
        // slither-disable-next-line incorrect-equality signed position sizes, not balances: 0 means no position
        return newSize != 0
            && (oldSize == 0 || (oldSize > 0) != (newSize > 0) || SignedMath.abs(newSize) > SignedMath.abs(oldSize));
    }
}
