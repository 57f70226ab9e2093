// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginRiskEngine} from "../interfaces/IMarginRiskEngine.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title LPVault
/// @notice The counterparty of every market (its address is the markets' `pool` ledger account),
/// owned by share holders. LPs deposit USDC from their ledger balance and receive shares; they
/// redeem with a delay at the share price of the moment of execution. The share price is the
/// vault's risk-engine equity (USDC + USD balance + the open PnL of every trader against it,
/// net of funding) per share, so an LP bears the open PnL of the book (GMX v2 GM pools,
/// Hyperliquid HLP).
/// Guards, each tested (docs/margin.md "LP vault"):
///  - first-depositor / donation inflation: virtual shares and assets (OpenZeppelin ERC-4626's
///    decimals offset): a donation is shared with the virtual holder, so it costs the attacker
///    more than any rounding it can steal;
///  - deposit-before-profit sandwich: redemptions wait `redeemDelay` and are priced at execution,
///    while the pending shares keep bearing the vault's PnL;
///  - max-PnL factor (GMX v2 `MAX_PNL_FACTOR`): when traders' unrealised profit exceeds
///    `maxPnlFactor` x the vault's assets, redemptions stop and auto-deleveraging is allowed;
///  - a redemption never leaves the vault below its initial margin.
/// @dev Needs MARGIN_ROLE on the ledger (it moves USDC between LPs and itself). The vault's own
/// liquidity checks for new trades stay in the markets (pool initial margin when |skew| grows).
contract LPVault is AccessControl, ReentrancyGuardTransient {
    // ---------------------------------------------------------------- errors
    /// @dev A deposit or redemption of 0 (or one worth less than a share / an asset unit).
    error VaultAmountZero();
    /// @dev A price the vault's equity depends on is not fresh: share price unknown.
    error VaultPricesNotFresh();
    /// @dev The vault's equity is negative (or zero with shares outstanding): deposits would buy its losses.
    error VaultInsolvent(int256 equity);
    /// @dev The caller holds fewer shares than it asked to redeem.
    error VaultSharesExceedBalance(address owner, uint256 balance, uint256 shares);
    /// @dev The redemption does not exist or belongs to someone else.
    error VaultRedemptionUnknown(uint256 id);
    /// @dev The redemption's delay has not passed.
    error VaultRedemptionNotReady(uint256 id, uint64 readyAt);
    /// @dev Paying the redemption would leave the vault below its initial margin or over its
    /// max-PnL factor; it can be retried once traders close or are deleveraged.
    error VaultRedemptionLeavesVaultUnderMargin(uint256 id);
    /// @dev The vault holds less USDC than the redemption is worth (the rest is owed as USD).
    error VaultLiquidityInsufficient(uint256 available, uint256 needed);
    /// @dev After depositing, the LP's own account is below its initial margin.
    error VaultDepositorBelowInitialMargin(address account);
    /// @dev Parameters out of bounds.
    error VaultParamsInvalid();
    /// @dev A zero address in the configuration.
    error VaultConfigZeroAddress();

    // ---------------------------------------------------------------- events
    /// @dev An LP deposited `assets` USDC ledger units for `shares`.
    event VaultDeposit(address indexed owner, uint256 assets, uint256 shares, int256 equityBefore);
    /// @dev An LP queued `shares` for redemption.
    event VaultRedeemRequested(uint256 indexed id, address indexed owner, uint256 shares, uint64 readyAt);
    /// @dev A redemption was paid.
    event VaultRedeemed(uint256 indexed id, address indexed owner, uint256 shares, uint256 assets);
    /// @dev A redemption was cancelled and its shares returned.
    event VaultRedeemCancelled(uint256 indexed id, address indexed owner, uint256 shares);
    /// @dev New parameters.
    event VaultParamsSet(uint64 redeemDelay, uint256 maxPnlFactor);

    // ---------------------------------------------------------------- storage
    /// @dev A queued redemption.
    struct Redemption {
        address owner;
        uint64 readyAt;
        uint256 shares;
    }

    /// @dev Virtual shares and assets (1 USD / 1e18 shares): OZ ERC-4626 inflation defence.
    uint256 public constant VIRTUAL_SHARES = 1e18;
    /// @dev Virtual USD (1e18 = $1) matching VIRTUAL_SHARES.
    uint256 public constant VIRTUAL_ASSETS = 1e18;
    /// @dev Fixed-point one / 1 USD.
    uint256 internal constant ONE = 1e18;
    /// @dev Longest allowed redemption delay.
    uint64 internal constant MAX_REDEEM_DELAY = 30 days;

    /// @dev The hub ledger.
    ILedgerHooks public immutable ledger;
    /// @dev Health of the vault account and the market list.
    IMarginRiskEngine public immutable riskEngine;
    /// @dev Ledger asset id of the deposit asset (USDC).
    uint32 public immutable asset;
    /// @dev 10 ** ledger decimals of `asset`.
    uint256 public immutable assetUnit;

    /// @dev Seconds between a redemption request and its execution.
    uint64 public redeemDelay;
    /// @dev Max traders' unrealised profit per unit of vault assets (1e18), GMX v2 style.
    uint256 public maxPnlFactor;
    /// @dev Shares by holder (not transferable).
    mapping(address => uint256) public sharesOf;
    /// @dev All shares, pending redemptions included (they keep bearing PnL until paid).
    uint256 public totalShares;
    /// @dev Queued redemptions by id.
    mapping(uint256 => Redemption) public redemptions;
    /// @dev Last redemption id.
    uint256 public lastRedemptionId;

    constructor(address admin, ILedgerHooks ledger_, IMarginRiskEngine engine_, uint32 asset_, uint64 redeemDelay_,
        uint256 maxPnlFactor_) {
        if (address(ledger_) == address(0) || address(engine_) == address(0)) revert VaultConfigZeroAddress();
        ledger = ledger_;
        riskEngine = engine_;
        asset = asset_;
        // slither-disable-next-line unused-return only the asset's decimals are needed
        (, uint8 dec,,,) = ledger_.assetInfo(asset_);
        assetUnit = 10 ** dec;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
        _setParams(redeemDelay_, maxPnlFactor_);
    }

    // ---------------------------------------------------------------- LP actions
    /// @notice Deposits `assets` ledger units of USDC from the caller's ledger balance for shares
    /// at the current share price (fresh prices required). The caller must stay above its own
    /// initial margin.
    function deposit(uint256 assets) external nonReentrant returns (uint256 shares) {
        if (assets == 0) revert VaultAmountZero();
        int256 eq = _freshEquity();
        // an empty vault (no shares) starts at equity 0; one with shares must have equity left
        if (eq < 0 || (eq == 0 && totalShares != 0)) revert VaultInsolvent(eq);
        uint256 value = Math.mulDiv(assets, ONE, assetUnit);
        // floor: the depositor never receives more than its value's share
        shares = Math.mulDiv(value, totalShares + VIRTUAL_SHARES, uint256(eq) + VIRTUAL_ASSETS);
        if (shares == 0) revert VaultAmountZero();
        sharesOf[msg.sender] += shares;
        totalShares += shares;
        emit VaultDeposit(msg.sender, assets, shares, eq);
        ledger.transferCollateral(msg.sender, address(this), asset, assets);
        if (!riskEngine.meetsInitialMargin(msg.sender)) revert VaultDepositorBelowInitialMargin(msg.sender);
    }

    /// @notice Queues `shares` for redemption after `redeemDelay`; they keep bearing the vault's
    /// PnL until executed.
    function requestRedeem(uint256 shares) external nonReentrant returns (uint256 id) {
        if (shares == 0) revert VaultAmountZero();
        uint256 bal = sharesOf[msg.sender];
        if (bal < shares) revert VaultSharesExceedBalance(msg.sender, bal, shares);
        sharesOf[msg.sender] = bal - shares;
        id = ++lastRedemptionId;
        uint64 readyAt = uint64(block.timestamp) + redeemDelay;
        redemptions[id] = Redemption({owner: msg.sender, readyAt: readyAt, shares: shares});
        emit VaultRedeemRequested(id, msg.sender, shares, readyAt);
    }

    /// @notice Pays redemption `id` (anyone, e.g. a keeper; the USDC goes to its owner) at the
    /// share price now. Reverts while the vault would fall below its initial margin or stay over
    /// its max-PnL factor.
    function executeRedeem(uint256 id) external nonReentrant returns (uint256 assets) {
        Redemption memory r = redemptions[id];
        if (r.owner == address(0)) revert VaultRedemptionUnknown(id);
        if (block.timestamp < r.readyAt) revert VaultRedemptionNotReady(id, r.readyAt);
        int256 eq = _freshEquity();
        uint256 value = eq > 0 ? Math.mulDiv(r.shares, uint256(eq) + VIRTUAL_ASSETS, totalShares + VIRTUAL_SHARES) : 0;
        assets = Math.mulDiv(value, assetUnit, ONE); // floor: the vault keeps the remainder
        uint256 available = ledger.balanceOf(address(this), asset);
        if (available < assets) revert VaultLiquidityInsufficient(available, assets);
        delete redemptions[id];
        totalShares -= r.shares;
        emit VaultRedeemed(id, r.owner, r.shares, assets);
        if (assets > 0) ledger.transferCollateral(address(this), r.owner, asset, assets);
        if (!riskEngine.meetsInitialMargin(address(this)) || pnlFactorExceeded()) {
            revert VaultRedemptionLeavesVaultUnderMargin(id);
        }
    }

    /// @notice Cancels the caller's queued redemption `id` and returns its shares.
    function cancelRedeem(uint256 id) external nonReentrant {
        Redemption memory r = redemptions[id];
        if (r.owner != msg.sender) revert VaultRedemptionUnknown(id);
        delete redemptions[id];
        sharesOf[msg.sender] += r.shares;
        emit VaultRedeemCancelled(id, msg.sender, r.shares);
    }

    /// @notice Sets the redemption delay (<= 30 days) and the max-PnL factor (GOVERNOR_ROLE).
    function setParams(uint64 redeemDelay_, uint256 maxPnlFactor_) external onlyRole(Roles.GOVERNOR_ROLE) {
        _setParams(redeemDelay_, maxPnlFactor_);
    }

    // ---------------------------------------------------------------- views
    /// @notice The vault's equity now (1e18 USD): its ledger account's risk-engine equity.
    function equity() public view returns (int256) {
        return riskEngine.health(address(this)).equity;
    }

    /// @notice USD value of one whole share (1e18 shares), virtual offset included.
    function sharePrice() external view returns (uint256) {
        int256 eq = equity();
        return eq > 0 ? Math.mulDiv(ONE, uint256(eq) + VIRTUAL_ASSETS, totalShares + VIRTUAL_SHARES) : 0;
    }

    /// @notice Traders' aggregate unrealised PnL against the vault, net of funding (1e18 USD).
    function tradersPnl() public view returns (int256 pnl) {
        IPerpMarket[] memory ms = riskEngine.markets();
        for (uint256 i; i < ms.length; ++i) {
            if (ms[i].pool() == address(this)) pnl -= ms[i].marginState(address(this)).pnl;
        }
    }

    /// @notice Whether traders' unrealised profit exceeds `maxPnlFactor` x the vault's assets
    /// (its equity before that open PnL): GMX v2's max-PnL factor.
    function pnlFactorExceeded() public view returns (bool) {
        int256 pnl = tradersPnl();
        if (pnl <= 0) return false;
        int256 assets = equity() + pnl;
        if (assets <= 0) return true;
        return uint256(pnl) * ONE > maxPnlFactor * uint256(assets);
    }

    /// @notice Whether auto-deleveraging may run: the vault's equity is below its maintenance
    /// margin or traders' profit is over the max-PnL factor.
    function needsDeleverage() external view returns (bool) {
        IMarginRiskEngine.Health memory h = riskEngine.health(address(this));
        return h.equity < int256(h.maintenanceMargin) || pnlFactorExceeded();
    }

    // ---------------------------------------------------------------- internal
    /// @dev The vault's equity, requiring every price it depends on to be fresh.
    function _freshEquity() internal view returns (int256) {
        IMarginRiskEngine.Health memory h = riskEngine.health(address(this));
        if (!h.pricesOk) revert VaultPricesNotFresh();
        return h.equity;
    }

    /// @dev delay <= 30 days; 0 < maxPnlFactor <= 1.
    function _setParams(uint64 redeemDelay_, uint256 maxPnlFactor_) internal {
        if (redeemDelay_ > MAX_REDEEM_DELAY || maxPnlFactor_ == 0 || maxPnlFactor_ > ONE) revert VaultParamsInvalid();
        redeemDelay = redeemDelay_;
        maxPnlFactor = maxPnlFactor_;
        emit VaultParamsSet(redeemDelay_, maxPnlFactor_);
    }
}
