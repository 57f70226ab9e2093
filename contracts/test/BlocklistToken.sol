// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MockERC20} from "./MockERC20.sol";

/// @title BlocklistToken
/// @notice TEST ONLY. Reverts any transfer to a blocked address, like USDC/USDT blocklists.
contract BlocklistToken is MockERC20 {
    /// @notice The recipient is blocked.
    error BlocklistTokenRecipientBlocked(address recipient);

    /// @notice Whether transfers to an address revert.
    mapping(address => bool) public blocked;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Blocks or unblocks `account` as a recipient (tests only).
    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert BlocklistTokenRecipientBlocked(to);
        super._update(from, to, value);
    }
}
