// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ValidatorSetCode
/// @notice Keeps a validator set as the code of a data contract (the SSTORE2 pattern): one
/// EXTCODECOPY reads the whole set, where storage would cost one cold SLOAD per signer checked.
/// @dev Code layout: a STOP byte (the contract cannot be usefully called), then the members as
/// packed 20-byte addresses in strictly ascending order. A data contract is never changed or
/// destroyed: a new set is a new contract.
library ValidatorSetCode {
    /// @dev Bytes per member in the data contract's code.
    uint256 internal constant MEMBER_BYTES = 20;
    /// @dev Length of the creation prefix: `PUSH2 len DUP1 PUSH1 0x0a RETURNDATASIZE CODECOPY
    /// RETURNDATASIZE RETURN` (10 bytes), then the code itself starting with STOP.
    uint256 private constant PREFIX_BYTES = 11;
    /// @dev The creation prefix without its PUSH2 argument, bytes 3-10 (`80 60 0a 3d 39 3d f3 00`).
    uint256 private constant PREFIX_TAIL = 0x80600a3d393df300;

    /// @notice Creating the data contract failed (out of gas).
    error ValidatorSetCodeDeployFailed();

    /// @dev Deploys a data contract holding `members` (callers pass them strictly ascending).
    function write(address[] memory members) internal returns (address pointer) {
        assembly ("memory-safe") {
            let n := mload(members)
            let runtimeLength := add(mul(n, MEMBER_BYTES), 1)
            let code := mload(0x40)
            // Scratch only: the free memory pointer is not moved (nothing is allocated meanwhile).
            mstore(code, or(shl(248, 0x61), or(shl(232, runtimeLength), shl(168, PREFIX_TAIL))))
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(add(code, PREFIX_BYTES), mul(i, MEMBER_BYTES)), shl(96, mload(add(members, shl(5, add(i, 1))))))
            }
            pointer := create(0, code, add(runtimeLength, sub(PREFIX_BYTES, 1)))
        }
        if (pointer == address(0)) revert ValidatorSetCodeDeployFailed();
    }

    /// @dev Copies the `size` packed members of `pointer` into newly allocated memory; returns
    /// its address, to be read with {at}.
    function load(address pointer, uint256 size) internal view returns (uint256 members) {
        assembly ("memory-safe") {
            members := mload(0x40)
            let length := mul(size, MEMBER_BYTES)
            extcodecopy(pointer, members, 1, length)
            // Round up, and keep one spare word: {at} reads 32 bytes from the last member's start.
            mstore(0x40, add(members, and(add(length, 63), not(31))))
        }
    }

    /// @dev Member `index` of a set copied by {load} (the caller keeps `index < size`).
    function at(uint256 members, uint256 index) internal pure returns (address member) {
        assembly ("memory-safe") {
            member := shr(96, mload(add(members, mul(index, MEMBER_BYTES))))
        }
    }

    /// @dev The `size` members of `pointer` as an array (ascending).
    function read(address pointer, uint256 size) internal view returns (address[] memory list) {
        uint256 members = load(pointer, size);
        list = new address[](size);
        for (uint256 i; i < size; ++i) {
            list[i] = at(members, i);
        }
    }
}
