// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @dev A deposit as carried from a spoke lockbox to the hub ledger. The nonce is implied by
/// its position in a batch (processed nonce + 1 + index), so it is not sent.
struct DepositMessage {
    address depositor;
    address account;
    address token;
    uint256 amount;
}

/// @dev A withdrawal as carried from the hub ledger to one spoke lockbox.
struct WithdrawalMessage {
    address account;
    address recipient;
    address token;
    uint256 amount;
}

/// @dev What validators sign (EIP-712): the state of one route's hash chain at `nonce`.
struct Checkpoint {
    uint64 sourceChainId;
    address source;
    uint64 nonce;
    bytes32 head;
}
