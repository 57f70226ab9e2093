// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICheckpointVerifier} from "./ICheckpointVerifier.sol";
import {ILockboxFees} from "./ILockboxFees.sol";
import {IReleaseRecovery} from "./IReleaseRecovery.sol";
import {Checkpoint, WithdrawalMessage} from "../libraries/Messages.sol";

/// @title IOutflowLimiter
/// @notice Per-token outflow rate limit of a lockbox: a token bucket that refills linearly.
interface IOutflowLimiter {
    /// @notice Emitted when governance sets (or, with zeros, removes) a token's outflow limit.
    event RateLimitSet(address indexed token, uint256 capacity, uint256 refillPerSecond);

    /// @notice The limit is half set (one of capacity / refill is zero) or does not fit in 128 bits.
    error RateLimitInvalid(uint256 capacity, uint256 refillPerSecond);

    /// @notice Sets `token`'s bucket: at most `capacity` released in a burst, refilled at
    /// `refillPerSecond`. Both zero removes the limit (unlimited outflow).
    function setRateLimit(address token, uint256 capacity, uint256 refillPerSecond) external;

    /// @notice How much of `token` may leave right now (`type(uint256).max` when unlimited).
    function availableOutflow(address token) external view returns (uint256);

    /// @notice `token`'s configured bucket (both zero when unlimited).
    function rateLimitOf(address token) external view returns (uint256 capacity, uint256 refillPerSecond);
}

/// @title IReleaseQueue
/// @notice Releases a lockbox could not pay out at once, keyed by their withdrawal nonce.
interface IReleaseQueue {
    /// @notice Why a release is parked. Values are part of the {ReleaseParked} event ABI.
    enum ParkReason {
        None, // no parked release under this nonce
        Delayed, // above the token's available outflow; retry once the bucket has refilled
        Failed // the transfer failed (token or recipient refused, or the release is not covered)
    }

    /// @notice A parked release. `account` (the hub account debited) alone may redirect or refund
    /// it, from the hub (IReleaseRecovery).
    struct PendingRelease {
        address account;
        ParkReason reason;
        address recipient;
        address token;
        uint256 amount;
    }

    /// @notice Withdrawal `nonce` could not be released and is kept until retried.
    event ReleaseParked(uint64 indexed nonce, uint8 reason);

    /// @notice No release is parked under `nonce` (never parked, or already released).
    error ReleaseNotPending(uint64 nonce);

    /// @notice The release parked under `nonce` (reason `None` when there is none).
    function pendingRelease(uint64 nonce) external view returns (PendingRelease memory);

    /// @notice Total amount of `token` parked (delayed or failed) and still held for recipients.
    function owed(address token) external view returns (uint256);
}

/// @title ILockbox
/// @notice A spoke's custody contract: the deposit route's source (deposits are hash-chained and
/// carried to the hub ledger) and the withdrawal route's destination (releases proven by a
/// validator quorum over the hub ledger's withdrawal chain). See docs/protocol.md.
interface ILockbox is ICheckpointVerifier, IOutflowLimiter, IReleaseQueue, ILockboxFees, IReleaseRecovery {
    // ---------------------------------------------------------------- events

    /// @notice Deposit `nonce` of the deposit route; `head` is the route's head after it.
    event Deposited(
        uint64 indexed nonce,
        address indexed depositor,
        address indexed account,
        address token,
        uint256 amount,
        bytes32 head
    );
    /// @notice A withdrawal batch was accepted; the route now stands at `(lastNonce, head)`.
    event WithdrawalsProcessed(uint64 lastNonce, bytes32 head, uint256 count);
    /// @notice Withdrawal `nonce` paid `amount` of `token` to `recipient`.
    event Released(uint64 indexed nonce, address indexed recipient, address token, uint256 amount);
    /// @notice Governance allowed deposits of `token`.
    event TokenListed(address indexed token);
    /// @notice Governance stopped deposits of `token` (releases of it continue).
    event TokenDelisted(address indexed token);
    /// @notice A guardian paused or unpaused deposits.
    event DepositsPauseSet(address indexed guardian, bool paused);
    /// @notice A guardian paused or unpaused releases (batches and retries).
    event ReleasesPauseSet(address indexed guardian, bool paused);

    // ---------------------------------------------------------------- errors

