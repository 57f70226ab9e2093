// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICheckpointVerifier} from "../interfaces/ICheckpointVerifier.sol";
import {SignerSet} from "../libraries/SignerSet.sol";
import {IQuorumSet} from "../interfaces/IQuorumSet.sol";
import {QuorumSet} from "./QuorumSet.sol";

/// @title QuorumSetFactory
/// @notice Deploys QuorumSet contracts: QuorumSet's runtime code with the sorted members and the
/// threshold appended as a data tail. Each QuorumVerifier creates its own factory in its
/// constructor, so QuorumSet's code weighs on the destination's creation code, not on its
/// runtime size (the 24,576-byte limit).
/// @dev Permissionless: a set nobody points at proves nothing.
contract QuorumSetFactory {
    /// @notice Creating a QuorumSet failed (out of gas).
    error QuorumSetDeployFailed();

    /// @notice Emitted for every set deployed.
    event QuorumSetDeployed(address indexed quorumSet, address indexed deployer, uint256 size, uint8 threshold);

    /// @notice Deploys a QuorumSet of `members` (any order; stored ascending) needing
    /// `threshold` signatures. Reverts with `ValidatorSetInvalid` for an empty or oversized set,
    /// a threshold of 0 or above the size, or a zero or repeated address.
    function deploy(address[] calldata members, uint8 threshold) external returns (address quorumSet) {
        return _deploy(members, threshold);
    }

    /// @notice Deploys the set `quorumSet` holds without `removed`, same threshold (a guardian's
    /// removal of one validator from `sourceChainId`'s set; the id only names the route in errors).
    /// Reverts with `ValidatorNotInSet` or `ValidatorRemovalBreaksQuorum`.
    function deployWithout(uint64 sourceChainId, address quorumSet, address removed) external returns (address) {
        address[] memory members = IQuorumSet(quorumSet).signers();
        uint8 threshold = IQuorumSet(quorumSet).threshold();
        uint256 size = members.length;
        uint256 kept;
        for (uint256 i; i < size; ++i) {
            address member = members[i];
            if (member == removed) continue;
            if (kept == size - 1) revert ICheckpointVerifier.ValidatorNotInSet(sourceChainId, removed);
            members[kept++] = member;
        }
        if (kept < threshold) revert ICheckpointVerifier.ValidatorRemovalBreaksQuorum(sourceChainId, kept, threshold);
        assembly ("memory-safe") {
            mstore(members, kept)
        }
        return _deploy(members, threshold);
    }

    /// @dev Validates, sorts and deploys (see {deploy}).
    function _deploy(address[] memory members, uint8 threshold) private returns (address quorumSet) {
        uint256 size = members.length;
        address[] memory sorted = members;
        if (size == 0 || size > SignerSet.MAX_SIGNERS || threshold == 0 || threshold > size || !SignerSet.sortUnique(sorted)) {
            revert ICheckpointVerifier.ValidatorSetInvalid(size, threshold);
        }
        bytes memory runtime =
            abi.encodePacked(type(QuorumSet).runtimeCode, sorted, uint256(threshold), uint256(size));
        // Creation code: `PUSH2 len DUP1 PUSH1 0x0a RETURNDATASIZE CODECOPY RETURNDATASIZE RETURN`
        // (10 bytes; RETURNDATASIZE is 0 in a fresh frame) followed by the runtime code.
        bytes memory creation = abi.encodePacked(hex"61", uint16(runtime.length), hex"80600a3d393df3", runtime);
        assembly ("memory-safe") {
            quorumSet := create(0, add(creation, 0x20), mload(creation))
        }
        if (quorumSet == address(0)) revert QuorumSetDeployFailed();
        emit QuorumSetDeployed(quorumSet, msg.sender, size, threshold);
    }
}
