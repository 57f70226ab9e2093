// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {DepositMessage, WithdrawalMessage} from "./Messages.sol";

/// @title HashChain
/// @notice The append-only, hash-chained message log kept by every route's source contract
/// (docs/protocol.md). `head_n = keccak256(head_{n-1} || leaf_n)`, `head_0 = 0`.
library HashChain {
    /// @dev EIP-712 style type hashes keep deposit and withdrawal leaves in separate domains.
    bytes32 internal constant DEPOSIT_TYPEHASH =
        keccak256("Deposit(uint64 nonce,address depositor,address account,address token,uint256 amount)");
    bytes32 internal constant WITHDRAWAL_TYPEHASH =
        keccak256("Withdrawal(uint64 nonce,address account,address recipient,address token,uint256 amount)");

    /// @dev Leaf of deposit number `nonce`.
    function depositLeaf(uint64 nonce, address depositor, address account, address token, uint256 amount)
        internal
        pure
        returns (bytes32 leaf)
    {
        bytes32 typehash = DEPOSIT_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), nonce)
            mstore(add(ptr, 0x40), depositor)
            mstore(add(ptr, 0x60), account)
            mstore(add(ptr, 0x80), token)
            mstore(add(ptr, 0xa0), amount)
            leaf := keccak256(ptr, 0xc0)
        }
    }

    /// @dev Leaf of withdrawal number `nonce`.
    function withdrawalLeaf(uint64 nonce, address account, address recipient, address token, uint256 amount)
        internal
        pure
        returns (bytes32 leaf)
    {
        bytes32 typehash = WITHDRAWAL_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), nonce)
            mstore(add(ptr, 0x40), account)
            mstore(add(ptr, 0x60), recipient)
            mstore(add(ptr, 0x80), token)
            mstore(add(ptr, 0xa0), amount)
            leaf := keccak256(ptr, 0xc0)
        }
    }

    /// @dev Extends the chain by one leaf.
    function extend(bytes32 head, bytes32 leaf) internal pure returns (bytes32 next) {
        assembly ("memory-safe") {
            mstore(0x00, head)
            mstore(0x20, leaf)
            next := keccak256(0x00, 0x40)
        }
    }

    /// @dev Head after appending `messages` (nonces `nonce + 1 ...`) to the chain at `head`.
    function foldDeposits(bytes32 head, uint64 nonce, DepositMessage[] calldata messages)
        internal
        pure
        returns (bytes32)
    {
        uint256 count = messages.length;
        for (uint256 i; i < count; ++i) {
            DepositMessage calldata m = messages[i];
            unchecked {
                ++nonce;
            }
            head = extend(head, depositLeaf(nonce, m.depositor, m.account, m.token, m.amount));
        }
        return head;
    }

    /// @dev Head after appending withdrawal `messages` (nonces `nonce + 1 ...`).
    function foldWithdrawals(bytes32 head, uint64 nonce, WithdrawalMessage[] calldata messages)
        internal
        pure
        returns (bytes32)
    {
        uint256 count = messages.length;
        for (uint256 i; i < count; ++i) {
            WithdrawalMessage calldata m = messages[i];
            unchecked {
                ++nonce;
            }
            head = extend(head, withdrawalLeaf(nonce, m.account, m.recipient, m.token, m.amount));
        }
        return head;
    }
}
