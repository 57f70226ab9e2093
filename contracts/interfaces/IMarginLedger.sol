// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Checkpoint, DepositMessage} from "../libraries/Messages.sol";
import {IInflowLimiter} from "./IInflowLimiter.sol";

/// @title IAssetRegistry
/// @notice The hub's list of assets, of the spoke tokens that back them, and of each spoke's
/// liquidity per asset. Amounts named "ledger units" use the asset's decimals; "token units"
/// use the spoke token's own decimals.
interface IAssetRegistry {
    /// @notice Governance listed asset `assetId`.
    event AssetListed(uint32 indexed assetId, string symbol, uint8 decimals);
    /// @notice Governance mapped spoke token `(chainId, token)` to `assetId`; one token unit is
    /// `scale` ledger units.
    event TokenListed(uint64 indexed chainId, address indexed token, uint32 indexed assetId, uint8 tokenDecimals, uint256 scale);
    /// @notice Governance stopped (`listed = false`) or resumed crediting deposits of a token.
    event TokenListingSet(uint64 indexed chainId, address indexed token, bool listed);
    /// @notice Governance set an asset's collateral weight and supply cap (ledger units, 0 = none).
    event CollateralParamsSet(uint32 indexed assetId, uint16 weightBps, uint256 supplyCap);

    /// @notice Asset ids start at 1, and an asset is listed once.
    error AssetIdInvalid(uint32 assetId);
    /// @notice The asset is already listed.
    error AssetAlreadyListed(uint32 assetId);
    /// @notice Asset decimals above the supported maximum.
    error AssetDecimalsInvalid(uint8 decimals);
    /// @notice No asset with that id is listed.
    error AssetUnknown(uint32 assetId);
    /// @notice The token has more decimals than its asset, or too many fewer to scale in 64 bits.
    error TokenDecimalsInvalid(uint8 tokenDecimals, uint8 assetDecimals);
    /// @notice The zero address cannot be a token.
    error TokenZero();
    /// @notice The address marks recovery messages on withdrawal routes; it is never a token.
    error TokenReserved(address token);
    /// @notice `(chainId, token)` is already mapped to an asset.
    error TokenAlreadyListed(uint64 chainId, address token);
    /// @notice `(chainId, token)` was never listed.
    error TokenUnknown(uint64 chainId, address token);
    /// @notice Spoke `chainId` already has a token for `assetId` (at most one per chain and asset).
    error AssetAlreadyOnSpoke(uint32 assetId, uint64 chainId, address token);
    /// @notice Weight above 10_000 bps or supply cap above 2**128 - 1.
    error CollateralParamsInvalid(uint32 assetId, uint16 weightBps, uint256 supplyCap);

    /// @notice Lists a new asset with its ledger decimals (weight 0 and no cap until set).
    function listAsset(uint32 assetId, string calldata symbol, uint8 decimals) external;

    /// @notice Maps spoke token `(chainId, token)` with `tokenDecimals` to `assetId`.
    function listToken(uint64 chainId, address token, uint32 assetId, uint8 tokenDecimals) external;

    /// @notice Stops (`false`) or resumes (`true`) crediting deposits of a listed token.
    function setTokenListed(uint64 chainId, address token, bool listed) external;

    /// @notice Sets an asset's collateral weight (bps of its price) and supply cap (ledger units).
    function setCollateralParams(uint32 assetId, uint16 weightBps, uint256 supplyCap) external;

    /// @notice An asset's symbol, decimals, weight, supply cap and total credited balance.
    function assetInfo(uint32 assetId)
        external
        view
        returns (string memory symbol, uint8 decimals, uint16 weightBps, uint256 supplyCap, uint256 totalBalance);

    /// @notice Every listed asset id, in listing order.
    function listedAssets() external view returns (uint32[] memory);

    /// @notice How `(chainId, token)` maps: asset, ledger units per token unit, whether credited.
    function tokenInfo(uint64 chainId, address token) external view returns (uint32 assetId, uint256 scale, bool listed);

    /// @notice The token backing `assetId` on spoke `chainId` (zero if none).
    function tokenOf(uint64 chainId, uint32 assetId) external view returns (address);

    /// @notice What spoke `chainId`'s lockbox holds of `assetId` for ledger balances, net of
    /// queued withdrawals, in token units.
    function liquidity(uint64 chainId, uint32 assetId) external view returns (uint256);
}

/// @title IMarginAccounts
/// @notice Per-account collateral balances, claims on unlisted or over-cap deposits, and the
/// signed USD balance; the hooks the margin engine (MARGIN_ROLE) uses.
interface IMarginAccounts {
    /// @notice Governance set the risk engine consulted on withdrawals (zero = none).
    event RiskEngineSet(address indexed engine);
    /// @notice Governance set the insurance fund account.
    event InsuranceFundSet(address indexed fund);
    /// @notice Governance set the USD settlement contract run before every withdrawal (zero = none).
    event SettlementSet(address indexed settlement);
    /// @notice A deposit of a listed token was credited (`amount` in ledger units).
    event DepositCredited(address indexed account, uint32 indexed assetId, uint256 amount);
    /// @notice A deposit of an unlisted or over-cap token was kept as a claim (token units).
    event ClaimCredited(address indexed account, uint64 indexed chainId, address indexed token, uint256 amount);
    /// @notice USD moved between accounts (zero-sum).
    event UsdTransferred(address indexed from, address indexed to, uint256 amount);
    /// @notice Collateral (ledger units) moved between accounts.
    event CollateralTransferred(address indexed from, address indexed to, uint32 indexed assetId, uint256 amount);
    /// @notice A negative USD balance was zeroed and recorded as bad debt.
    event BadDebtWrittenOff(address indexed account, uint256 amount);

