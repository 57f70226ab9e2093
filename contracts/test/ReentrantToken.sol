// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MockERC20} from "./MockERC20.sol";

/// @title ReentrantToken
/// @notice TEST ONLY. While armed, every transfer (not mint or burn) first calls `target` with
/// `data` (e.g. back into a lockbox: processWithdrawals, retryRelease, deposit), then either
/// bubbles that call's revert (`bubble`) or records it and completes the transfer.
contract ReentrantToken is MockERC20 {
    /// @notice Contract the hook calls, and the calldata it sends.
    address public target;
    bytes public data;
    /// @notice Whether a failed hook call makes the transfer revert with the same data.
    bool public bubble;
    /// @notice How many hook calls were made, and the outcome of the last one (its first four
    /// bytes of return data: the error selector of a revert). Packed in one slot so that the
    /// hook stays cheap enough for a gas-capped payout.
    uint64 public attempts;
    bool public lastSucceeded;
    bytes4 public lastReturnSelector;

    bool private _inHook;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Arms the hook (a zero `target_` disarms it).
    function arm(address target_, bytes calldata data_, bool bubble_) external {
        target = target_;
        data = data_;
        bubble = bubble_;
    }

    /// @notice Lets the token itself approve `spender`, so that its hook can act as a depositor.
    function approveFromSelf(address spender, uint256 amount) external {
        _approve(address(this), spender, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (target != address(0) && from != address(0) && to != address(0) && !_inHook) {
            _inHook = true;
            (bool ok, bytes memory ret) = target.call(data);
            _inHook = false;
            attempts += 1;
            lastSucceeded = ok;
            lastReturnSelector = bytes4(ret);
            if (!ok && bubble) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
        super._update(from, to, value);
    }
}
