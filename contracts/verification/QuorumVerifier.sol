// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ICheckpointVerifier} from "../interfaces/ICheckpointVerifier.sol";
import {IQuorumSet} from "../interfaces/IQuorumSet.sol";
import {Checkpoint} from "../libraries/Messages.sol";
import {Roles} from "../libraries/Roles.sol";
import {SignerSet} from "../libraries/SignerSet.sol";
import {QuorumSetFactory} from "./QuorumSetFactory.sol";

/// @title QuorumVerifier
/// @notice M-of-N validator verification of EIP-712 checkpoints, one validator set per source
/// chain. Inherited by every route destination (the hub ledger, each spoke lockbox).
/// @dev The destination keeps only the EIP-712 digest (its own domain: validators sign for this
/// contract) and one slot per source chain pointing at a QuorumSet contract, which holds the set
/// and threshold in its code and runs the signature check (SignerSet). A rotation deploys a new
/// QuorumSet through this contract's own QuorumSetFactory (created in the constructor, so
/// neither adds to this contract's runtime size) and re-points the slot: the old set is dropped
/// at once. Verifying costs one cold SLOAD and one cold call whatever the threshold.
abstract contract QuorumVerifier is ICheckpointVerifier, AccessControl {
    /// @dev EIP-712 type hash of {Checkpoint}.
    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 sourceChainId,address source,uint64 nonce,bytes32 head)");

    /// @dev EIP-712 domain: name "xmargin", version "1", this chain, this contract.
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant DOMAIN_NAME_HASH = keccak256("xmargin");
    bytes32 private constant DOMAIN_VERSION_HASH = keccak256("1");

    /// @notice Largest validator set a source chain may have (thresholds are uint8 too).
    uint256 public constant MAX_VALIDATORS = SignerSet.MAX_SIGNERS;

    /// @notice Deploys this destination's QuorumSet contracts.
    QuorumSetFactory public immutable quorumSetFactory;

    /// @dev A source chain's current set, one slot: read whole by every verification.
    struct ValidatorSet {
        address quorumSet; // QuorumSet holding the members and the threshold
        uint8 threshold; // copy of the set's threshold, for {thresholdOf}
        uint32 version;
    }

    /// @dev The domain separator at deployment, and the chain it was computed for (after a
    /// fork changes the chain id it is recomputed, as OpenZeppelin's EIP712 does).
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    mapping(uint64 sourceChainId => ValidatorSet) private _sets;

    /// @dev The domain is built here rather than inherited from OpenZeppelin's EIP712, whose
    /// ERC-5267 `eip712Domain()` view and string fallbacks cost about 1 KB of runtime size.
    constructor() {
        quorumSetFactory = new QuorumSetFactory();
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    /// @notice Replaces the validator set (and threshold) for routes from `sourceChainId`.
    /// @dev Governance only (a timelock outside the devnet): a set rotation is slow and visible.
    /// The members are stored sorted ascending (so {validatorsOf} lists them in that order); the
    /// event carries them as given. At most MAX_VALIDATORS members, no zero or repeated address
    /// (the factory reverts with ValidatorSetInvalid).
    function setValidators(uint64 sourceChainId, address[] calldata validators, uint8 threshold)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        address quorumSet = quorumSetFactory.deploy(validators, threshold);
        uint32 version = _sets[sourceChainId].version + 1;
        _sets[sourceChainId] = ValidatorSet({quorumSet: quorumSet, threshold: threshold, version: version});
        emit ValidatorSetUpdated(sourceChainId, validators, threshold, version);
    }

    /// @inheritdoc ICheckpointVerifier
    /// @dev The factory deploys the reduced set (sets live in bytecode) with the same threshold,
    /// refusing a removal that would leave fewer members than the threshold; the slot is
    /// re-pointed, so checkpoints the removed validator signed to reach quorum fail from now on.
    function removeValidator(uint64 sourceChainId, address validator) external onlyRole(Roles.GUARDIAN_ROLE) {
        ValidatorSet storage set = _sets[sourceChainId];
        address quorumSet = set.quorumSet;
        if (quorumSet == address(0)) revert ValidatorNotInSet(sourceChainId, validator);
        // slither-disable-next-line reentrancy-no-eth the factory is fixed at construction and only deploys a QuorumSet (no callback)
        address reduced = quorumSetFactory.deployWithout(sourceChainId, quorumSet, validator);
        uint32 version = set.version + 1;
        set.quorumSet = reduced;
        set.version = version;
        emit ValidatorRemoved(sourceChainId, validator, version);
    }

    /// @inheritdoc ICheckpointVerifier
    function verifyCheckpoint(Checkpoint calldata checkpoint, bytes calldata signatures) external view {
        _verifyQuorum(checkpoint, signatures);
    }

    /// @inheritdoc ICheckpointVerifier
    /// @dev EIP-712 `hashStruct` in assembly over the calldata struct; a field with dirty high
    /// bits reverts (empty data) as Solidity's own calldata decoding does. The domain separator is
    /// cached in an immutable.
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
        bytes32 domain = block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    /// @inheritdoc ICheckpointVerifier
    /// @dev Sorted ascending (not in the order governance passed them).
    function validatorsOf(uint64 sourceChainId) external view returns (address[] memory) {
        address quorumSet = _sets[sourceChainId].quorumSet;
        if (quorumSet == address(0)) return new address[](0);
        return _membersOf(quorumSet);
    }

    /// @inheritdoc ICheckpointVerifier
    function thresholdOf(uint64 sourceChainId) external view returns (uint8) {
        return _sets[sourceChainId].threshold;
    }

    /// @inheritdoc ICheckpointVerifier
    function isValidator(uint64 sourceChainId, address signer) external view returns (bool) {
        address quorumSet = _sets[sourceChainId].quorumSet;
        return quorumSet != address(0) && SignerSet.contains(_membersOf(quorumSet), signer);
    }

    /// @notice The QuorumSet contract currently verifying routes from `sourceChainId` (zero if
    /// none) and the set's version (1 for the first set, +1 per rotation).
    function quorumSetOf(uint64 sourceChainId) external view returns (address quorumSet, uint32 version) {
        ValidatorSet storage set = _sets[sourceChainId];
        return (set.quorumSet, set.version);
    }

    /// @dev The members of a QuorumSet, read from its code tail (layout in QuorumSet).
    function _membersOf(address quorumSet) private view returns (address[] memory members) {
        assembly ("memory-safe") {
            let end := extcodesize(quorumSet)
            extcodecopy(quorumSet, 0x00, sub(end, 0x20), 0x20) // size
            let bytesLength := shl(5, mload(0x00))
            members := mload(0x40)
            mstore(members, mload(0x00))
            extcodecopy(quorumSet, add(members, 0x20), sub(sub(end, 0x40), bytesLength), bytesLength)
            mstore(0x40, add(add(members, 0x20), bytesLength))
        }
    }

    /// @dev EIP-712 domain separator of this contract on the current chain.
    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, block.chainid, address(this))
        );
    }

    /// @dev Reverts unless `signatures` hold at least `threshold` signatures of distinct
    /// members of the current set over `checkpoint`, signers strictly ascending. The QuorumSet's
    /// revert (ICheckpointVerifier's errors) bubbles up unchanged.
    function _verifyQuorum(Checkpoint calldata checkpoint, bytes calldata signatures) internal view {
        address quorumSet = _sets[checkpoint.sourceChainId].quorumSet;
        if (quorumSet == address(0)) {
            uint256 length = signatures.length;
            if (length % SignerSet.SIGNATURE_LENGTH != 0) revert CheckpointSignaturesMalformed(length);
            revert CheckpointQuorumNotMet(length / SignerSet.SIGNATURE_LENGTH, 0);
        }
        IQuorumSet(quorumSet).verify(checkpointDigest(checkpoint), signatures);
    }
}
