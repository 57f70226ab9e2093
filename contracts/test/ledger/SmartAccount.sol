// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title SmartAccount
/// @notice Test stand-in for a Safe or other smart account: a contract that exists on the hub
/// only and acts through its owner. Whoever holds its address on another chain is someone else.
contract SmartAccount {
    /// @notice The caller is not the owner.
    error SmartAccountNotOwner(address caller);

    /// @notice The only key that may act for the account.
    address public immutable OWNER;

    /// @param owner the account's only signer
    constructor(address owner) {
        OWNER = owner;
    }

    /// @notice Calls `target` with `data` as this account (owner only); a revert is bubbled up.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != OWNER) revert SmartAccountNotOwner(msg.sender);
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return result;
    }
}
