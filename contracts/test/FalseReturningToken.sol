// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MockERC20} from "./MockERC20.sol";

/// @title FalseReturningToken
/// @notice TEST ONLY. While `failing`, `transfer` moves nothing and returns false (as some old
/// tokens do) instead of reverting. `transferFrom` keeps working.
contract FalseReturningToken is MockERC20 {
    /// @notice Whether `transfer` currently returns false.
    bool public failing;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Turns the false-returning mode on or off.
    function setFailing(bool failing_) external {
        failing = failing_;
    }

    /// @notice Standard transfer, or `false` with no effect while `failing`.
    function transfer(address to, uint256 value) public override returns (bool) {
        if (failing) return false;
        return super.transfer(to, value);
    }
}
