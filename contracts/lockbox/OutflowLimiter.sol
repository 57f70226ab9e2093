// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOutflowLimiter} from "../interfaces/ILockbox.sol";

/// @title OutflowLimiter
/// @notice Per-token token bucket capping how fast a lockbox can pay out, so that even a corrupted
/// validator quorum can only drain `capacity` at once and `refillPerSecond` after that.
/// @dev A bucket holds `available` (at most `capacity`) as of `updatedAt` and refills linearly.
/// A token without a bucket (capacity 0) is unlimited. A release larger than `capacity` can never
/// pass: governance must size `capacity` above the largest single withdrawal it expects.
abstract contract OutflowLimiter is IOutflowLimiter {
    /// @dev Two slots: the configuration, then the level and when it was last brought up to date.
    struct Bucket {
        uint128 capacity;
        uint128 refillPerSecond;
        uint128 available;
        uint64 updatedAt;
    }

    mapping(address token => Bucket) private _buckets;

    /// @inheritdoc IOutflowLimiter
    function availableOutflow(address token) public view returns (uint256) {
        Bucket storage bucket = _buckets[token];
        uint256 capacity = bucket.capacity;
        if (capacity == 0) return type(uint256).max;
        return _refilled(bucket, capacity);
    }

    /// @inheritdoc IOutflowLimiter
    function rateLimitOf(address token) external view returns (uint256 capacity, uint256 refillPerSecond) {
        Bucket storage bucket = _buckets[token];
        return (bucket.capacity, bucket.refillPerSecond);
    }

    /// @dev Replaces `token`'s bucket. A new bucket starts full; a changed one keeps its current
    /// level (refilled up to now under the old rate), clamped to the new capacity, so raising a
    /// limit never hands out a fresh burst at once.
    function _setRateLimit(address token, uint256 capacity, uint256 refillPerSecond) internal {
        if (
            capacity > type(uint128).max || refillPerSecond > type(uint128).max
                || (capacity == 0) != (refillPerSecond == 0)
        ) revert RateLimitInvalid(capacity, refillPerSecond);
        Bucket storage bucket = _buckets[token];
        // slither-disable-next-line uninitialized-local 0 is the level of a removed limit (capacity 0)
        uint256 available;
        if (capacity != 0) {
            uint256 oldCapacity = bucket.capacity;
            available = oldCapacity == 0 ? capacity : _refilled(bucket, oldCapacity);
            if (available > capacity) available = capacity;
        }
        // Casts are safe: both bounded by type(uint128).max above, available by capacity.
        bucket.capacity = uint128(capacity);
        bucket.refillPerSecond = uint128(refillPerSecond);
        bucket.available = uint128(available);
        bucket.updatedAt = uint64(block.timestamp);
        emit RateLimitSet(token, capacity, refillPerSecond);
    }

    /// @dev Takes `amount` out of `token`'s bucket; false (and nothing taken) if it holds less.
    function _consumeOutflow(address token, uint256 amount) internal returns (bool) {
        Bucket storage bucket = _buckets[token];
        uint256 capacity = bucket.capacity;
        if (capacity == 0) return true;
        uint256 available = _refilled(bucket, capacity);
        if (amount > available) return false;
        bucket.available = uint128(available - amount);
        bucket.updatedAt = uint64(block.timestamp);
        return true;
    }

    /// @dev Puts back what {_consumeOutflow} took in this same transaction, for a transfer that
    /// then failed. The bucket was brought up to date by the consumption, so no refill is due.
    function _refundOutflow(address token, uint256 amount) internal {
        Bucket storage bucket = _buckets[token];
        uint256 capacity = bucket.capacity;
        if (capacity == 0) return;
        uint256 available = bucket.available + amount;
        bucket.available = uint128(available > capacity ? capacity : available);
    }

    /// @dev The bucket's level now: stored level plus linear refill, capped at `capacity`.
    function _refilled(Bucket storage bucket, uint256 capacity) private view returns (uint256) {
        uint256 refill = (block.timestamp - bucket.updatedAt) * bucket.refillPerSecond;
        uint256 available = bucket.available + refill;
        return available > capacity ? capacity : available;
    }
}
