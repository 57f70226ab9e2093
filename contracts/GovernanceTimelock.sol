// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title GovernanceTimelock
/// @notice Holds GOVERNOR_ROLE and DEFAULT_ADMIN_ROLE of one chain's contracts outside the devnet:
/// OpenZeppelin's TimelockController unchanged, so every governance change is scheduled, visible
/// for `minDelay` seconds, then executed (docs/deploy.md). It administers itself (no admin):
/// changing its proposers or delay goes through its own delay too.
contract GovernanceTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling an operation and being able to execute it.
    /// @param proposers May schedule and cancel operations (the governance multisig).
    /// @param executors May execute ready operations; `address(0)` lets anyone execute.
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors)
        TimelockController(minDelay, proposers, executors, address(0))
    {}
}