    /// @notice The constructor got a zero hub chain id, ledger or admin.
    error LockboxConfigInvalid(uint64 hubChainId, address ledger, address admin);
    /// @notice A deposit of nothing.
    error DepositAmountZero();
    /// @notice A deposit credited to the zero hub account.
    error DepositAccountZero();
    /// @notice The lockbox received nothing (a fee-on-transfer token took it all).
    error DepositNothingReceived(address token);
    /// @notice The native coin goes through {depositNative}, not {deposit}.
    error DepositTokenIsNative();
    /// @notice Deposits are paused by a guardian.
    error DepositsPaused();
    /// @notice `token` is not listed (deposit or delisting of an unlisted token).
    error TokenNotListed(address token);
    /// @notice `token` is listed already.
    error TokenAlreadyListed(address token);
    /// @notice Only contracts (or the native token) can be listed.
    error TokenInvalid(address token);
    /// @notice Releases are paused by a guardian.
    error ReleasesPaused();
    /// @notice A withdrawal batch without messages.
    error BatchEmpty();
    /// @notice The checkpoint is not from the hub chain: the lockbox has no other route.
    error RouteUnknown(uint64 sourceChainId);
    /// @notice The checkpoint names another source contract than the hub ledger.
    error RouteSourceMismatch(address expected, address actual);
    /// @notice The batch does not continue the route exactly (replay, gap or overlap).
    error BatchNonceMismatch(uint64 processedNonce, uint256 messageCount, uint64 checkpointNonce);
    /// @notice The messages do not hash to the checkpoint's head (a tampered message).
    error BatchHeadMismatch(bytes32 computed, bytes32 checkpointHead);
    /// @notice The submitter left too little gas to give a release its full gas allowance, which
    /// would park a good release as failed. The whole batch reverts instead; send more gas.
    error ReleaseGasInsufficient(uint256 gasLeft, uint256 gasNeeded);
    /// @notice A release to the zero address or to the lockbox itself; its account must redirect
    /// or refund it from the hub.
    error ReleaseRecipientInvalid(address recipient);
    /// @notice A release above what the lockbox's books say it holds of `token`.
    error ReleaseExceedsCustody(address token, uint256 custodied, uint256 amount);
    /// @notice A release above `token`'s available outflow; retry after the bucket refills.
    error ReleaseRateLimited(address token, uint256 available, uint256 amount);
    /// @notice The transfer of release `nonce` to `recipient` failed again.
    error ReleaseTransferFailed(uint64 nonce, address recipient);

    // ---------------------------------------------------------------- deposits

    /// @notice Locks `amount` of listed ERC20 `token` from the caller, credited to hub `account`.
    function deposit(address token, uint256 amount, address account) external;

    /// @notice Locks `msg.value` of the native coin, credited to hub `account`.
    function depositNative(address account) external payable;

    /// @notice The deposit route's last nonce and head.
    function depositRoute() external view returns (uint64 nonce, bytes32 head);

    // ---------------------------------------------------------------- withdrawals

    /// @notice Verifies and applies the next withdrawal batch from the hub ledger.
    function processWithdrawals(
        WithdrawalMessage[] calldata messages,
        Checkpoint calldata checkpoint,
        bytes calldata signatures
    ) external;

    /// @notice Pays out parked release `nonce`; reverts (keeping it parked) if it still cannot.
    function retryRelease(uint64 nonce) external;

    /// @notice The withdrawal route's last processed nonce and head.
    function withdrawalRoute() external view returns (uint64 processedNonce, bytes32 head);

    // ---------------------------------------------------------------- custody and governance

    /// @notice What the lockbox's books say it holds of `token`: received minus released.
    function custodied(address token) external view returns (uint256);

    /// @notice Whether deposits of `token` are accepted.
    function isListed(address token) external view returns (bool);

    /// @notice Whether deposits, and releases, are paused.
    function paused() external view returns (bool depositsPaused, bool releasesPaused);

    /// @notice Accepts deposits of `token` (governance).
    function listToken(address token) external;

    /// @notice Stops deposits of `token`; what is held stays releasable (governance).
    function delistToken(address token) external;

    /// @notice Stops deposits (guardian).
    function pauseDeposits() external;

    /// @notice Resumes deposits (guardian).
    function unpauseDeposits() external;

    /// @notice Stops withdrawal batches (with their recovery messages) and retries (guardian).
    function pauseReleases() external;

    /// @notice Resumes releases (guardian).
    function unpauseReleases() external;
}
