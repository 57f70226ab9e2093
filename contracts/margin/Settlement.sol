// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILedgerHooks} from "../interfaces/ILedgerHooks.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title Settlement
/// @notice USD settlement in the settlement asset (USDC, valued at par: 1 USDC settles 1 USD, the
/// unit of account of every market, as sUSD in Synthetix v3 or USDC-settled markets in GMX v2).
///  - a POSITIVE USD balance (realised PnL, funding, fees earned) is paid in USDC out of the
///    counterparty's (LP vault's) USDC balance, so a winner can withdraw profit to a spoke;
///  - a NEGATIVE USD balance is netted against the account's own USDC.
/// Both legs move equal value (USD at par), so neither side's equity changes (USDC weight 100 %)
/// and the books stay zero-sum: sum of USD balances still equals the ledger's `badDebt()`.
/// @dev Needs MARGIN_ROLE on the ledger. Called by the ledger before every withdrawal, by the
/// liquidation module before collateral is sold (SETTLER_ROLE), or by the account itself.
contract Settlement is ISettlement, AccessControl, ReentrancyGuardTransient {
    /// @dev The caller may not settle `account` (only the account, the ledger or a SETTLER).
    error SettlementCallerNotAllowed(address caller, address account);
    /// @dev A zero address for the ledger or the counterparty.
    error SettlementConfigZeroAddress();

    /// @dev `account`'s USD balance moved by `usdAmount` (positive: paid out) against
    /// `assetAmount` ledger units of the settlement asset.
    event UsdSettled(address indexed account, int256 usdAmount, uint256 assetAmount);

    /// @dev May settle any account (the liquidation module).
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @dev 1 USD in the ledger's USD units.
    uint256 internal constant USD_ONE = 1e18;

    /// @dev The hub ledger.
    ILedgerHooks public immutable ledger;
    /// @dev The markets' counterparty (the LP vault): pays positive balances, receives netted USDC.
    address public immutable counterparty;
    /// @dev Ledger asset id of the settlement asset (USDC).
    uint32 public immutable settlementAsset;
    /// @dev 10 ** ledger decimals of the settlement asset.
    uint256 public immutable assetUnit;

    constructor(address admin, ILedgerHooks ledger_, address counterparty_, uint32 settlementAsset_) {
        if (address(ledger_) == address(0) || counterparty_ == address(0)) revert SettlementConfigZeroAddress();
        ledger = ledger_;
        counterparty = counterparty_;
        settlementAsset = settlementAsset_;
        // slither-disable-next-line unused-return only the asset's decimals are needed
        (, uint8 dec,,,) = ledger_.assetInfo(settlementAsset_);
        assetUnit = 10 ** dec;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    /// @inheritdoc ISettlement
    /// @dev Rounding favours the counterparty on the way out and the books on the way in: a payout
    /// is floored to whole asset units (the sub-unit remainder stays USD); a netting takes
    /// ceil(debt) units, so it may leave a positive USD dust below one unit, never a debt.
    function settle(address account) external nonReentrant returns (int256 settledUsd) {
        // CHECKS
        if (msg.sender != account && msg.sender != address(ledger) && !hasRole(SETTLER_ROLE, msg.sender)) {
            revert SettlementCallerNotAllowed(msg.sender, account);
        }
        if (account == counterparty) return 0;
        int256 usd = ledger.usdBalanceOf(account);
        uint32 asset = settlementAsset;
        if (usd > 0) {
            uint256 units = Math.min(
                Math.mulDiv(uint256(usd), assetUnit, USD_ONE), ledger.balanceOf(counterparty, asset)
            );
            if (units == 0) return 0;
            uint256 value = Math.mulDiv(units, USD_ONE, assetUnit);
            // EFFECTS / INTERACTIONS (the ledger is trusted and makes no call back)
            emit UsdSettled(account, int256(value), units);
            ledger.transferUsd(account, counterparty, value);
            ledger.transferCollateral(counterparty, account, asset, units);
            return int256(value);
        }
        if (usd < 0) {
            uint256 units = Math.min(
                Math.mulDiv(uint256(-usd), assetUnit, USD_ONE, Math.Rounding.Ceil), ledger.balanceOf(account, asset)
            );
            if (units == 0) return 0;
            uint256 value = Math.mulDiv(units, USD_ONE, assetUnit);
            emit UsdSettled(account, -int256(value), units);
            ledger.transferCollateral(account, counterparty, asset, units);
            ledger.transferUsd(counterparty, account, value);
            return -int256(value);
        }
    }
}