    /// @notice `from` holds less of `assetId` than the transfer.
    error CollateralTransferExceedsBalance(address from, uint32 assetId, uint256 balance, uint256 amount);

    /// @notice Sets the inflow limit of `assetId` from spoke `chainId` (a token bucket in ledger
    /// units; both zero = unlimited). GOVERNOR_ROLE only.
    function setInflowLimit(uint64 chainId, uint32 assetId, uint256 capacity, uint256 refillPerSecond) external;

    /// @notice The ledger's inflow limiter module (buckets, queued deposits, their events).
    function inflowLimiter() external view returns (IInflowLimiter);

    /// @notice Sets the risk engine asked on every withdrawal (zero disables the check).
    function setRiskEngine(address engine) external;

    /// @notice Sets the insurance fund account (an ordinary account).
    function setInsuranceFund(address fund) external;

    /// @notice Sets the USD settlement contract (ISettlement) that converts the caller's USD
    /// balance to USDC before each withdrawal (zero disables it).
    function setSettlement(address settlement_) external;

    /// @notice Moves `amount` USD from `from` to `to` (either may go negative). MARGIN_ROLE only.
    function transferUsd(address from, address to, uint256 amount) external;

    /// @notice Moves `amount` ledger units of `assetId` from `from` to `to`. MARGIN_ROLE only.
    function transferCollateral(address from, address to, uint32 assetId, uint256 amount) external;

    /// @notice Zeroes a negative USD balance into `badDebt()`. MARGIN_ROLE only.
    function writeOffBadDebt(address account) external returns (uint256 written);

    /// @notice `account`'s balance of `assetId` in ledger units.
    function balanceOf(address account, uint32 assetId) external view returns (uint256);

    /// @notice `account`'s claim (token units, valued at 0) on `token` held by spoke `chainId`.
    function claimOf(address account, uint64 chainId, address token) external view returns (uint256);

    /// @notice Sum of all claims on `(chainId, token)` not yet withdrawn (token units).
    function totalClaims(uint64 chainId, address token) external view returns (uint256);

    /// @notice `account`'s signed USD balance (realized PnL, fees, funding).
    function usdBalanceOf(address account) external view returns (int256);

    /// @notice USD written off so far. Invariant: sum of all USD balances == badDebt().
    function badDebt() external view returns (uint256);

    /// @notice The insurance fund account.
    function insuranceFund() external view returns (address);

    /// @notice The risk engine consulted on withdrawals (zero = none).
    function riskEngine() external view returns (address);

    /// @notice The USD settlement contract run before withdrawals (zero = none).
    function settlement() external view returns (address);
}

/// @title IMarginLedger
/// @notice The hub ledger: deposit routes in from every spoke, withdrawal routes out to each.
interface IMarginLedger is IAssetRegistry, IMarginAccounts {
    /// @notice Governance registered spoke `chainId` and its lockbox (both routes).
    event SpokeRegistered(uint64 indexed chainId, address indexed lockbox);
    /// @notice A deposit batch from `sourceChainId` was verified and applied.
    event DepositsProcessed(uint64 indexed sourceChainId, uint64 lastNonce, bytes32 head, uint256 count);
    /// @notice A withdrawal was appended to the route to `destChainId` (`amount` in token units).
    event WithdrawalQueued(
        uint64 indexed destChainId,
        uint64 indexed nonce,
        address indexed account,
        address recipient,
        address token,
        uint256 amount,
        bytes32 head
    );
    /// @notice The guardian paused or unpaused withdrawal requests.
    event WithdrawalsPauseSet(bool paused);
    /// @notice Governance set the smallest withdrawal of `assetId` to spoke `chainId` (ledger units).
    event MinWithdrawalSet(uint64 indexed chainId, uint32 indexed assetId, uint256 amount);
    /// @notice The guardian paused (or governance resumed) deposit processing from spoke `chainId`.
    event DepositsPauseSet(uint64 indexed chainId, bool paused);

