// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Checkpoint} from "../libraries/Messages.sol";

/// @title ICheckpointVerifier
/// @notice The seam between a route's destination and its proof system. Today the only proof
/// system is an M-of-N validator quorum (QuorumVerifier); receipt proofs against attested
/// headers, an optimistic window or a light client can implement this per route later.
interface ICheckpointVerifier {
    /// @notice Emitted when governance replaces the validator set of a source chain.
    event ValidatorSetUpdated(uint64 indexed sourceChainId, address[] validators, uint8 threshold, uint32 version);

    /// @notice The guardian removed `validator` from the set of `sourceChainId` (new `version`,
    /// same threshold; the factory's QuorumSetDeployed event names the new set).
    event ValidatorRemoved(uint64 indexed sourceChainId, address indexed validator, uint32 version);

    /// @notice `validator` is not in the current set of `sourceChainId` (or there is no set).
    error ValidatorNotInSet(uint64 sourceChainId, address validator);
    /// @notice Removing a validator would leave `remaining` members, fewer than the `threshold`
    /// (no checkpoint could be verified any more): governance must rotate the set instead.
    error ValidatorRemovalBreaksQuorum(uint64 sourceChainId, uint256 remaining, uint256 threshold);
    /// @notice Governance set an empty set, a set above the verifier's maximum size, a threshold
    /// of 0 or above the set size, or a zero or duplicate validator address.
    error ValidatorSetInvalid(uint256 size, uint256 threshold);
    /// @notice The signature blob's length is not a multiple of 65 bytes.
    error CheckpointSignaturesMalformed(uint256 length);
    /// @notice Signature number `index` does not recover (malleable s, bad v, bad length).
    error CheckpointSignatureInvalid(uint256 index);
    /// @notice The recovered signer is not in the route's current set. A checkpoint signed for
    /// another contract or chain lands here too: it recovers to an unrelated address.
    error CheckpointSignerNotValidator(address signer);
    /// @notice Signers must be strictly ascending, which also rules out duplicates.
    error CheckpointSignersNotAscending(address previous, address signer);
    /// @notice Fewer valid signatures than the route's threshold.
    error CheckpointQuorumNotMet(uint256 signatures, uint256 threshold);

    /// @notice Reverts unless `signatures` prove `checkpoint` under the route's rules.
    function verifyCheckpoint(Checkpoint calldata checkpoint, bytes calldata signatures) external view;

    /// @notice The EIP-712 digest validators sign for `checkpoint` on this destination.
    function checkpointDigest(Checkpoint calldata checkpoint) external view returns (bytes32);

    /// @notice The current validator set of routes from `sourceChainId`, sorted ascending.
    function validatorsOf(uint64 sourceChainId) external view returns (address[] memory);

    /// @notice The number of distinct validator signatures a checkpoint needs.
    function thresholdOf(uint64 sourceChainId) external view returns (uint8);

    /// @notice Removes `validator` from the set of `sourceChainId` at once, keeping the threshold.
    /// GUARDIAN_ROLE only: trust-reducing, so no timelock (adding trust is `setValidators`, governance).
    function removeValidator(uint64 sourceChainId, address validator) external;

    /// @notice Whether `signer` is in the current set for `sourceChainId`.
    function isValidator(uint64 sourceChainId, address signer) external view returns (bool);
}
