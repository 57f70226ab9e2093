// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IMarginAccounts} from "../../interfaces/IMarginLedger.sol";
import {IRiskEngine} from "../../interfaces/IRiskEngine.sol";

/// @title MockRiskEngine
/// @notice Test double for ledger tests. An account fails its initial margin if flagged, or if
/// its ledger balance of the watched asset is below a floor (which proves the ledger asks after
/// debiting).
contract MockRiskEngine is IRiskEngine {
    IMarginAccounts public immutable ledger;
    uint32 public immutable assetId;

    mapping(address => bool) public unhealthy;
    mapping(address => uint256) public minBalance;

    constructor(IMarginAccounts ledger_, uint32 assetId_) {
        ledger = ledger_;
        assetId = assetId_;
    }

    /// @notice Marks `account` as failing (or passing) its initial margin.
    function setUnhealthy(address account, bool value) external {
        unhealthy[account] = value;
    }

    /// @notice `account` fails its initial margin while its balance is below `floor`.
    function setMinBalance(address account, uint256 floor) external {
        minBalance[account] = floor;
    }

    /// @inheritdoc IRiskEngine
    function meetsInitialMargin(address account) external view returns (bool) {
        return !unhealthy[account] && ledger.balanceOf(account, assetId) >= minBalance[account];
    }

    /// @inheritdoc IRiskEngine
    function isLiquidatable(address account) external view returns (bool) {
        return unhealthy[account];
    }
}
