// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title SignerSet
/// @notice M-of-N quorum checks over ECDSA signatures, for every signer set in xmargin (the
/// checkpoint validator sets of the ledger and the lockboxes; the oracle's report signers).
/// A set is an `address[] memory` sorted strictly ascending (no zero address, no repeats) with a
/// threshold; signatures come as one packed blob of 65-byte `r || s || v` entries, signers in
/// strictly ascending order (which rules out counting one signer twice).
/// @dev Recovery follows OpenZeppelin's `ECDSA.tryRecover` exactly (held against it by
/// tests/contracts/verification/test_signer_set_fuzz.py): a signature recovers only if it is 65
/// bytes, `s` is in the lower half order (the high-s twin of a valid signature is rejected),
/// `v` is 27 or 28, and the precompile returns a non-zero address. Anything else gives
/// `address(0)`, which is never a member.
///
/// The library reverts with nothing: {verify} returns an outcome and the caller raises its own
/// custom error, so every contract keeps errors that name its domain.
library SignerSet {
    /// @dev Length of one `r || s || v` signature.
    uint256 internal constant SIGNATURE_LENGTH = 65;
    /// @dev Largest set a quorum contract accepts (thresholds are uint8).
    uint256 internal constant MAX_SIGNERS = 255;
    /// @dev Largest s OpenZeppelin's ECDSA accepts (secp256k1n / 2): the high-s twin is rejected.
    uint256 private constant MAX_LOW_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The ecrecover precompile.
    uint256 private constant ECRECOVER = 0x01;

    /// @dev Outcome of {verify}. On a failure `index` is the signature at fault and `signer`
    /// (and for SignersNotAscending `previous`) what it recovered to.
    enum Outcome {
        Verified,
        SignaturesMalformed, // blob length not a multiple of 65
        QuorumNotMet, // fewer signatures than the threshold (or a threshold of 0)
        SignatureInvalid, // does not recover (length, high s, bad v, precompile failure)
        SignersNotAscending, // signer not strictly above the previous one
        SignerNotMember // recovered signer is not in the set
    }

    /// @dev Result of {verify}; fields past `outcome` are meaningful only for a failure.
    struct Verdict {
        Outcome outcome;
        uint256 index;
        address previous;
        address signer;
    }

    /// @notice Checks that `signatures` (packed 65-byte entries, signers strictly ascending)
    /// hold at least `threshold` valid signatures over `digest` by distinct members of `members`
    /// (sorted strictly ascending). Every signature in the blob must be valid and a member.
    /// @dev One merge pass over the two ascending lists: O(signatures + members).
    function verify(bytes32 digest, bytes calldata signatures, address[] memory members, uint256 threshold)
        internal
        view
        returns (Verdict memory verdict)
    {
        uint256 length = signatures.length;
        if (length % SIGNATURE_LENGTH != 0) {
            verdict.outcome = Outcome.SignaturesMalformed;
            verdict.index = length;
            return verdict;
        }
        uint256 count = length / SIGNATURE_LENGTH;
        if (count < threshold || threshold == 0) {
            verdict.outcome = Outcome.QuorumNotMet;
            verdict.index = count;
            return verdict;
        }
        uint256 size = members.length;
        uint256 next; // members below `next` are below every signer still to come
        address previous;
        for (uint256 i; i < count;) {
            address signer = recoverPacked(digest, signatures, i);
            if (signer == address(0)) return Verdict(Outcome.SignatureInvalid, i, previous, signer);
            if (signer <= previous) return Verdict(Outcome.SignersNotAscending, i, previous, signer);
            bool found;
            assembly ("memory-safe") {
                // Both lists ascend: skip the members below `signer`; the next one must be it.
                // (At next == size the read lands past the array; its value is never used.)
                let base := add(members, 0x20)
                for {} and(lt(next, size), lt(mload(add(base, shl(5, next))), signer)) { next := add(next, 1) } {}
                found := and(lt(next, size), eq(mload(add(base, shl(5, next))), signer))
            }
            if (!found) return Verdict(Outcome.SignerNotMember, i, previous, signer);
            previous = signer;
            unchecked {
                ++i;
            }
        }
    }

    /// @notice Signer of signature number `index` of a packed blob over `digest`, or
    /// `address(0)` if it does not recover. The caller keeps `index` inside the blob.
    function recoverPacked(bytes32 digest, bytes calldata signatures, uint256 index)
        internal
        view
        returns (address signer)
    {
        uint256 offset;
        assembly ("memory-safe") {
            offset := add(signatures.offset, mul(index, SIGNATURE_LENGTH))
        }
        return _recover(digest, offset);
    }

    /// @notice Signer of one signature over `digest` with OpenZeppelin's `ECDSA.tryRecover`
    /// rules, or `address(0)` if it does not recover (including any length but 65).
    function recover(bytes32 digest, bytes calldata signature) internal view returns (address) {
        if (signature.length != SIGNATURE_LENGTH) return address(0);
        uint256 offset;
        assembly ("memory-safe") {
            offset := signature.offset
        }
        return _recover(digest, offset);
    }

    /// @notice Whether `list` is sorted strictly ascending with no zero address (so no repeats).
    function isStrictlyAscending(address[] memory list) internal pure returns (bool) {
        // slither-disable-next-line uninitialized-local address(0): lower bound (refuses zero too)
        address previous;
        for (uint256 i; i < list.length; ++i) {
            if (list[i] <= previous) return false;
            previous = list[i];
        }
        return true;
    }

    /// @notice Sorts `list` ascending in place (insertion sort: for governance-sized sets) and
    /// returns whether it is then strictly ascending with no zero address.
    function sortUnique(address[] memory list) internal pure returns (bool) {
        uint256 size = list.length;
        assembly ("memory-safe") {
            let first := add(list, 0x20)
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
        return isStrictlyAscending(list);
    }

    /// @notice Whether `who` is in `members` (sorted ascending): binary search.
    function contains(address[] memory members, address who) internal pure returns (bool) {
        // slither-disable-next-line uninitialized-local the binary search starts at index 0
        uint256 low;
        uint256 high = members.length;
        while (low < high) {
            uint256 mid = (low + high) >> 1;
            address member = members[mid];
            if (member == who) return true;
            if (member < who) low = mid + 1;
            else high = mid;
        }
        return false;
    }

    /// @dev ecrecover of the 65 calldata bytes at `offset` (`r || s || v`) with OpenZeppelin's
    /// rules; `address(0)` when it does not recover.
    function _recover(bytes32 digest, uint256 offset) private view returns (address signer) {
        assembly ("memory-safe") {
            let s := calldataload(add(offset, 0x20))
            if iszero(gt(s, MAX_LOW_S)) {
                let input := mload(0x40) // scratch above the free pointer, not allocated
                mstore(input, digest)
                mstore(add(input, 0x20), byte(0, calldataload(add(offset, 0x40)))) // v
                mstore(add(input, 0x40), calldataload(offset)) // r
                mstore(add(input, 0x60), s)
                mstore(0x00, 0)
                // The precompile returns nothing for a bad v (not 27/28) or r (0 stays in place).
                pop(staticcall(gas(), ECRECOVER, input, 0x80, 0x00, 0x20))
                signer := mload(0x00)
            }
        }
    }
}