    /// @notice The lockbox address is zero.
    error SpokeLockboxZero();
    /// @notice The spoke is already registered; its routes are never re-pointed.
    error SpokeAlreadyRegistered(uint64 chainId);
    /// @notice The guardian paused deposits from spoke `chainId` (processing and releasing queued
    /// ones); governance resumes them.
    error RouteDepositsPaused(uint64 chainId);
    /// @notice No message in the batch.
    error BatchEmpty();
    /// @notice No route for that chain.
    error RouteUnknown(uint64 sourceChainId);
    /// @notice The checkpoint names another source contract.
    error RouteSourceMismatch(address expected, address actual);
    /// @notice Replay, gap or overlap.
    error BatchNonceMismatch(uint64 processedNonce, uint256 messageCount, uint64 checkpointNonce);
    /// @notice A message differs from what the validators signed.
    error BatchHeadMismatch(bytes32 computed, bytes32 checkpointHead);
    /// @notice Zero amount, or less than one token unit.
    error WithdrawalAmountZero();
    /// @notice The withdrawal is below the minimum governance set for `assetId` to spoke `chainId`
    /// (ledger units): tiny releases would cost the relayer more than they move.
    error WithdrawalBelowMinimum(uint64 chainId, uint32 assetId, uint256 amount, uint256 minimum);
    /// @notice The recipient is the zero address.
    error WithdrawalRecipientZero();
    /// @notice The guardian paused withdrawals.
    error WithdrawalsPaused();
    /// @notice Spoke `chainId` has no token for `assetId`.
    error AssetNotOnSpoke(uint32 assetId, uint64 chainId);
    /// @notice The account holds less than the debit; `amount` is that debit, `tokenAmount * scale`
    /// (ledger units), which may be below the amount requested.
    error WithdrawalExceedsBalance(address account, uint32 assetId, uint256 balance, uint256 amount);
    /// @notice The spoke's lockbox holds less of the asset for ledger balances (token units).
    error WithdrawalExceedsLiquidity(uint64 chainId, uint32 assetId, uint256 liquidity, uint256 tokenAmount);
    /// @notice The risk engine says the account would fall below its initial margin.
    error WithdrawalLeavesAccountUnhealthy(address account);
    /// @notice The account's claim on `(chainId, token)` is smaller than the amount.
    error ClaimWithdrawalExceedsClaim(address account, uint64 chainId, address token, uint256 claim, uint256 amount);

    /// @notice Registers spoke `chainId`: deposits from `lockbox`, withdrawals to it.
    function registerSpoke(uint64 chainId, address lockbox) external;

    /// @notice Every registered spoke chain id, in registration order.
    function spokes() external view returns (uint64[] memory);

    /// @notice The lockbox of spoke `chainId` (zero if unknown).
    function lockboxOf(uint64 chainId) external view returns (address);

    /// @notice Verifies and applies the next deposits from `checkpoint.sourceChainId`.
    function processDeposits(DepositMessage[] calldata messages, Checkpoint calldata checkpoint, bytes calldata signatures)
        external;

    /// @notice Last processed nonce and head of the deposit route from `spokeChainId`.
    function depositRoute(uint64 spokeChainId) external view returns (uint64 processedNonce, bytes32 head);

    /// @notice Queues a withdrawal of `amount` ledger units of `assetId` to `recipient` on `destChainId`
    /// (released as `amount / scale` token units; exactly that many times `scale` is debited).
    function requestWithdrawal(uint32 assetId, uint256 amount, uint64 destChainId, address recipient) external;

    /// @notice Queues a withdrawal of `amount` token units of a claim on `(chainId, token)`.
    function requestClaimWithdrawal(uint64 chainId, address token, uint256 amount, address recipient) external;

    /// @notice Last nonce and head of the withdrawal route to `spokeChainId`.
    function withdrawalRoute(uint64 spokeChainId) external view returns (uint64 nonce, bytes32 head);

    /// @notice Token units of `token` ever queued to spoke `chainId` (cumulative).
    function queuedTotal(uint64 chainId, address token) external view returns (uint256);

    /// @notice Sets the smallest `requestWithdrawal` amount (ledger units) of `assetId` to spoke
    /// `chainId` (0 = none). Claim withdrawals have no minimum. GOVERNOR_ROLE only.
    function setMinWithdrawal(uint64 chainId, uint32 assetId, uint256 amount) external;

    /// @notice The smallest withdrawal of `assetId` to spoke `chainId` (ledger units, 0 = none).
    function minWithdrawal(uint64 chainId, uint32 assetId) external view returns (uint256);

    /// @notice Pauses (`true`) or resumes withdrawal requests. GUARDIAN_ROLE only.
    function setWithdrawalsPaused(bool paused) external;

    /// @notice Whether withdrawal requests are paused.
    function withdrawalsPaused() external view returns (bool);

    /// @notice Credits up to `maxEntries` queued deposits of `assetId` from spoke `chainId`, in
    /// order, as far as the inflow bucket allows (the last possibly in part). Anyone may call.
    function releaseDeferred(uint64 chainId, uint32 assetId, uint256 maxEntries) external returns (uint256 released);

    /// @notice Stops processing deposits (and releasing queued ones) from spoke `chainId`.
    /// GUARDIAN_ROLE only: trust-reducing, no timelock.
    function pauseDeposits(uint64 chainId) external;

    /// @notice Resumes deposits from spoke `chainId`. GOVERNOR_ROLE only (the timelock).
    function unpauseDeposits(uint64 chainId) external;

    /// @notice Whether deposits from spoke `chainId` are paused.
    function depositsPaused(uint64 chainId) external view returns (bool);
}
