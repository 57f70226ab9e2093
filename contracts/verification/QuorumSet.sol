// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ICheckpointVerifier} from "../interfaces/ICheckpointVerifier.sol";
import {IQuorumSet} from "../interfaces/IQuorumSet.sol";
import {SignerSet} from "../libraries/SignerSet.sol";

/// @title QuorumSet
/// @notice One validator set and its threshold, frozen in the contract's own code, and the
/// M-of-N check of a digest against it. A route destination (QuorumVerifier) deploys one per
/// rotation through its QuorumSetFactory and points the source chain's slot at it; the old set
/// is simply no longer pointed at.
/// @dev No constructor and no storage: QuorumSetFactory deploys this contract's runtime code
/// followed by a data tail `members (32-byte words) || threshold || size`, which the functions
/// read back with CODECOPY. Verifying therefore costs the caller one cold call (the account
/// access the old SSTORE2 data contract cost too) and no SLOAD.
/// WARNING: the bare template (this contract deployed without a tail) reads its own bytecode
/// as a set: only the factory's deployments mean anything.
contract QuorumSet is IQuorumSet {
    /// @inheritdoc IQuorumSet
    /// @dev Reverts with ICheckpointVerifier's errors (bubbled unchanged by the destination).
    function verify(bytes32 digest, bytes calldata signatures) external view {
        (address[] memory members, uint256 quorum) = _load();
        SignerSet.Verdict memory verdict = SignerSet.verify(digest, signatures, members, quorum);
        SignerSet.Outcome outcome = verdict.outcome;
        if (outcome == SignerSet.Outcome.Verified) return;
        if (outcome == SignerSet.Outcome.SignaturesMalformed) {
            revert ICheckpointVerifier.CheckpointSignaturesMalformed(verdict.index);
        }
        if (outcome == SignerSet.Outcome.QuorumNotMet) {
            revert ICheckpointVerifier.CheckpointQuorumNotMet(verdict.index, quorum);
        }
        if (outcome == SignerSet.Outcome.SignatureInvalid) {
            revert ICheckpointVerifier.CheckpointSignatureInvalid(verdict.index);
        }
        if (outcome == SignerSet.Outcome.SignersNotAscending) {
            revert ICheckpointVerifier.CheckpointSignersNotAscending(verdict.previous, verdict.signer);
        }
        revert ICheckpointVerifier.CheckpointSignerNotValidator(verdict.signer);
    }

    /// @inheritdoc IQuorumSet
    function signers() external view returns (address[] memory members) {
        (members,) = _load();
    }

    /// @inheritdoc IQuorumSet
    function threshold() external view returns (uint8) {
        (, uint256 quorum) = _load();
        return uint8(quorum);
    }

    /// @inheritdoc IQuorumSet
    function isSigner(address who) external view returns (bool) {
        (address[] memory members,) = _load();
        return SignerSet.contains(members, who);
    }

    /// @dev The members (an `address[]` copied straight from the tail) and the threshold.
    function _load() private pure returns (address[] memory members, uint256 quorum) {
        assembly ("memory-safe") {
            let end := codesize()
            codecopy(0x00, sub(end, 0x40), 0x40) // threshold, size
            quorum := mload(0x00)
            let size := mload(0x20)
            let bytesLength := shl(5, size)
            members := mload(0x40)
            mstore(members, size)
            codecopy(add(members, 0x20), sub(sub(end, 0x40), bytesLength), bytesLength)
            mstore(0x40, add(add(members, 0x20), bytesLength))
        }
    }
}
