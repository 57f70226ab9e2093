// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IInflowLimiter
/// @notice The hub's per-(source spoke, asset) inflow limit: a token bucket in ledger units that
/// caps how fast deposits from one spoke are credited, so a compromised spoke quorum can forge at
/// most `capacity + refillPerSecond * t` of an asset in `t` seconds. Deposits above the bucket
/// are never lost: the excess waits in a FIFO queue per (spoke, asset) and is credited, in
/// order, by anyone calling the ledger's `releaseDeferred` as the bucket refills.
/// @dev A module the ledger creates and alone drives (its mutating functions are ledger-only);
/// anyone reads its views and events.
interface IInflowLimiter {
    /// @notice Governance set (or, with zeros, removed) the inflow limit of `assetId` from spoke `chainId`.
    event InflowLimitSet(uint64 indexed chainId, uint32 indexed assetId, uint256 capacity, uint256 refillPerSecond);
    /// @notice `amount` token units of a deposit to `account` wait in the queue at `index`.
    event DepositDeferred(
        uint64 indexed chainId, uint32 indexed assetId, uint256 indexed index, address account, uint256 amount
    );
    /// @notice `amount` token units of queued deposit `index` were credited (as a deposit is:
    /// balance, or claim if the token is no longer creditable); `remaining` stay queued at `index`.
    event DeferredReleased(
        uint64 indexed chainId,
        uint32 indexed assetId,
        uint256 indexed index,
        address account,
        uint256 amount,
        uint256 remaining
    );

    /// @notice Only the ledger that created this limiter may call it.
    error InflowLimiterCallerNotLedger(address caller);
    /// @notice The limit is half set (one of capacity / refill is zero) or does not fit in 128 bits.
    error InflowLimitInvalid(uint256 capacity, uint256 refillPerSecond);
    /// @notice Nothing is queued for `assetId` from spoke `chainId`.
    error DeferredNoneQueued(uint64 chainId, uint32 assetId);
    /// @notice The bucket holds less than one token unit: nothing can be credited yet.
    error DeferredInflowExhausted(uint64 chainId, uint32 assetId, uint256 available);

    /// @notice The ledger that drives this limiter.
    function ledger() external view returns (address);

    /// @notice Sets the bucket of `assetId` from spoke `chainId` (ledger units; both zero =
    /// unlimited); returns whether deposits must still go through the limiter. Ledger only.
    function setLimit(uint64 chainId, uint32 assetId, uint256 capacity, uint256 refillPerSecond)
        external
        returns (bool limited);

    /// @notice For a deposit of `amount` token units (`scale` ledger units each): how many to credit
    /// now; the rest is queued behind any earlier queued deposit. Ledger only; never reverts for a
    /// deposit with `amount * scale < 2**128`.
    function admit(uint64 chainId, uint32 assetId, address account, uint256 amount, uint256 scale)
        external
        returns (uint256 creditNow);

    /// @notice Takes up to `maxEntries` queued deposits off the queue in order as far as the bucket
    /// allows (the last one possibly in part) and returns them for the ledger to credit, and whether
    /// deposits must still go through the limiter. Ledger only.
    function release(uint64 chainId, uint32 assetId, uint256 scale, uint256 maxEntries)
        external
        returns (address[] memory accounts, uint256[] memory amounts, bool limited);

    /// @notice The configured bucket (both zero when unlimited).
    function inflowLimitOf(uint64 chainId, uint32 assetId) external view returns (uint256 capacity, uint256 refillPerSecond);

    /// @notice Ledger units that may be credited right now (`type(uint256).max` when unlimited).
    function availableInflow(uint64 chainId, uint32 assetId) external view returns (uint256);

    /// @notice The queue: entries waiting, their total (token units) and the index of the first.
    function deferredOf(uint64 chainId, uint32 assetId) external view returns (uint256 count, uint256 total, uint256 head);

    /// @notice Queue entry `index`: the account and the token units still to credit (zero once credited).
    function deferredAt(uint64 chainId, uint32 assetId, uint256 index) external view returns (address account, uint256 amount);
}
