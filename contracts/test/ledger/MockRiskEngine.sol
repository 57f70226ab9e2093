// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IRiskEngine} from "../../interfaces/IRiskEngine.sol";

/// @title MockRiskEngine
/// @notice Test double for ledger tests: health is a per-account flag the test sets.
contract MockRiskEngine is IRiskEngine {
    mapping(address => bool) public unhealthy;

    /// @notice Marks `account` as failing (or passing) its initial margin.
    function setUnhealthy(address account, bool value) external {
        unhealthy[account] = value;
    }

    /// @inheritdoc IRiskEngine
    function meetsInitialMargin(address account) external view returns (bool) {
        return !unhealthy[account];
    }

    /// @inheritdoc IRiskEngine
    function isLiquidatable(address account) external view returns (bool) {
        return unhealthy[account];
    }
}
