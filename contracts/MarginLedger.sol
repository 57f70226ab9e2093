// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMarginLedger} from "./interfaces/IMarginLedger.sol";
import {IReleaseRecoveryRequests} from "./interfaces/IReleaseRecoveryRequests.sol";
import {IRiskEngine} from "./interfaces/IRiskEngine.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {HashChain} from "./libraries/HashChain.sol";
import {Checkpoint, DepositMessage} from "./libraries/Messages.sol";
import {RecoveryMessage} from "./libraries/RecoveryMessage.sol";
import {Roles} from "./libraries/Roles.sol";
import {QuorumVerifier} from "./verification/QuorumVerifier.sol";
import {MarginAccounts} from "./ledger/MarginAccounts.sol";

/// @title MarginLedger
/// @notice The hub ledger of xmargin. Every registered spoke has two routes: deposits from its
/// lockbox (processed here in batches proven by an M-of-N validator checkpoint) and withdrawals
/// to it (a hash chain this contract keeps, which the spoke's lockbox processes). See
/// docs/protocol.md for the wire formats; this contract matches it byte for byte.
/// @dev Exactly-once delivery comes from the nonce check, not from a per-message map: a replay,
/// gap or overlap fails before any effect. Applying a verified deposit never reverts.
contract MarginLedger is QuorumVerifier, MarginAccounts, IMarginLedger, IReleaseRecoveryRequests {
    /// @dev Both routes of one spoke. Slot 0 packs the lockbox with the deposit nonce: the
    /// deposit path reads and writes them together (one cold slot, never zero once registered).
    struct SpokeRoutes {
        address lockbox;
        uint64 depositNonce; // last processed deposit nonce
        bool depositsPaused; // guardian stopped this deposit route (in slot 0: free to check)
        bytes32 depositHead; // head at `depositNonce`
        uint64 withdrawalNonce; // last queued withdrawal nonce
        bytes32 withdrawalHead; // head at `withdrawalNonce`
    }

    mapping(uint64 chainId => SpokeRoutes) private _routes;
    mapping(uint64 chainId => mapping(address token => uint256)) private _queued;
    mapping(uint64 chainId => mapping(uint32 assetId => uint256)) private _minWithdrawal;
    uint64[] private _spokeIds;

    /// @inheritdoc IMarginLedger
    bool public withdrawalsPaused;

    /// @param admin Receives DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE (a timelock outside the devnet).
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IMarginLedger
    /// @dev A route's source is fixed for good: re-pointing it would let a new lockbox replay
    /// or skip messages. Validator sets are set per chain with `setValidators`.
    function registerSpoke(uint64 chainId, address lockbox) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (lockbox == address(0)) revert SpokeLockboxZero();
        SpokeRoutes storage route = _routes[chainId];
        if (route.lockbox != address(0)) revert SpokeAlreadyRegistered(chainId);
        route.lockbox = lockbox;
        _spokeIds.push(chainId);
        emit SpokeRegistered(chainId, lockbox);
    }

    /// @inheritdoc IMarginLedger
    function setMinWithdrawal(uint64 chainId, uint32 assetId, uint256 amount) external onlyRole(Roles.GOVERNOR_ROLE) {
        _minWithdrawal[chainId][assetId] = amount;
        emit MinWithdrawalSet(chainId, assetId, amount);
    }

    /// @inheritdoc IMarginLedger
    function setWithdrawalsPaused(bool paused) external onlyRole(Roles.GUARDIAN_ROLE) {
        withdrawalsPaused = paused;
        emit WithdrawalsPauseSet(paused);
    }

    /// @inheritdoc IMarginLedger
    /// @dev Trust-reducing, so the guardian acts at once; only governance (the timelock) resumes.
    function pauseDeposits(uint64 chainId) external onlyRole(Roles.GUARDIAN_ROLE) {
        _setDepositsPaused(chainId, true);
    }

    /// @inheritdoc IMarginLedger
    function unpauseDeposits(uint64 chainId) external onlyRole(Roles.GOVERNOR_ROLE) {
        _setDepositsPaused(chainId, false);
    }

    /// @dev Records and announces a route's deposit pause.
    function _setDepositsPaused(uint64 chainId, bool paused) private {
        SpokeRoutes storage route = _routes[chainId];
        if (route.lockbox == address(0)) revert RouteUnknown(chainId);
        route.depositsPaused = paused;
        emit DepositsPauseSet(chainId, paused);
    }

    // ------------------------------------------------------------------ deposits

    /// @inheritdoc IMarginLedger
    /// @dev Anyone may submit (relayers are trusted for liveness only). Check order, all before
    /// any effect: batch not empty; route known and source matching; nonce continuity; head
    /// recomputed over the messages; validator quorum. Message `k` has nonce
    /// `processedNonce + 1 + k`. The only external call is to this ledger's own InflowLimiter
    /// module, for tokens with an inflow limit (it cannot call back).
    function processDeposits(DepositMessage[] calldata messages, Checkpoint calldata checkpoint, bytes calldata signatures)
        external
    {
        // CHECKS
        uint256 count = messages.length;
        if (count == 0) revert BatchEmpty();
        uint64 chainId = checkpoint.sourceChainId;
        SpokeRoutes storage route = _routes[chainId];
        address lockbox = route.lockbox;
        uint64 processed = route.depositNonce;
        if (lockbox == address(0)) revert RouteUnknown(chainId);
        if (route.depositsPaused) revert RouteDepositsPaused(chainId);
        if (checkpoint.source != lockbox) revert RouteSourceMismatch(lockbox, checkpoint.source);
        uint64 nonce = checkpoint.nonce;
        if (processed + count != nonce) revert BatchNonceMismatch(processed, count, nonce);
        bytes32 head = HashChain.foldDeposits(route.depositHead, processed, messages);
        if (head != checkpoint.head) revert BatchHeadMismatch(head, checkpoint.head);
        _verifyQuorum(checkpoint, signatures);

        // EFFECTS
        route.depositNonce = nonce;
        route.depositHead = head;
        _applyDeposits(chainId, messages);
        emit DepositsProcessed(chainId, nonce, head, count);
    }

    /// @inheritdoc IMarginLedger
    /// @dev Permissionless (keepers call it; it only credits what the bucket allows, in order).
    /// Refused while the route's deposits are paused: a paused route credits nothing.
    function releaseDeferred(uint64 chainId, uint32 assetId, uint256 maxEntries) external returns (uint256) {
        if (_routes[chainId].depositsPaused) revert RouteDepositsPaused(chainId);
        return _releaseDeferred(chainId, assetId, maxEntries);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @inheritdoc IMarginLedger
    /// @dev `amount` is in ledger units. The lockbox releases `tokenAmount = amount / scale`
    /// (floor) token units and the account is debited exactly `tokenAmount * scale`: the
    /// remainder below one token unit stays in the balance, so no dust is ever created or lost.
    /// `WithdrawalExceedsBalance` reports that debit. When a risk engine is set it is asked
    /// AFTER the debit (a view call, so it cannot re-enter) and a failure undoes everything.
    /// When a settlement contract is set, the caller's USD balance is first settled in USDC
    /// (profit paid from the LP vault, a debt netted against the caller's USDC); it is a
    /// governance-set contract that only calls back `transferUsd` / `transferCollateral`.
    function requestWithdrawal(uint32 assetId, uint256 amount, uint64 destChainId, address recipient) external {
        // CHECKS, then EFFECTS (the debit checks balance and liquidity before it writes)
        if (amount == 0) revert WithdrawalAmountZero();
        if (recipient == address(0)) revert WithdrawalRecipientZero();
        if (withdrawalsPaused) revert WithdrawalsPaused();
        uint256 minimum = _minWithdrawal[destChainId][assetId];
        if (amount < minimum) revert WithdrawalBelowMinimum(destChainId, assetId, amount, minimum);
        // USD SETTLEMENT (before the balance is read)
        address settler = settlement;
        // slither-disable-next-line unused-return _debitWithdrawal reads the balance after it
        if (settler != address(0)) ISettlement(settler).settle(msg.sender);
        SpokeRoutes storage route = _routes[destChainId];
        if (route.lockbox == address(0)) revert RouteUnknown(destChainId);
        (address token, uint256 tokenAmount) = _debitWithdrawal(msg.sender, assetId, amount, destChainId);
        _queueWithdrawal(route, destChainId, recipient, token, tokenAmount);

        // HEALTH (view call; a failure reverts the debit and the queued message)
        address engine = riskEngine;
        if (engine != address(0) && !IRiskEngine(engine).meetsInitialMargin(msg.sender)) {
            revert WithdrawalLeavesAccountUnhealthy(msg.sender);
        }
    }

    /// @inheritdoc IMarginLedger
    /// @dev `amount` is in token units. Claims are valued at 0, so no health check applies.
    function requestClaimWithdrawal(uint64 chainId, address token, uint256 amount, address recipient) external {
        if (amount == 0) revert WithdrawalAmountZero();
        if (recipient == address(0)) revert WithdrawalRecipientZero();
        if (withdrawalsPaused) revert WithdrawalsPaused();
        SpokeRoutes storage route = _routes[chainId];
        if (route.lockbox == address(0)) revert RouteUnknown(chainId);
        _debitClaim(msg.sender, chainId, token, amount);
        _queueWithdrawal(route, chainId, recipient, token, amount);
    }

    /// @inheritdoc IReleaseRecoveryRequests
    /// @dev Nothing is debited or credited here: the lockbox checks that `target` is parked and
    /// is the caller's, and a refund comes back as a deposit (docs/protocol.md). The message goes
    /// in the withdrawal chain (not `_queued`, which counts tokens).
    function requestReleaseRecovery(uint64 destChainId, uint64 target, address newRecipient) external {
        if (withdrawalsPaused) revert WithdrawalsPaused();
        SpokeRoutes storage route = _routes[destChainId];
        if (route.lockbox == address(0)) revert RouteUnknown(destChainId);
        uint64 nonce = route.withdrawalNonce + 1;
        if (target == 0 || target >= nonce) revert RecoveryTargetUnknown(destChainId, target);
        bytes32 head = HashChain.extend(
            route.withdrawalHead,
            HashChain.withdrawalLeaf(nonce, msg.sender, newRecipient, RecoveryMessage.MARKER, target)
        );
        route.withdrawalNonce = nonce;
        route.withdrawalHead = head;
        emit WithdrawalQueued(destChainId, nonce, msg.sender, newRecipient, RecoveryMessage.MARKER, target, head);
        emit ReleaseRecoveryRequested(destChainId, nonce, msg.sender, target, newRecipient);
    }

    /// @dev Appends a withdrawal (account = msg.sender, token units) to the route to `chainId`.
    function _queueWithdrawal(
        SpokeRoutes storage route,
        uint64 chainId,
        address recipient,
        address token,
        uint256 tokenAmount
    ) private {
        uint64 nonce = route.withdrawalNonce + 1;
        bytes32 head = HashChain.extend(
            route.withdrawalHead, HashChain.withdrawalLeaf(nonce, msg.sender, recipient, token, tokenAmount)
        );
        route.withdrawalNonce = nonce;
        route.withdrawalHead = head;
        _queued[chainId][token] += tokenAmount;
        emit WithdrawalQueued(chainId, nonce, msg.sender, recipient, token, tokenAmount, head);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IMarginLedger
    function minWithdrawal(uint64 chainId, uint32 assetId) external view returns (uint256) {
        return _minWithdrawal[chainId][assetId];
    }

    /// @inheritdoc IMarginLedger
    function depositsPaused(uint64 chainId) external view returns (bool) {
        return _routes[chainId].depositsPaused;
    }

    /// @inheritdoc IMarginLedger
    function spokes() external view returns (uint64[] memory) {
        return _spokeIds;
    }

    /// @inheritdoc IMarginLedger
    function lockboxOf(uint64 chainId) external view returns (address) {
        return _routes[chainId].lockbox;
    }

    /// @inheritdoc IMarginLedger
    function depositRoute(uint64 spokeChainId) external view returns (uint64 processedNonce, bytes32 head) {
        SpokeRoutes storage route = _routes[spokeChainId];
        return (route.depositNonce, route.depositHead);
    }

    /// @inheritdoc IMarginLedger
    function withdrawalRoute(uint64 spokeChainId) external view returns (uint64 nonce, bytes32 head) {
        SpokeRoutes storage route = _routes[spokeChainId];
        return (route.withdrawalNonce, route.withdrawalHead);
    }

    /// @inheritdoc IMarginLedger
    function queuedTotal(uint64 chainId, address token) external view returns (uint256) {
        return _queued[chainId][token];
    }
}
