// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ILedgerHooks} from "../../interfaces/ILedgerHooks.sol";

/// @title LedgerHooksHarness
/// @notice TEST ONLY: the ledger hooks of briefs/hooks.md without deposits and routes, so the
/// margin engine can be tested on its own. The real MarginLedger replaces it in integration tests.
contract LedgerHooksHarness is ILedgerHooks, AccessControl {
    /// @dev Same id as Roles.MARGIN_ROLE in the ledger.
    bytes32 public constant MARGIN_ROLE = keccak256("MARGIN_ROLE");

    error CollateralTransferExceedsBalance(address from, uint32 assetId, uint256 balance, uint256 amount);

    event UsdTransferred(address indexed from, address indexed to, uint256 amount);
    event CollateralTransferred(address indexed from, address indexed to, uint32 indexed assetId, uint256 amount);
    event BadDebtWrittenOff(address indexed account, uint256 amount);

    struct Asset {
        string symbol;
        uint8 decimals;
        uint16 weightBps;
        uint256 totalBalance;
    }

    mapping(uint32 => Asset) internal _assets;
    uint32[] internal _listed;
    mapping(address => mapping(uint32 => uint256)) public balanceOf;
    mapping(address => int256) public usdBalanceOf;
    uint256 public badDebt;
    address public insuranceFund;

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
    }

    /// @notice Lists an asset (test admin).
    function listAsset(uint32 id, string calldata symbol, uint8 decimals, uint16 weightBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (bytes(_assets[id].symbol).length == 0) _listed.push(id);
        _assets[id] = Asset(symbol, decimals, weightBps, _assets[id].totalBalance);
    }

    /// @notice Credits collateral as a processed deposit would (test admin).
    function credit(address account, uint32 id, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) {
        balanceOf[account][id] += amount;
        _assets[id].totalBalance += amount;
    }

    /// @notice Sets the insurance fund account (test admin).
    function setInsuranceFund(address fund) external onlyRole(DEFAULT_ADMIN_ROLE) {
        insuranceFund = fund;
    }

    function listedAssets() external view returns (uint32[] memory) {
        return _listed;
    }

    function assetInfo(uint32 id) external view returns (string memory, uint8, uint16, uint256, uint256) {
        Asset memory a = _assets[id];
        return (a.symbol, a.decimals, a.weightBps, 0, a.totalBalance);
    }

    function transferUsd(address from, address to, uint256 amount) external onlyRole(MARGIN_ROLE) {
        usdBalanceOf[from] -= int256(amount);
        usdBalanceOf[to] += int256(amount);
        emit UsdTransferred(from, to, amount);
    }

    function transferCollateral(address from, address to, uint32 id, uint256 amount) external onlyRole(MARGIN_ROLE) {
        uint256 bal = balanceOf[from][id];
        if (amount > bal) revert CollateralTransferExceedsBalance(from, id, bal, amount);
        balanceOf[from][id] = bal - amount;
        balanceOf[to][id] += amount;
        emit CollateralTransferred(from, to, id, amount);
    }

    function writeOffBadDebt(address account) external onlyRole(MARGIN_ROLE) returns (uint256 written) {
        int256 usd = usdBalanceOf[account];
        if (usd >= 0) return 0;
        written = uint256(-usd);
        usdBalanceOf[account] = 0;
        badDebt += written;
        emit BadDebtWrittenOff(account, written);
    }
}
