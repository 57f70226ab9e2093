// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {Roles} from "../libraries/Roles.sol";
import {PriceOracleBase} from "./PriceOracleBase.sol";

/// @title PriceOracle
/// @notice Hub price oracle: per feed id either a Chainlink-compatible aggregator or a report
/// signed by a quorum of the oracle signers (one price per (feed, round, timestamp), OCR-style:
/// the submitter cannot choose which observations form the price), normalised to 1e18 USD and
/// checked against a heartbeat, min/max bounds and a maximum move per update.
/// @dev Oracle-failure policy (docs/margin.md, "Oracle-failure policy"): a move beyond the bound
/// LATCHES the feed Invalid. Signed feeds: the refused report is recorded, the old price is no
/// longer served as fresh, and the latch clears when a later report confirms the new level (within
/// the bound of the refused price) or governance resolves it. Aggregator feeds: every price read
/// checks the rounds after the last good one (the anchor) pairwise; `syncFeed` (anyone) advances
/// the anchor and latches the feed at a jump, which then keeps refusing until governance resolves
/// it. `roundPrice` of a round after the anchor applies the same walk up to that round, so a
/// round after an unlatched jump is not valid for settlement while `getPrice` reports Invalid.
/// The walk covers at most MAX_WALK rounds: keepers must `syncFeed` so that a jump latches before
/// it leaves the window. Every status but Ok still returns the last good price so that positions
/// stay counted.
contract PriceOracle is PriceOracleBase {
    using SafeCast for uint256;

    /// @dev Aggregator rounds `syncFeed` checks per call.
    uint80 internal constant MAX_SYNC = 32;

    constructor(address admin) PriceOracleBase(admin) {}

    // ---------------------------------------------------------------- governance
    /// @notice Prices `feedId` from a Chainlink-compatible aggregator (GOVERNOR_ROLE); its latest
    /// round, if usable, becomes the anchor.
    /// @param heartbeat Seconds after `updatedAt` at which the price turns stale.
    /// @param minPrice Lowest sane price (1e18 USD), > 0.
    /// @param maxPrice Highest sane price (1e18 USD), > minPrice.
    /// @param maxMoveBps Largest move between consecutive rounds, in (0, 10_000] bps.
    function setAggregatorFeed(
        uint32 feedId,
        address aggregator,
        uint32 heartbeat,
        uint256 minPrice,
        uint256 maxPrice,
        uint16 maxMoveBps
    ) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (aggregator == address(0)) revert OracleFeedConfigInvalid(feedId);
        uint8 dec = IAggregatorV3(aggregator).decimals();
        if (dec > MAX_AGGREGATOR_DECIMALS) revert OracleFeedConfigInvalid(feedId);
        _checkBounds(feedId, heartbeat, minPrice, maxPrice, maxMoveBps);
        FeedStore storage f = _feeds[feedId];
        delete _feeds[feedId];
        f.kind = SourceKind.Aggregator;
        f.aggregatorDecimals = dec;
        f.maxMoveBps = maxMoveBps;
        f.heartbeat = heartbeat;
        f.aggregator = aggregator;
        (f.minPrice, f.maxPrice) = (uint128(minPrice), uint128(maxPrice)); // _checkBounds: both fit 128 bits
        _anchorLatest(feedId, f);
        _clearCache();
        emit FeedConfigured(feedId, SourceKind.Aggregator, aggregator, heartbeat, minPrice, maxPrice, maxMoveBps);
    }

    /// @notice Prices `feedId` from quorum-signed reports (GOVERNOR_ROLE). Reconfiguring keeps
    /// the last accepted price and round only if it was already a signed feed.
    function setSignedFeed(uint32 feedId, uint32 heartbeat, uint256 minPrice, uint256 maxPrice, uint16 maxMoveBps)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        _checkBounds(feedId, heartbeat, minPrice, maxPrice, maxMoveBps);
        FeedStore storage f = _feeds[feedId];
        if (f.kind != SourceKind.Signed) delete _feeds[feedId];
        f.kind = SourceKind.Signed;
        f.heartbeat = heartbeat;
        (f.minPrice, f.maxPrice) = (uint128(minPrice), uint128(maxPrice)); // _checkBounds: both fit 128 bits
        f.maxMoveBps = maxMoveBps;
        _clearCache();
        emit FeedConfigured(feedId, SourceKind.Signed, address(0), heartbeat, minPrice, maxPrice, maxMoveBps);
    }

    /// @notice Clears a latch (GOVERNOR_ROLE): a signed feed accepts the refused (pending) price;
    /// an aggregator feed takes its latest usable round as the new anchor.
    function resolveFeed(uint32 feedId) external onlyRole(Roles.GOVERNOR_ROLE) {
        FeedStore storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        if (f.kind == SourceKind.Signed) {
            if (!f.latched) revert OracleFeedNotLatched(feedId);
            (f.lastPrice, f.lastUpdatedAt) = (f.pendingPrice, f.pendingAt);
            _rounds[feedId][f.lastRound].valid = true;
            (f.latched, f.pendingPrice, f.pendingAt) = (false, 0, 0);
        } else {
            f.latched = false;
            if (!_anchorLatest(feedId, f)) revert OraclePriceInvalid(feedId);
        }
        _clearCache();
        emit FeedResolved(feedId, f.lastPrice, f.lastUpdatedAt);
    }

    // ---------------------------------------------------------------- updates (anyone)
    /// @notice Accepts one signed report of `feedId`. Permissionless: the quorum of signatures
    /// (ascending signer order, each over the same (feed, round, price, timestamp)) is the
    /// authority. Round and timestamp must be above every stored report of the feed; the
    /// timestamp not in the future and within the heartbeat. A price moved beyond `maxMoveBps`
    /// from a fresh last good price is RECORDED as refused and latches the feed Invalid.
    function submitReport(uint32 feedId, uint64 round, uint256 price, uint64 timestamp, bytes[] calldata signatures)
        external
    {
        FeedStore storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        if (f.kind != SourceKind.Signed) revert OracleFeedNotSigned(feedId);
        if (round <= f.lastRound) revert OracleReportRoundInvalid(round, f.lastRound);
        uint64 newest = _rounds[feedId][f.lastRound].timestamp;
        if (timestamp <= newest || timestamp > block.timestamp || block.timestamp - timestamp > f.heartbeat) {
            revert OracleReportTimestampInvalid(timestamp, newest);
        }
        _verifyQuorum(reportDigest(feedId, round, price, timestamp), signatures);
        if (price < f.minPrice || price > f.maxPrice) revert OracleReportPriceOutOfBounds(price, f.minPrice, f.maxPrice);
        bool fresh = f.lastPrice != 0 && block.timestamp - f.lastUpdatedAt <= f.heartbeat;
        bool accept = !fresh || !_movedTooFar(f.lastPrice, price, f.maxMoveBps)
            || (f.latched && !_movedTooFar(f.pendingPrice, price, f.maxMoveBps));
        f.lastRound = round;
        _clearCache();
        _rounds[feedId][round] = SignedRound(price, timestamp, newest, accept);
        if (accept) {
            (f.lastPrice, f.lastUpdatedAt) = (price.toUint128(), timestamp);
            (f.latched, f.pendingPrice, f.pendingAt) = (false, 0, 0);
            emit PriceReported(feedId, round, price, timestamp);
        } else {
            emit PriceRefused(feedId, round, f.lastPrice, price);
            (f.latched, f.pendingPrice, f.pendingAt) = (true, price.toUint128(), timestamp);
        }
    }

    /// @notice Advances an aggregator feed's anchor over up to MAX_SYNC rounds (anyone; keepers
    /// and settlements call it). At the first round that is unusable or moved too far from the
    /// one before, the anchor stops at the last good round and the feed latches Invalid until
    /// governance resolves it. No-op for signed feeds.
    function syncFeed(uint32 feedId) external {
        FeedStore storage f = _feeds[feedId];
        if (f.kind != SourceKind.Aggregator || f.latched) return;
        _clearCache();
        (bool clean, uint80 round, uint256 price, uint64 ts) = _walk(f, MAX_SYNC);
        if (round != f.lastRound) {
            (f.lastRound, f.lastPrice, f.lastUpdatedAt) = (uint64(round), price.toUint128(), ts);
            emit AggregatorSynced(feedId, round, price);
        }
        if (!clean) f.latched = true;
    }

    // ---------------------------------------------------------------- views
    /// @inheritdoc IPriceOracle
    function cachePrices(uint32[] calldata feedIds) external {
        for (uint256 i; i < feedIds.length; ++i) {
            uint32 id = feedIds[i];
            if (_feeds[id].kind == SourceKind.None) continue;
            (bool hit,,,) = _cached(id);
            if (hit) continue;
            (uint256 price, uint64 updatedAt, PriceStatus status) = _price(id);
            _store(id, price, updatedAt, status);
        }
    }

    /// @inheritdoc IPriceOracle
    /// @dev Served from the transaction's price cache when `cachePrices` filled it.
    function getPrice(uint32 feedId) public view returns (uint256 price, uint64 updatedAt, PriceStatus status) {
        bool hit;
        (hit, price, updatedAt, status) = _cached(feedId);
        if (!hit) (price, updatedAt, status) = _price(feedId);
    }

    // ---------------------------------------------------------------- internal
    /// @dev The price of `feedId` computed from storage and its aggregator (see `getPrice`).
    function _price(uint32 feedId) internal view returns (uint256 price, uint64 updatedAt, PriceStatus status) {
        FeedStore storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        bool clean = !f.latched;
        (price, updatedAt) = (f.lastPrice, f.lastUpdatedAt);
        if (clean && f.kind == SourceKind.Aggregator) (clean,, price, updatedAt) = _walk(f, MAX_WALK);
        if (!clean || price == 0) return (price, updatedAt, PriceStatus.Invalid);
        if (block.timestamp - updatedAt > f.heartbeat) return (price, updatedAt, PriceStatus.Stale);
        status = sequencerOk() ? PriceStatus.Ok : PriceStatus.SequencerDown;
    }

    // ---------------------------------------------------------------- views
    /// @inheritdoc IPriceOracle
    function freshPrice(uint32 feedId) external view returns (uint256 price) {
        (uint256 p, uint64 updatedAt, PriceStatus status) = getPrice(feedId);
        if (status == PriceStatus.Invalid) revert OraclePriceInvalid(feedId);
        if (status == PriceStatus.Stale) revert OraclePriceStale(feedId, updatedAt, _feeds[feedId].heartbeat);
        if (status == PriceStatus.SequencerDown) revert OracleSequencerDown(feedId);
        return p;
    }

    /// @inheritdoc IPriceOracle
    /// @dev Aggregator rounds at or before the anchor: usable and within the move bound of the
    /// round before. After the anchor: additionally every round from the anchor (or, when the
    /// anchor is more than MAX_WALK rounds behind, the MAX_WALK rounds before `roundId`) passes
    /// the same pairwise walk as `getPrice`, and the feed is not latched.
    function roundPrice(uint32 feedId, uint80 roundId)
        external
        view
        returns (uint256 price, uint64 updatedAt, uint64 previousUpdatedAt, bool valid)
    {
        FeedStore storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        if (f.kind == SourceKind.Signed) {
            if (roundId > type(uint64).max) return (0, 0, 0, false);
            SignedRound memory r = _rounds[feedId][uint64(roundId)];
            return (r.price, r.timestamp, r.previousTimestamp, r.valid);
        }
        bool ok;
        (price, updatedAt, ok) = _aggRound(f, roundId);
        if (roundId <= 1) return (price, updatedAt, 0, ok && !f.latched);
        if (roundId <= f.lastRound) {
            // At or before the anchor: the round and the one before it (syncFeed checked the rest).
            (uint256 prev, uint64 prevAt, bool prevOk) = _aggRound(f, roundId - 1);
            return (price, updatedAt, prevAt, ok && prevOk && !_movedTooFar(prev, price, f.maxMoveBps));
        }
        // After the anchor: the answer `getPrice` gave while `roundId` was the latest round (the
        // same walk from the last good price), so that a jump nobody latched is not valid at the
        // rounds after it either.
        (bool clean,, uint256 p, uint64 t) = _walkTo(f, roundId - 1, MAX_WALK - 1);
        valid = clean && ok && !f.latched && !_movedTooFar(p, price, f.maxMoveBps);
        if (clean) previousUpdatedAt = t;
        else (, previousUpdatedAt,) = _aggRound(f, roundId - 1);
    }

    // ---------------------------------------------------------------- internal
    /// @dev Makes the latest usable aggregator round the anchor; false when it is unusable.
    function _anchorLatest(uint32 feedId, FeedStore storage f) internal returns (bool) {
        // slither-disable-next-line uninitialized-local assigned in the try branch; the catch returns before it is read
        uint80 latest;
        // slither-disable-next-line unused-return only the latest round id is needed: each round is read by _aggRound
        try IAggregatorV3(f.aggregator).latestRoundData() returns (uint80 r, int256, uint256, uint256, uint80) {
            latest = r;
        } catch {
            return false;
        }
        (uint256 price, uint64 ts, bool ok) = _aggRound(f, latest);
        if (!ok) return false;
        (f.lastRound, f.lastPrice, f.lastUpdatedAt) = (uint64(latest), price.toUint128(), ts);
        emit AggregatorSynced(feedId, latest, price);
        return true;
    }

    /// @dev Walks the aggregator rounds after the anchor (at most `maxSteps`; from a recent round
    /// when the anchor is unset or further behind) and returns whether every one is usable and
    /// within the move bound of the one before, plus the last good round, price and time.
    function _walk(FeedStore storage f, uint80 maxSteps)
        internal
        view
        returns (bool clean, uint80 round, uint256 price, uint64 ts)
    {
        // slither-disable-next-line uninitialized-local assigned in the try branch; the catch returns before it is read
        uint80 latest;
        // slither-disable-next-line unused-return only the latest round id is needed: each round is read by _aggRound
        try IAggregatorV3(f.aggregator).latestRoundData() returns (uint80 r, int256, uint256, uint256, uint80) {
            latest = r;
        } catch {
            return (false, uint80(f.lastRound), f.lastPrice, f.lastUpdatedAt);
        }
        return _walkTo(f, latest, maxSteps);
    }

    /// @dev `_walk` up to round `target` instead of the latest round: from the anchor when it is at
    /// most `maxSteps` rounds before `target`, otherwise over the `maxSteps` rounds before `target`.
    function _walkTo(FeedStore storage f, uint80 target, uint80 maxSteps)
        internal
        view
        returns (bool clean, uint80 round, uint256 price, uint64 ts)
    {
        (round, price, ts) = (uint80(f.lastRound), f.lastPrice, f.lastUpdatedAt);
        if (target == 0 || target < round) return (false, round, price, ts);
        if (round == 0 || target - round > maxSteps) {
            uint80 start = target > maxSteps ? target - maxSteps : 1;
            (uint256 p0, uint64 t0, bool ok0) = _aggRound(f, start);
            if (!ok0) return (false, round, price, ts);
            (round, price, ts) = (start, p0, t0);
        }
        for (uint80 i = round + 1; i <= target; ++i) {
            (uint256 p, uint64 t, bool ok) = _aggRound(f, i);
            if (!ok || _movedTooFar(price, p, f.maxMoveBps)) return (false, round, price, ts);
            (round, price, ts) = (i, p, t);
        }
        return (true, round, price, ts);
    }

    /// @dev One normalised aggregator round; ok false when the call fails, the answer is <= 0, the
    /// time is 0 or in the future, or the price is outside [minPrice, maxPrice].
    function _aggRound(FeedStore storage f, uint80 roundId) internal view returns (uint256 price, uint64 ts, bool ok) {
        // slither-disable-next-line unused-return startedAt, answeredInRound are not needed
        try IAggregatorV3(f.aggregator).getRoundData(roundId) returns (uint80, int256 a, uint256, uint256 t, uint80) {
            if (a <= 0 || t == 0 || t > block.timestamp) return (0, uint64(t), false);
            price = _normalise(uint256(a), f.aggregatorDecimals);
            ts = uint64(t);
            ok = price >= f.minPrice && price <= f.maxPrice;
        } catch {
            return (0, 0, false);
        }
    }
}
