// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MockERC20} from "./MockERC20.sol";

/// @title FeeOnTransferToken
/// @notice TEST ONLY. Burns `feeBps` of every transfer (mints and burns are not charged), so the
/// receiver gets less than the amount sent.
contract FeeOnTransferToken is MockERC20 {
    uint256 private constant BPS = 10_000;

    /// @notice Fee burnt on every transfer, in basis points of the amount.
    uint256 public feeBps;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 feeBps_)
        MockERC20(name_, symbol_, decimals_)
    {
        feeBps = feeBps_;
    }

    /// @notice Changes the fee (tests only; up to 10_000 = everything burnt).
    function setFeeBps(uint256 feeBps_) external {
        feeBps = feeBps_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value * feeBps / BPS;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
