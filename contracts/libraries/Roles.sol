// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Roles
/// @notice Role ids shared by every contract. DEFAULT_ADMIN_ROLE (OpenZeppelin) grants them.
library Roles {
    /// @dev Lists tokens and assets, sets risk parameters, validator sets and rate limits.
    /// Held by a TimelockController outside the devnet, so every change is slow and visible.
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @dev May pause and unpause; can never move funds.
    bytes32 internal constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @dev Moves USD and collateral between ledger accounts and writes off bad debt. Granted by
    /// governance to perp markets and the liquidation module only.
    bytes32 internal constant MARGIN_ROLE = keccak256("MARGIN_ROLE");
}
