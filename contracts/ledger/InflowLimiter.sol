// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IInflowLimiter} from "../interfaces/IInflowLimiter.sol";

/// @title InflowLimiter
/// @notice Per-(source spoke, asset) token bucket in ledger units on what deposits may credit,
/// and the FIFO queue of what waits for it (docs/security.md, "Blast radius"). The hub-side twin
/// of the lockbox's OutflowLimiter: there a corrupted hub quorum can drain a lockbox at most at
/// its rate, here a corrupted spoke quorum can mint hub balances at most at this rate.
/// @dev A module of MarginLedger (created in its constructor, driven by it alone) rather than a
/// base contract, so its code does not count against the ledger's 24,576-byte limit. The ledger
/// calls it only for tokens flagged `limited` (a bucket is set or deposits are queued), so
/// unlimited routes pay nothing. Capacity 0 = unlimited: the default, so listing a token needs no
/// extra step; a real deployment sets a limit per route and asset (docs/security.md).
/// A bucket holds `available` (at most `capacity`) as of `updatedAt` and refills linearly. A
/// deposit larger than what the bucket holds is credited in part (whole token units) and the rest
/// queued; once a queue is non-empty every later deposit of that (spoke, asset) queues behind
/// it, so crediting stays in deposit order. {release} takes the head in part too, so a deposit
/// above `capacity` is never stuck: it is credited over several refills.
contract InflowLimiter is IInflowLimiter {
    /// @dev Two slots: the configuration, then the level, when it was brought up to date and how
    /// many entries wait (the deposit path reads both, writes the second).
    struct Bucket {
        uint128 capacity;
        uint128 refillPerSecond;
        uint128 available;
        uint64 updatedAt;
        uint64 deferredCount;
    }

    /// @dev The queue's first index and its total (token units), written only when it changes.
    struct Queue {
        uint64 head;
        uint192 total;
    }

    /// @dev One queued deposit: token units still to credit.
    struct Entry {
        address account;
        uint256 amount;
    }

    /// @inheritdoc IInflowLimiter
    address public immutable ledger;

    mapping(uint64 chainId => mapping(uint32 assetId => Bucket)) private _buckets;
    mapping(uint64 chainId => mapping(uint32 assetId => Queue)) private _queues;
    mapping(uint64 chainId => mapping(uint32 assetId => mapping(uint256 index => Entry))) private _entries;

    /// @dev Reverts unless called by the ledger.
    modifier onlyLedger() {
        if (msg.sender != ledger) revert InflowLimiterCallerNotLedger(msg.sender);
        _;
    }

    constructor() {
        ledger = msg.sender;
    }

    /// @inheritdoc IInflowLimiter
    /// @dev A new bucket starts full; a changed one keeps its level (refilled under the old rate),
    /// clamped to the new capacity, so raising a limit never hands out a fresh burst at once.
    function setLimit(uint64 chainId, uint32 assetId, uint256 capacity, uint256 refillPerSecond)
        external
        onlyLedger
        returns (bool limited)
    {
        if (
            capacity > type(uint128).max || refillPerSecond > type(uint128).max
                || (capacity == 0) != (refillPerSecond == 0)
        ) revert InflowLimitInvalid(capacity, refillPerSecond);
        Bucket storage bucket = _buckets[chainId][assetId];
        // slither-disable-next-line uninitialized-local 0 is the level of a bucket being switched off (capacity 0)
        uint256 available;
        if (capacity != 0) {
            uint256 oldCapacity = bucket.capacity;
            available = oldCapacity == 0 ? capacity : _level(bucket, oldCapacity);
            if (available > capacity) available = capacity;
        }
        // Casts are safe: both bounded by type(uint128).max above, available by capacity.
        bucket.capacity = uint128(capacity);
        bucket.refillPerSecond = uint128(refillPerSecond);
        bucket.available = uint128(available);
        bucket.updatedAt = uint64(block.timestamp);
        emit InflowLimitSet(chainId, assetId, capacity, refillPerSecond);
        return capacity != 0 || bucket.deferredCount != 0;
    }

    /// @inheritdoc IInflowLimiter
    function admit(uint64 chainId, uint32 assetId, address account, uint256 amount, uint256 scale)
        external
        onlyLedger
        returns (uint256 creditNow)
    {
        Bucket storage bucket = _buckets[chainId][assetId];
        uint256 count = bucket.deferredCount;
        // slither-disable-next-line incorrect-equality an exact queue length: zero means nothing is deferred
        if (count == 0) {
            uint256 capacity = bucket.capacity;
            // slither-disable-next-line incorrect-equality capacity 0 is the documented 'unlimited' setting
            if (capacity == 0) return amount;
            uint256 level = _level(bucket, capacity);
            // slither-disable-next-line divide-before-multiply whole ledger units are credited; the remainder (level - creditNow * scale) stays in the bucket
            creditNow = level / scale;
            if (creditNow > amount) creditNow = amount;
            // slither-disable-next-line divide-before-multiply exact by construction: the truncated part is what stays in the bucket
            bucket.available = uint128(level - creditNow * scale);
            bucket.updatedAt = uint64(block.timestamp);
            // slither-disable-next-line incorrect-equality whole-amount check on integers the function computed itself
            if (creditNow == amount) return creditNow;
        }
        uint256 rest = amount - creditNow;
        Queue storage queue = _queues[chainId][assetId];
        uint256 index = queue.head + count;
        _entries[chainId][assetId][index] = Entry({account: account, amount: rest});
        // Each entry is below 2**128 and there are below 2**64 of them: no overflow.
        queue.total += uint192(rest);
        bucket.deferredCount = uint64(count + 1);
        emit DepositDeferred(chainId, assetId, index, account, rest);
    }

    /// @inheritdoc IInflowLimiter
    /// @dev Reverts if nothing is queued or the bucket holds less than one token unit.
    function release(uint64 chainId, uint32 assetId, uint256 scale, uint256 maxEntries)
        external
        onlyLedger
        returns (address[] memory accounts, uint256[] memory amounts, bool limited)
    {
        Bucket storage bucket = _buckets[chainId][assetId];
        uint256 count = bucket.deferredCount;
        if (count == 0) revert DeferredNoneQueued(chainId, assetId);
        uint256 capacity = bucket.capacity;
        uint256 level = capacity == 0 ? type(uint256).max : _level(bucket, capacity);
        if (level < scale) revert DeferredInflowExhausted(chainId, assetId, level);
        {
            uint256 n = maxEntries < count ? maxEntries : count;
            accounts = new address[](n);
            amounts = new uint256[](n);
        }
        uint256 done;
        (done, level) = _drain(chainId, assetId, scale, level, accounts, amounts);
        count -= done;
        bucket.deferredCount = uint64(count);
        if (capacity != 0) {
            bucket.available = uint128(level);
            bucket.updatedAt = uint64(block.timestamp);
        }
        limited = capacity != 0 || count != 0;
    }

    /// @inheritdoc IInflowLimiter
    function inflowLimitOf(uint64 chainId, uint32 assetId) external view returns (uint256 capacity, uint256 refillPerSecond) {
        Bucket storage bucket = _buckets[chainId][assetId];
        return (bucket.capacity, bucket.refillPerSecond);
    }

    /// @inheritdoc IInflowLimiter
    function availableInflow(uint64 chainId, uint32 assetId) external view returns (uint256) {
        Bucket storage bucket = _buckets[chainId][assetId];
        uint256 capacity = bucket.capacity;
        return capacity == 0 ? type(uint256).max : _level(bucket, capacity);
    }

    /// @inheritdoc IInflowLimiter
    function deferredOf(uint64 chainId, uint32 assetId) external view returns (uint256 count, uint256 total, uint256 head) {
        Queue storage queue = _queues[chainId][assetId];
        return (_buckets[chainId][assetId].deferredCount, queue.total, queue.head);
    }

    /// @inheritdoc IInflowLimiter
    function deferredAt(uint64 chainId, uint32 assetId, uint256 index) external view returns (address account, uint256 amount) {
        Entry storage entry = _entries[chainId][assetId][index];
        return (entry.account, entry.amount);
    }

    /// @dev Takes queue entries from the head into `accounts` / `amounts` (their length is the
    /// most to take) while `level` holds a token unit; the last may be taken in part. Returns how
    /// many entries were taken whole and the level left (meaningless when unlimited). Shrinks the
    /// arrays to what was taken.
    function _drain(
        uint64 chainId,
        uint32 assetId,
        uint256 scale,
        uint256 level,
        address[] memory accounts,
        uint256[] memory amounts
    ) private returns (uint256 done, uint256 left) {
        Queue storage queue = _queues[chainId][assetId];
        uint256 first = queue.head;
        uint256 head = first;
        uint256 taken;
        bool whole = true;
        while (whole && taken < accounts.length && level >= scale) {
            uint256 amount;
            (amount, whole) = _take(chainId, assetId, head, level / scale, accounts, amounts, taken);
            level -= amount * scale;
            ++taken;
            if (whole) ++head;
        }
        assembly ("memory-safe") {
            mstore(accounts, taken)
            mstore(amounts, taken)
        }
        queue.head = uint64(head);
        return (head - first, level);
    }

    /// @dev Takes up to `room` token units off queue entry `index` (and the queue total) into
    /// slot `at` of `accounts` / `amounts`: how many, and whether that was all of it (the entry is
    /// then deleted; otherwise its remainder stays).
    function _take(
        uint64 chainId,
        uint32 assetId,
        uint256 index,
        uint256 room,
        address[] memory accounts,
        uint256[] memory amounts,
        uint256 at
    ) private returns (uint256 amount, bool whole) {
        Entry storage entry = _entries[chainId][assetId][index];
        uint256 queued = entry.amount;
        address account = entry.account;
        whole = room >= queued;
        amount = whole ? queued : room;
        if (whole) delete _entries[chainId][assetId][index];
        else entry.amount = queued - amount;
        // amount <= queued <= total
        _queues[chainId][assetId].total -= uint192(amount);
        accounts[at] = account;
        amounts[at] = amount;
        emit DeferredReleased(chainId, assetId, index, account, amount, queued - amount);
    }

    /// @dev The bucket's level now: stored level plus linear refill, capped at `capacity`.
    function _level(Bucket storage bucket, uint256 capacity) private view returns (uint256) {
        uint256 available = bucket.available + (block.timestamp - bucket.updatedAt) * bucket.refillPerSecond;
        return available > capacity ? capacity : available;
    }
}
