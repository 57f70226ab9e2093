// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IInflowLimiter} from "../interfaces/IInflowLimiter.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {IMarginAccounts, IMarginLedger} from "../interfaces/IMarginLedger.sol";
import {DepositMessage} from "../libraries/Messages.sol";
import {Roles} from "../libraries/Roles.sol";
import {AssetRegistry} from "./AssetRegistry.sol";
import {InflowLimiter} from "./InflowLimiter.sol";

/// @title MarginAccounts
/// @notice Collateral balances (ledger units), claims on deposits the ledger does not credit
/// (token units, valued at 0, withdrawable back on their chain), the signed USD balance, and
/// the hooks through which the margin engine (MARGIN_ROLE) settles PnL, fees, funding and
/// liquidations.
/// @dev Invariants: for each asset, sum of balances == sum over spokes of `liquidity * scale`
/// (== `_supply[asset].total` while the asset is capped); sum of all USD balances == `badDebt()`.
abstract contract MarginAccounts is AssetRegistry, IMarginAccounts {
    mapping(address account => mapping(uint32 assetId => uint256)) private _balances;
    mapping(address account => mapping(uint64 chainId => mapping(address token => uint256))) private _claims;
    mapping(uint64 chainId => mapping(address token => uint256)) private _totalClaims;
    mapping(address account => int256) private _usd;

    /// @inheritdoc IMarginAccounts
    IInflowLimiter public immutable inflowLimiter;
    /// @inheritdoc IMarginAccounts
    uint256 public badDebt;
    /// @inheritdoc IMarginAccounts
    address public insuranceFund;
    /// @inheritdoc IMarginAccounts
    address public riskEngine;
    /// @inheritdoc IMarginAccounts
    address public settlement;

    /// @dev The inflow limiter module is this ledger's own (docs/security.md, "Blast radius").
    constructor() {
        inflowLimiter = IInflowLimiter(address(new InflowLimiter()));
    }

    /// @inheritdoc IMarginAccounts
    /// @dev Capacity 0 = unlimited (the default; see InflowLimiter for why).
    function setInflowLimit(uint64 chainId, uint32 assetId, uint256 capacity, uint256 refillPerSecond)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        address token = _tokenOf[chainId][assetId];
        if (token == address(0)) revert IMarginLedger.AssetNotOnSpoke(assetId, chainId);
        _tokens[chainId][token].limited = inflowLimiter.setLimit(chainId, assetId, capacity, refillPerSecond);
    }

    /// @inheritdoc IMarginAccounts
    function setRiskEngine(address engine) external onlyRole(Roles.GOVERNOR_ROLE) {
        riskEngine = engine;
        emit RiskEngineSet(engine);
    }

    /// @inheritdoc IMarginAccounts
    function setInsuranceFund(address fund) external onlyRole(Roles.GOVERNOR_ROLE) {
        insuranceFund = fund;
        emit InsuranceFundSet(fund);
    }

    /// @inheritdoc IMarginAccounts
    function setSettlement(address settlement_) external onlyRole(Roles.GOVERNOR_ROLE) {
        settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @inheritdoc IMarginAccounts
    /// @dev Zero-sum by construction; reverts only on int256 overflow.
    function transferUsd(address from, address to, uint256 amount) external onlyRole(Roles.MARGIN_ROLE) {
        int256 delta = SafeCast.toInt256(amount);
        _usd[from] -= delta;
        _usd[to] += delta;
        emit UsdTransferred(from, to, amount);
    }

    /// @inheritdoc IMarginAccounts
    function transferCollateral(address from, address to, uint32 assetId, uint256 amount)
        external
        onlyRole(Roles.MARGIN_ROLE)
    {
        uint256 balance = _balances[from][assetId];
        if (balance < amount) revert CollateralTransferExceedsBalance(from, assetId, balance, amount);
        unchecked {
            _balances[from][assetId] = balance - amount;
            // Cannot overflow: the sum of all balances of an asset is its total (< 2**128).
            _balances[to][assetId] += amount;
        }
        emit CollateralTransferred(from, to, assetId, amount);
    }

    /// @inheritdoc IMarginAccounts
    function writeOffBadDebt(address account) external onlyRole(Roles.MARGIN_ROLE) returns (uint256 written) {
        int256 usd = _usd[account];
        if (usd >= 0) return 0;
        written = uint256(-usd);
        _usd[account] = 0;
        badDebt += written;
        emit BadDebtWrittenOff(account, written);
    }

    /// @inheritdoc IMarginAccounts
    function balanceOf(address account, uint32 assetId) external view returns (uint256) {
        return _balances[account][assetId];
    }

    /// @notice The holdings a health check values (each listed asset, in `listedAssets` order,
    /// of non-zero balance and weight: ILedgerHooks) and the signed USD balance, in one call
    /// (instead of a `balanceOf` and a `collateralOf` per asset).
    function collateralState(address account)
        external
        view
        returns (ILedgerHooks.Collateral[] memory held, int256 usd)
    {
        uint256 n = _assetIds.length;
        held = new ILedgerHooks.Collateral[](n);
        // slither-disable-next-line uninitialized-local a counter that starts at zero
        uint256 k;
        for (uint256 i; i < n; ++i) {
            uint32 id = _assetIds[i];
            uint256 bal = _balances[account][id];
            if (bal == 0) continue;
            AssetConfig storage a = _assets[id];
            if (a.weightBps == 0) continue;
            held[k++] = ILedgerHooks.Collateral(id, a.decimals, a.weightBps, bal);
        }
        assembly ("memory-safe") {
            mstore(held, k)
        }
        usd = _usd[account];
    }

    /// @inheritdoc IMarginAccounts
    function claimOf(address account, uint64 chainId, address token) external view returns (uint256) {
        return _claims[account][chainId][token];
    }

    /// @inheritdoc IMarginAccounts
    function totalClaims(uint64 chainId, address token) external view returns (uint256) {
        return _totalClaims[chainId][token];
    }

    /// @inheritdoc IMarginAccounts
    function usdBalanceOf(address account) external view returns (int256) {
        return _usd[account];
    }

    /// @dev Applies verified deposits from spoke `chainId`. NEVER reverts (a revert would block
    /// the route for good): a listed token within limits is credited to the balance and the
    /// spoke's liquidity (and, for a capped asset, the asset total); anything else (unlisted or
    /// delisted token, over the supply cap, liquidity past 2**128 / scale) becomes a claim in
    /// token units. Consecutive messages of one token share one slot read and one write-back.
    function _applyDeposits(uint64 chainId, DepositMessage[] calldata messages) internal {
        mapping(address token => TokenSlot) storage tokens = _tokens[chainId];
        address current = messages[0].token;
        TokenSlot storage slot = tokens[current];
        TokenSlot memory info = slot;
        uint256 liq = info.liquidity;
        uint256 limit = _liquidityLimit(info.scale);
        uint256 count = messages.length;
        for (uint256 i; i < count;) {
            DepositMessage calldata m = messages[i];
            address token = m.token;
            if (token != current) {
                if (liq != info.liquidity) slot.liquidity = uint128(liq);
                current = token;
                slot = tokens[token];
                info = slot;
                liq = info.liquidity;
                limit = _liquidityLimit(info.scale);
            }
            uint256 amount = m.amount;
            // `liq <= limit` always, so `liq + amount <= limit` keeps liquidity * scale < 2**128.
            if (info.listed && amount <= limit - liq) {
                // Over the inflow limit (or behind a queue): the rest waits for {releaseDeferred}.
                // slither-disable-next-line reentrancy-no-eth the limiter is this ledger's own module (created in its constructor) and calls nothing back
                if (info.limited) amount = inflowLimiter.admit(chainId, info.assetId, m.account, amount, info.scale);
                if (amount == 0) {
                    // all of it queued
                } else if (!info.capped || _takeCap(info.assetId, amount * info.scale)) {
                    unchecked {
                        liq += amount;
                        uint256 credit = amount * info.scale;
                        // A balance never exceeds the sum over spokes of liquidity * scale: no overflow.
                        _balances[m.account][info.assetId] += credit;
                        emit DepositCredited(m.account, info.assetId, credit);
                    }
                } else {
                    _addClaim(m.account, chainId, token, amount);
                }
            } else {
                _addClaim(m.account, chainId, token, amount);
            }
            unchecked {
                ++i;
            }
        }
        if (liq != info.liquidity) slot.liquidity = uint128(liq);
    }

    /// @dev Credits queued deposits of `assetId` from spoke `chainId` as the inflow limiter
    /// allows, in order, each exactly as {_applyDeposits} credits one message, re-checked now (the
    /// token may have been delisted or the cap reached since: then it becomes a claim).
    function _releaseDeferred(uint64 chainId, uint32 assetId, uint256 maxEntries) internal returns (uint256) {
        address token = _tokenOf[chainId][assetId];
        if (token == address(0)) revert IMarginLedger.AssetNotOnSpoke(assetId, chainId);
        TokenSlot storage slot = _tokens[chainId][token];
        // slither-disable-next-line reentrancy-no-eth the limiter is this ledger's own module (created in its constructor) and calls nothing back
        (address[] memory accounts, uint256[] memory amounts, bool limited) =
            inflowLimiter.release(chainId, assetId, slot.scale, maxEntries);
        slot.limited = limited;
        for (uint256 i; i < accounts.length; ++i) {
            TokenSlot memory info = slot;
            uint256 amount = amounts[i];
            uint256 liq = info.liquidity;
            if (
                info.listed && amount <= _liquidityLimit(info.scale) - liq
                    && (!info.capped || _takeCap(assetId, amount * info.scale))
            ) {
                unchecked {
                    slot.liquidity = uint128(liq + amount);
                    uint256 credit = amount * info.scale;
                    _balances[accounts[i]][assetId] += credit;
                    emit DepositCredited(accounts[i], assetId, credit);
                }
            } else {
                _addClaim(accounts[i], chainId, token, amount);
            }
        }
        return accounts.length;
    }

    /// @dev Debits a withdrawal of `amount` ledger units of `assetId` to spoke `chainId` from
    /// `account`: the spoke releases `tokenAmount = amount / scale` (floor) token units and the
    /// account loses exactly `tokenAmount * scale`, so the remainder below one token unit stays in
    /// the balance and no dust is created or lost. Checks (asset on the spoke, a non-zero token
    /// amount, balance, spoke liquidity) all come before the writes.
    function _debitWithdrawal(address account, uint32 assetId, uint256 amount, uint64 chainId)
        internal
        returns (address token, uint256 tokenAmount)
    {
        token = _tokenOf[chainId][assetId];
        if (token == address(0)) revert IMarginLedger.AssetNotOnSpoke(assetId, chainId);
        TokenSlot storage slot = _tokens[chainId][token];
        uint256 scale = slot.scale;
        // slither-disable-next-line divide-before-multiply whole token units: debit is exactly what is paid
        tokenAmount = amount / scale;
        if (tokenAmount == 0) revert IMarginLedger.WithdrawalAmountZero();
        uint256 debit = tokenAmount * scale;
        uint256 balance = _balances[account][assetId];
        if (balance < debit) revert IMarginLedger.WithdrawalExceedsBalance(account, assetId, balance, debit);
        uint256 available = slot.liquidity;
        if (available < tokenAmount) revert IMarginLedger.WithdrawalExceedsLiquidity(chainId, assetId, available, tokenAmount);

        // debit <= balance <= asset total; tokenAmount <= liquidity
        unchecked {
            _balances[account][assetId] = balance - debit;
            slot.liquidity = uint128(available - tokenAmount);
            if (slot.capped) _supply[assetId].total -= uint128(debit);
        }
    }

    /// @dev Debits `amount` token units of `account`'s claim on `token` of spoke `chainId`.
    function _debitClaim(address account, uint64 chainId, address token, uint256 amount) internal {
        uint256 claim = _claims[account][chainId][token];
        if (claim < amount) revert IMarginLedger.ClaimWithdrawalExceedsClaim(account, chainId, token, claim, amount);
        unchecked {
            _claims[account][chainId][token] = claim - amount;
        }
        _totalClaims[chainId][token] -= amount;
    }

    /// @dev Largest liquidity (token units) whose ledger value fits 128 bits; 0 if never listed.
    function _liquidityLimit(uint256 scale) private pure returns (uint256) {
        return scale == 0 ? 0 : type(uint128).max / scale;
    }

    /// @dev Adds `credit` to a capped asset's total if it stays within the cap.
    function _takeCap(uint32 assetId, uint256 credit) private returns (bool) {
        AssetSupply storage supply = _supply[assetId];
        uint256 total = supply.total;
        uint256 cap = supply.cap;
        if (total > cap || credit > cap - total) return false;
        supply.total = uint128(total + credit);
        return true;
    }

    /// @dev Records a claim; saturates instead of overflowing (a hostile token's amounts must
    /// not be able to block the route).
    function _addClaim(address account, uint64 chainId, address token, uint256 amount) private {
        _claims[account][chainId][token] = _saturatingAdd(_claims[account][chainId][token], amount);
        _totalClaims[chainId][token] = _saturatingAdd(_totalClaims[chainId][token], amount);
        emit ClaimCredited(account, chainId, token, amount);
    }

    /// @dev `a + b`, or 2**256 - 1 where that overflows.
    function _saturatingAdd(uint256 a, uint256 b) private pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }
}
