// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ILockbox} from "./interfaces/ILockbox.sol";
import {ILockboxFees} from "./interfaces/ILockboxFees.sol";
import {HashChain} from "./libraries/HashChain.sol";
import {Checkpoint, WithdrawalMessage} from "./libraries/Messages.sol";
import {RecoveryMessage} from "./libraries/RecoveryMessage.sol";
import {Roles} from "./libraries/Roles.sol";
import {LockboxFees} from "./lockbox/LockboxFees.sol";
import {OutflowLimiter} from "./lockbox/OutflowLimiter.sol";
import {ReleaseRecovery} from "./lockbox/ReleaseRecovery.sol";
import {ReleaseTransfer} from "./lockbox/ReleaseTransfer.sol";
import {QuorumVerifier} from "./verification/QuorumVerifier.sol";

/// @title Lockbox
/// @notice Holds a spoke chain's collateral. Deposits are appended to the deposit route's hash
/// chain (docs/protocol.md), which validators checkpoint for the hub ledger; withdrawal batches
/// from the hub ledger are released once a quorum of the hub route's validators signed them.
/// @dev Custody is kept in an internal ledger per token (`custodied` = received - released), never
/// read from `balanceOf`: tokens sent here without {deposit} are nobody's, and a release can
/// never pay out more than deposits brought in.
///
/// WARNING, fee-on-transfer tokens: a deposit is credited with what the lockbox actually received
/// (balance difference), but a release pays `amount` and the recipient gets `amount` minus the
/// token's fee. WARNING, rebasing tokens: the books do not follow a rebase. A positive rebase
/// leaves surplus nobody can withdraw; a negative one leaves the books above the balance, so late
/// releases fail and are parked. Do NOT list rebasing tokens; list their wrapped, non-rebasing form.
/// A listed token is trusted not to burn the gas of every transfer (see TOKEN_RELEASE_GAS).
contract Lockbox is
    ILockbox,
    QuorumVerifier,
    OutflowLimiter,
    ReleaseRecovery,
    LockboxFees,
    ReentrancyGuardTransient
{
    using SafeERC20 for IERC20;

    /// @dev The native coin, as a token address (docs/protocol.md).
    address public constant NATIVE_TOKEN = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;
    /// @dev Gas a release of an ERC20 gets inside a batch: ample for ordinary tokens, while one
    /// token that burns all it gets cannot exhaust the batch. {retryRelease} forwards all gas.
    uint256 public constant TOKEN_RELEASE_GAS = 150_000;
    /// @dev Gas a native release gets inside a batch: enough for a multisig's `receive`.
    uint256 public constant NATIVE_RELEASE_GAS = 50_000;
    /// @dev Gas kept back around a capped call: call costs (cold account, value, new account)
    /// and the bookkeeping between the gas check and the call.
    uint256 private constant RELEASE_GAS_OVERHEAD = 50_000;

    /// @notice Chain id of the hub, the withdrawal route's source chain.
    uint64 public immutable HUB_CHAIN_ID;
    /// @notice The hub's MarginLedger, the withdrawal route's source contract.
    address public immutable LEDGER;

    /// @dev Both routes' nonces and both pause flags share one slot, read by every entry point.
    struct RouteState {
        uint64 depositNonce;
        uint64 withdrawalNonce;
        bool depositsPaused;
        bool releasesPaused;
    }

    /// @dev What became of one release attempt.
    enum Outcome {
        Released,
        RecipientInvalid,
        Uncovered,
        RateLimited,
        TransferFailed
    }

    RouteState private _route;
    bytes32 private _depositHead;
    bytes32 private _withdrawalHead;
    mapping(address token => bool) private _listed;
    mapping(address token => uint256) private _custodied;

    /// @param hubChainId chain id of the hub (the withdrawal route's source chain)
    /// @param ledger the hub's MarginLedger (the withdrawal route's source contract)
    /// @param admin receives DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE (a timelock outside the devnet)
    constructor(uint64 hubChainId, address ledger, address admin) {
        if (hubChainId == 0 || ledger == address(0) || admin == address(0)) {
            revert LockboxConfigInvalid(hubChainId, ledger, admin);
        }
        HUB_CHAIN_ID = hubChainId;
        LEDGER = ledger;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    // ------------------------------------------------------------------------------ deposits

    /// @inheritdoc ILockbox
    /// @dev Credits the balance difference, not `amount`. The transfer has to come before the
    /// books (the amount is only known after it); `nonReentrant` keeps a token's hook out.
    function deposit(address token, uint256 amount, address account) external nonReentrant {
        _checkDeposit(token, amount, account);
        if (token == NATIVE_TOKEN) revert DepositTokenIsNative();
        IERC20 erc20 = IERC20(token);
        uint256 balanceBefore = erc20.balanceOf(address(this));
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = erc20.balanceOf(address(this)) - balanceBefore;
        // slither-disable-next-line incorrect-equality a balance difference: 0 means nothing arrived
        if (received == 0) revert DepositNothingReceived(token);
        _recordDeposit(token, received, account);
    }

    /// @inheritdoc ILockbox
    function depositNative(address account) external payable nonReentrant {
        _checkDeposit(NATIVE_TOKEN, msg.value, account);
        _recordDeposit(NATIVE_TOKEN, msg.value, account);
    }

    /// @inheritdoc ILockbox
    function depositRoute() external view returns (uint64 nonce, bytes32 head) {
        return (_route.depositNonce, _depositHead);
    }

    // ------------------------------------------------------------------------------ withdrawals

    /// @inheritdoc ILockbox
    /// @dev Checks in docs/protocol.md order, then EFFECTS (the route advances), then each release
    /// (INTERACTIONS). A release that cannot be paid is parked, never dropped, and never reverts
    /// the batch. Send enough gas: a release short of its allowance reverts the whole batch
    /// ({ReleaseGasInsufficient}) rather than parking a good release as failed. A message whose
    /// token is {RecoveryMessage.MARKER} is a recovery of a parked release (ReleaseRecovery).
    function processWithdrawals(
        WithdrawalMessage[] calldata messages,
        Checkpoint calldata checkpoint,
        bytes calldata signatures
    ) external nonReentrant {
        RouteState memory route = _route;
        if (route.releasesPaused) revert ReleasesPaused();
        uint256 count = messages.length;
        if (count == 0) revert BatchEmpty();
        if (checkpoint.sourceChainId != HUB_CHAIN_ID) revert RouteUnknown(checkpoint.sourceChainId);
        if (checkpoint.source != LEDGER) revert RouteSourceMismatch(LEDGER, checkpoint.source);
        uint64 processed = route.withdrawalNonce;
        if (processed + count != checkpoint.nonce) revert BatchNonceMismatch(processed, count, checkpoint.nonce);
        bytes32 head = HashChain.foldWithdrawals(_withdrawalHead, processed, messages);
        if (head != checkpoint.head) revert BatchHeadMismatch(head, checkpoint.head);
        _verifyQuorum(checkpoint, signatures);

        // EFFECTS: the route advances before any token moves.
        _route.withdrawalNonce = checkpoint.nonce;
        _withdrawalHead = head;
        emit WithdrawalsProcessed(checkpoint.nonce, head, count);

        // INTERACTIONS: each release is itself checks-effects-interactions (see _release).
        for (uint256 i; i < count; ++i) {
            WithdrawalMessage calldata m = messages[i];
            uint64 nonce;
            unchecked {
                nonce = processed + 1 + uint64(i); // <= checkpoint.nonce, a uint64
            }
            if (m.token == RecoveryMessage.MARKER) {
                _applyRecovery(nonce, m.account, m.recipient, m.amount);
                continue;
            }
            uint256 amount = _chargeRelayFee(nonce, msg.sender, m.token, m.amount);
            Outcome outcome = _release(nonce, m.recipient, m.token, amount, true);
            if (outcome != Outcome.Released) {
                _park(nonce, m.account, m.recipient, m.token, amount, _reasonOf(outcome));
            }
        }
    }

    /// @inheritdoc ILockbox
    /// @dev Anyone may call (it pays the recorded recipient only) and the call forwards all its
    /// gas. On failure it reverts with the reason and the release stays parked.
    function retryRelease(uint64 nonce) external nonReentrant {
        if (_route.releasesPaused) revert ReleasesPaused();
        PendingRelease memory release = _unpark(nonce);
        Outcome outcome = _release(nonce, release.recipient, release.token, release.amount, false);
        if (outcome == Outcome.RecipientInvalid) revert ReleaseRecipientInvalid(release.recipient);
        if (outcome == Outcome.Uncovered) {
            revert ReleaseExceedsCustody(release.token, _custodied[release.token], release.amount);
        }
        if (outcome == Outcome.RateLimited) {
            revert ReleaseRateLimited(release.token, availableOutflow(release.token), release.amount);
        }
        if (outcome == Outcome.TransferFailed) revert ReleaseTransferFailed(nonce, release.recipient);
    }

    /// @inheritdoc ILockboxFees
    /// @dev Leaves custody like a release: checked against custody and the outflow limit, the
    /// books written before the transfer, and a failed transfer reverts everything.
    function claimRelayFees(address token, address to) external nonReentrant {
        if (_route.releasesPaused) revert ReleasesPaused();
        if (_recipientInvalid(to)) revert ReleaseRecipientInvalid(to);
        uint256 amount = _takeRelayFees(msg.sender, token);
        uint256 held = _custodied[token];
        if (amount > held) revert ReleaseExceedsCustody(token, held, amount);
        if (!_consumeOutflow(token, amount)) revert ReleaseRateLimited(token, availableOutflow(token), amount);
        _custodied[token] = held - amount; // EFFECTS
        bool ok = token == NATIVE_TOKEN
            ? ReleaseTransfer.tryTransferNative(to, amount, gasleft())
            : ReleaseTransfer.tryTransfer(token, to, amount, gasleft()); // INTERACTION
        if (!ok) revert RelayFeesTransferFailed(token, to, amount);
        emit RelayFeesClaimed(msg.sender, token, to, amount);
    }

    /// @inheritdoc ILockbox
    function withdrawalRoute() external view returns (uint64 processedNonce, bytes32 head) {
        return (_route.withdrawalNonce, _withdrawalHead);
    }

    // ------------------------------------------------------------------------------ custody views

    /// @inheritdoc ILockbox
    function custodied(address token) external view returns (uint256) {
        return _custodied[token];
    }

    /// @inheritdoc ILockbox
    function isListed(address token) external view returns (bool) {
        return _listed[token];
    }

    /// @inheritdoc ILockbox
    function paused() external view returns (bool depositsPaused, bool releasesPaused) {
        RouteState memory route = _route;
        return (route.depositsPaused, route.releasesPaused);
    }

    // ------------------------------------------------------------------------------ governance

    /// @inheritdoc ILockbox
    function listToken(address token) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (token != NATIVE_TOKEN && token.code.length == 0) revert TokenInvalid(token);
        if (_listed[token]) revert TokenAlreadyListed(token);
        _listed[token] = true;
        emit TokenListed(token);
    }

    /// @inheritdoc ILockbox
    function delistToken(address token) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (!_listed[token]) revert TokenNotListed(token);
        _listed[token] = false;
        emit TokenDelisted(token);
    }

    /// @notice Sets `token`'s outflow bucket; both zero removes the limit (governance).
    function setRateLimit(address token, uint256 capacity, uint256 refillPerSecond)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        _setRateLimit(token, capacity, refillPerSecond);
    }

    /// @inheritdoc ILockbox
    function pauseDeposits() external onlyRole(Roles.GUARDIAN_ROLE) {
        _route.depositsPaused = true;
        emit DepositsPauseSet(msg.sender, true);
    }

    /// @inheritdoc ILockbox
    function unpauseDeposits() external onlyRole(Roles.GUARDIAN_ROLE) {
        _route.depositsPaused = false;
        emit DepositsPauseSet(msg.sender, false);
    }

    /// @inheritdoc ILockbox
    function pauseReleases() external onlyRole(Roles.GUARDIAN_ROLE) {
        _route.releasesPaused = true;
        emit ReleasesPauseSet(msg.sender, true);
    }

    /// @inheritdoc ILockbox
    function unpauseReleases() external onlyRole(Roles.GUARDIAN_ROLE) {
        _route.releasesPaused = false;
        emit ReleasesPauseSet(msg.sender, false);
    }

    // ------------------------------------------------------------------------------ internal

    /// @dev Reverts unless a deposit of `amount` of `token` for `account` may be taken.
    function _checkDeposit(address token, uint256 amount, address account) private view {
        if (_route.depositsPaused) revert DepositsPaused();
        if (amount == 0) revert DepositAmountZero();
        if (account == address(0)) revert DepositAccountZero();
        if (!_listed[token]) revert TokenNotListed(token);
    }

    /// @dev Books a received deposit and appends it to the deposit route.
    function _recordDeposit(address token, uint256 amount, address account) private {
        _checkMinDeposit(token, amount);
        uint64 nonce = _route.depositNonce + 1;
        _route.depositNonce = nonce;
        bytes32 head = HashChain.extend(_depositHead, HashChain.depositLeaf(nonce, msg.sender, account, token, amount));
        _depositHead = head;
        _custodied[token] += amount;
        emit Deposited(nonce, msg.sender, account, token, amount, head);
    }

    /// @dev Appends a deposit from the lockbox itself crediting `account` with `amount` of
    /// `token`, for a refunded release: those tokens never left custody, so the books stay as
    /// they are and the hub credits the account again once the deposit route carries it.
    function _creditBack(address account, address token, uint256 amount) internal override returns (uint64 nonce) {
        nonce = _route.depositNonce + 1;
        _route.depositNonce = nonce;
        bytes32 head =
            HashChain.extend(_depositHead, HashChain.depositLeaf(nonce, address(this), account, token, amount));
        _depositHead = head;
        emit Deposited(nonce, address(this), account, token, amount, head);
    }

    /// @dev A redirected release is paid like any release of a batch (capped gas).
    function _payRecovered(uint64 nonce, address recipient, address token, uint256 amount)
        internal
        override
        returns (ParkReason)
    {
        Outcome outcome = _release(nonce, recipient, token, amount, true);
        return outcome == Outcome.Released ? ParkReason.None : _reasonOf(outcome);
    }

    /// @dev Tries to pay release `nonce`. On any outcome but `Released` nothing changed. Books and
    /// bucket are updated before the transfer and restored if it fails (the failed call left no
    /// state behind, and `nonReentrant` covers every entry point that could observe the gap).
    /// `capped`: batch mode, the transfer gets a fixed gas allowance which the caller must afford.
    function _release(uint64 nonce, address recipient, address token, uint256 amount, bool capped)
        private
        returns (Outcome)
    {
        if (_recipientInvalid(recipient)) return Outcome.RecipientInvalid;
        uint256 held = _custodied[token];
        if (amount > held) return Outcome.Uncovered;
        if (!_consumeOutflow(token, amount)) return Outcome.RateLimited;
        bool native = token == NATIVE_TOKEN;
        uint256 gasLimit = gasleft();
        if (capped) {
            gasLimit = native ? NATIVE_RELEASE_GAS : TOKEN_RELEASE_GAS;
            // A call gets at most 63/64 of what is left: make sure the allowance is really there.
            uint256 needed = gasLimit + gasLimit / 63 + RELEASE_GAS_OVERHEAD;
            if (gasleft() < needed) revert ReleaseGasInsufficient(gasleft(), needed);
        }
        _custodied[token] = held - amount; // EFFECTS
        bool ok = native
            ? ReleaseTransfer.tryTransferNative(recipient, amount, gasLimit)
            : ReleaseTransfer.tryTransfer(token, recipient, amount, gasLimit); // INTERACTION
        if (!ok) {
            _custodied[token] = held;
            _refundOutflow(token, amount);
            return Outcome.TransferFailed;
        }
        emit Released(nonce, recipient, token, amount);
        return Outcome.Released;
    }

    /// @dev The zero address (tokens burnt or stuck) and the lockbox itself (books out of step
    /// with the balance) never receive a release; the release's account redirects it from the hub.
    function _recipientInvalid(address recipient) private view returns (bool) {
        return recipient == address(0) || recipient == address(this);
    }

    /// @dev See {_recipientInvalid}.
    function _recipientRejected(address recipient) internal view override returns (bool) {
        return _recipientInvalid(recipient);
    }

    /// @dev How a failed outcome is parked: delayed if only the rate limit stood in the way.
    function _reasonOf(Outcome outcome) private pure returns (ParkReason) {
        return outcome == Outcome.RateLimited ? ParkReason.Delayed : ParkReason.Failed;
    }
}
