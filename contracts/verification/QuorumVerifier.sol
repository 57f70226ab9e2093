// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ICheckpointVerifier} from "../interfaces/ICheckpointVerifier.sol";
import {Checkpoint} from "../libraries/Messages.sol";
import {Roles} from "../libraries/Roles.sol";
import {ValidatorSetCode} from "./ValidatorSetCode.sol";

/// @title QuorumVerifier
/// @notice M-of-N validator verification of EIP-712 checkpoints, one validator set per source
/// chain. Inherited by every route destination (the hub ledger, each spoke lockbox).
/// @dev Each set lives in the code of its own data contract (ValidatorSetCode: members sorted
/// ascending); one slot per source chain packs that contract's address with the threshold, the
/// size and the set version. Verifying costs one cold SLOAD and one EXTCODECOPY whatever the
/// threshold, and the ascending signers are matched against the ascending members in one merge
/// pass. A rotation points the slot at a new data contract, so the old set is dropped at once.
abstract contract QuorumVerifier is ICheckpointVerifier, EIP712, AccessControl {
    /// @dev EIP-712 type hash of {Checkpoint}.
    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 sourceChainId,address source,uint64 nonce,bytes32 head)");

    /// @notice Largest validator set a source chain may have (thresholds are uint8 too).
    uint256 public constant MAX_VALIDATORS = 255;

    /// @dev Length of one `r || s || v` signature in the blob.
    uint256 private constant SIGNATURE_LENGTH = 65;
    /// @dev Largest s OpenZeppelin's ECDSA accepts (secp256k1n / 2): the high-s twin is rejected.
    uint256 private constant MAX_LOW_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The ecrecover precompile.
    uint256 private constant ECRECOVER = 0x01;
    /// @dev Bytes per member in a set's data contract (ValidatorSetCode).
    uint256 private constant MEMBER_BYTES = 20;
    /// @dev Outcomes of {_matchSigners}.
    uint256 private constant MATCHED = 0;
    uint256 private constant SIGNATURE_INVALID = 1;
    uint256 private constant SIGNERS_NOT_ASCENDING = 2;
    uint256 private constant SIGNER_NOT_VALIDATOR = 3;

    /// @dev A source chain's current set, one slot: read whole by every verification.
    struct ValidatorSet {
        address pointer; // data contract holding the members (ValidatorSetCode)
        uint8 threshold;
        uint16 size;
        uint32 version;
    }

    mapping(uint64 sourceChainId => ValidatorSet) private _sets;

    constructor() EIP712("xmargin", "1") {}

    /// @notice Replaces the validator set (and threshold) for routes from `sourceChainId`.
    /// @dev Governance only (a timelock outside the devnet): a set rotation is slow and visible.
    /// The members are stored sorted ascending (so {validatorsOf} lists them in that order); the
    /// event carries them as given. At most MAX_VALIDATORS members.
    function setValidators(uint64 sourceChainId, address[] calldata validators, uint8 threshold)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        uint256 size = validators.length;
        if (size == 0 || size > MAX_VALIDATORS || threshold == 0 || threshold > size) {
            revert ValidatorSetInvalid(size, threshold);
        }
        address[] memory members = _sortedMembers(validators, threshold);
        uint32 version = _sets[sourceChainId].version + 1;
        _sets[sourceChainId] = ValidatorSet({
            pointer: ValidatorSetCode.write(members),
            threshold: threshold,
            size: uint16(size), // <= MAX_VALIDATORS
            version: version
        });
        emit ValidatorSetUpdated(sourceChainId, validators, threshold, version);
    }

    /// @inheritdoc ICheckpointVerifier
    function verifyCheckpoint(Checkpoint calldata checkpoint, bytes calldata signatures) external view {
        _verifyQuorum(checkpoint, signatures);
    }

    /// @inheritdoc ICheckpointVerifier
    /// @dev EIP-712 `hashStruct` in assembly over the calldata struct; a field with dirty high
    /// bits reverts (empty data) as Solidity's own calldata decoding does. The domain separator is
    /// OpenZeppelin's, cached in an immutable.
    function checkpointDigest(Checkpoint calldata checkpoint) public view returns (bytes32) {
        bytes32 typehash = CHECKPOINT_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let sourceChainId := calldataload(checkpoint)
            let source := calldataload(add(checkpoint, 0x20))
            let nonce := calldataload(add(checkpoint, 0x40))
            if or(or(shr(64, sourceChainId), shr(160, source)), shr(64, nonce)) { revert(0, 0) }
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), sourceChainId)
            mstore(add(m, 0x40), source)
            mstore(add(m, 0x60), nonce)
            mstore(add(m, 0x80), calldataload(add(checkpoint, 0x60)))
            structHash := keccak256(m, 0xa0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @inheritdoc ICheckpointVerifier
    /// @dev Sorted ascending (not in the order governance passed them).
    function validatorsOf(uint64 sourceChainId) external view returns (address[] memory) {
        ValidatorSet memory set = _sets[sourceChainId];
        return ValidatorSetCode.read(set.pointer, set.size);
    }

    /// @inheritdoc ICheckpointVerifier
    function thresholdOf(uint64 sourceChainId) external view returns (uint8) {
        return _sets[sourceChainId].threshold;
    }

    /// @inheritdoc ICheckpointVerifier
    function isValidator(uint64 sourceChainId, address signer) public view returns (bool) {
        ValidatorSet memory set = _sets[sourceChainId];
        uint256 members = ValidatorSetCode.load(set.pointer, set.size);
        for (uint256 i; i < set.size; ++i) {
            if (ValidatorSetCode.at(members, i) == signer) return true;
        }
        return false;
    }

    /// @dev Reverts unless `signatures` hold at least `threshold` signatures of distinct
    /// members of the current set over `checkpoint`, signers strictly ascending.
    function _verifyQuorum(Checkpoint calldata checkpoint, bytes calldata signatures) internal view {
        uint256 length = signatures.length;
        if (length % SIGNATURE_LENGTH != 0) revert CheckpointSignaturesMalformed(length);
        uint256 count = length / SIGNATURE_LENGTH;
        ValidatorSet memory set = _sets[checkpoint.sourceChainId];
        if (count < set.threshold || set.threshold == 0) revert CheckpointQuorumNotMet(count, set.threshold);

        bytes32 digest = checkpointDigest(checkpoint);
        uint256 members = ValidatorSetCode.load(set.pointer, set.size);
        (uint256 failure, uint256 index, address previous, address signer) =
            _matchSigners(digest, signatures, count, members, set.size);
        if (failure == MATCHED) return;
        if (failure == SIGNATURE_INVALID) revert CheckpointSignatureInvalid(index);
        if (failure == SIGNERS_NOT_ASCENDING) revert CheckpointSignersNotAscending(previous, signer);
        revert CheckpointSignerNotValidator(signer);
    }

    /// @dev Recovers the `count` signatures of the blob over `digest` and matches the signers
    /// against the `size` ascending members (loaded at `members`) in one merge pass. Returns
    /// MATCHED, or the first failure: signature `index` does not recover (OpenZeppelin
    /// `ECDSA.tryRecover` rules: s in the lower half order, v 27 or 28, a non-zero signer), `signer`
    /// is not above `previous`, or `signer` is not a member.
    function _matchSigners(bytes32 digest, bytes calldata signatures, uint256 count, uint256 members, uint256 size)
        private
        view
        returns (uint256 failure, uint256 index, address previous, address signer)
    {
        assembly ("memory-safe") {
            let input := mload(0x40) // ecrecover input (digest, v, r, s), scratch above the free pointer
            mstore(input, digest)
            let next := 0 // members below `next` are below every signer still to come
            for {} lt(index, count) { index := add(index, 1) } {
                let sig := add(signatures.offset, mul(index, SIGNATURE_LENGTH))
                let s := calldataload(add(sig, 0x20))
                signer := 0
                if iszero(gt(s, MAX_LOW_S)) {
                    mstore(add(input, 0x20), byte(0, calldataload(add(sig, 0x40)))) // v
                    mstore(add(input, 0x40), calldataload(sig)) // r
                    mstore(add(input, 0x60), s)
                    mstore(0x00, 0)
                    // The precompile returns nothing for a bad v or r (0 stays in place).
                    pop(staticcall(gas(), ECRECOVER, input, 0x80, 0x00, 0x20))
                    signer := mload(0x00)
                }
                if iszero(signer) {
                    failure := SIGNATURE_INVALID
                    break
                }
                if iszero(gt(signer, previous)) {
                    failure := SIGNERS_NOT_ASCENDING
                    break
                }
                // Both lists ascend: skip the members below `signer`; the next one must be it.
                // (At next == size the read lands in ValidatorSetCode.load's spare word; unused.)
                for {} and(lt(next, size), lt(shr(96, mload(add(members, mul(next, MEMBER_BYTES)))), signer)) {
                    next := add(next, 1)
                } {}
                if or(eq(next, size), iszero(eq(shr(96, mload(add(members, mul(next, MEMBER_BYTES)))), signer))) {
                    failure := SIGNER_NOT_VALIDATOR
                    break
                }
                previous := signer
            }
        }
    }

    /// @dev `validators` sorted ascending (insertion sort in assembly: governance only, at most
    /// MAX_VALIDATORS); reverts with ValidatorSetInvalid on a zero or repeated address.
    function _sortedMembers(address[] calldata validators, uint8 threshold)
        private
        pure
        returns (address[] memory members)
    {
        members = validators;
        uint256 size = members.length;
        assembly ("memory-safe") {
            let first := add(members, 0x20)
            let end := add(first, shl(5, size))
            for { let i := add(first, 0x20) } lt(i, end) { i := add(i, 0x20) } {
                let member := mload(i)
                let j := i
                for {} and(gt(j, first), gt(mload(sub(j, 0x20)), member)) { j := sub(j, 0x20) } {
                    mstore(j, mload(sub(j, 0x20)))
                }
                mstore(j, member)
            }
        }
        // Sorted: the zero address can only come first, and a repeat sits next to its twin.
        if (members[0] == address(0)) revert ValidatorSetInvalid(size, threshold);
        for (uint256 i = 1; i < size; ++i) {
            if (members[i] == members[i - 1]) revert ValidatorSetInvalid(size, threshold);
        }
    }
}
