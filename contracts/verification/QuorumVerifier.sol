// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ICheckpointVerifier} from "../interfaces/ICheckpointVerifier.sol";
import {Checkpoint} from "../libraries/Messages.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title QuorumVerifier
/// @notice M-of-N validator verification of EIP-712 checkpoints, one validator set per source
/// chain. Inherited by every route destination (the hub ledger, each spoke lockbox).
/// @dev Membership is a mapping keyed by set version, so a rotation never has to clear the old
/// set and a signer of an old set is rejected at once. One cold SLOAD per signature.
abstract contract QuorumVerifier is ICheckpointVerifier, EIP712, AccessControl {
    /// @dev EIP-712 type hash of {Checkpoint}.
    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 sourceChainId,address source,uint64 nonce,bytes32 head)");

    /// @dev Length of one `r || s || v` signature in the blob.
    uint256 private constant SIGNATURE_LENGTH = 65;
    /// @dev Largest s OpenZeppelin's ECDSA accepts (secp256k1n / 2): the high-s twin is rejected.
    uint256 private constant MAX_LOW_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The ecrecover precompile.
    uint256 private constant ECRECOVER = 0x01;

    /// @dev Threshold and version of a source chain's set, packed into one slot.
    struct SetInfo {
        uint8 threshold;
        uint32 version;
    }

    mapping(uint64 sourceChainId => SetInfo) private _setInfo;
    mapping(uint64 sourceChainId => address[]) private _validators;
    mapping(uint64 sourceChainId => mapping(uint32 version => mapping(address => bool))) private _member;

    constructor() EIP712("xmargin", "1") {}

    /// @notice Replaces the validator set (and threshold) for routes from `sourceChainId`.
    /// @dev Governance only (a timelock outside the devnet): a set rotation is slow and visible.
    function setValidators(uint64 sourceChainId, address[] calldata validators, uint8 threshold)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        uint256 size = validators.length;
        if (size == 0 || threshold == 0 || threshold > size) revert ValidatorSetInvalid(size, threshold);
        uint32 version = _setInfo[sourceChainId].version + 1;
        mapping(address => bool) storage member = _member[sourceChainId][version];
        for (uint256 i; i < size; ++i) {
            address v = validators[i];
            if (v == address(0) || member[v]) revert ValidatorSetInvalid(size, threshold);
            member[v] = true;
        }
        _setInfo[sourceChainId] = SetInfo({threshold: threshold, version: version});
        _validators[sourceChainId] = validators;
        emit ValidatorSetUpdated(sourceChainId, validators, threshold, version);
    }

    /// @inheritdoc ICheckpointVerifier
    function verifyCheckpoint(Checkpoint calldata checkpoint, bytes calldata signatures) external view {
        _verifyQuorum(checkpoint, signatures);
    }

    /// @inheritdoc ICheckpointVerifier
    function checkpointDigest(Checkpoint calldata checkpoint) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CHECKPOINT_TYPEHASH, checkpoint.sourceChainId, checkpoint.source, checkpoint.nonce, checkpoint.head
                )
            )
        );
    }

    /// @inheritdoc ICheckpointVerifier
    function validatorsOf(uint64 sourceChainId) external view returns (address[] memory) {
        return _validators[sourceChainId];
    }

    /// @inheritdoc ICheckpointVerifier
    function thresholdOf(uint64 sourceChainId) external view returns (uint8) {
        return _setInfo[sourceChainId].threshold;
    }

    /// @inheritdoc ICheckpointVerifier
    function isValidator(uint64 sourceChainId, address signer) public view returns (bool) {
        return _member[sourceChainId][_setInfo[sourceChainId].version][signer];
    }

    /// @dev Reverts unless `signatures` hold at least `threshold` signatures of distinct
    /// members of the current set over `checkpoint`, signers strictly ascending.
    function _verifyQuorum(Checkpoint calldata checkpoint, bytes calldata signatures) internal view {
        uint256 length = signatures.length;
        if (length % SIGNATURE_LENGTH != 0) revert CheckpointSignaturesMalformed(length);
        uint256 count = length / SIGNATURE_LENGTH;
        SetInfo memory info = _setInfo[checkpoint.sourceChainId];
        if (count < info.threshold || info.threshold == 0) revert CheckpointQuorumNotMet(count, info.threshold);

        bytes32 digest = checkpointDigest(checkpoint);
        mapping(address => bool) storage member = _member[checkpoint.sourceChainId][info.version];
        address previous;
        for (uint256 i; i < count; ++i) {
            address signer = _recover(digest, signatures, i);
            if (signer <= previous) revert CheckpointSignersNotAscending(previous, signer);
            if (!member[signer]) revert CheckpointSignerNotValidator(signer);
            previous = signer;
        }
    }

    /// @dev Recovers signature number `index` of the blob with OpenZeppelin `ECDSA.tryRecover`
    /// semantics: s in the lower half order (no malleable twin), v 27 or 28, a non-zero signer.
    /// Reads r, s, v straight from calldata (the caller checked the blob holds `index`).
    function _recover(bytes32 digest, bytes calldata signatures, uint256 index) private view returns (address signer) {
        assembly ("memory-safe") {
            let sig := add(signatures.offset, mul(index, SIGNATURE_LENGTH))
            let s := calldataload(add(sig, 0x20))
            if iszero(gt(s, MAX_LOW_S)) {
                let m := mload(0x40)
                mstore(m, digest)
                mstore(add(m, 0x20), byte(0, calldataload(add(sig, 0x40)))) // v
                mstore(add(m, 0x40), calldataload(sig)) // r
                mstore(add(m, 0x60), s)
                mstore(0x00, 0)
                // The precompile returns nothing for a bad v or r, and 0 is caught below.
                pop(staticcall(gas(), ECRECOVER, m, 0x80, 0x00, 0x20))
                signer := mload(0x00)
            }
        }
        if (signer == address(0)) revert CheckpointSignatureInvalid(index);
    }
}
