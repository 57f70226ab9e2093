// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {SignerSet} from "../../libraries/SignerSet.sol";

/// @title SignerSetHarness
/// @notice Test only: exposes SignerSet's assembly recovery next to OpenZeppelin's
/// `ECDSA.tryRecover`, so tests/contracts/verification/test_signer_set_fuzz.py can hold one
/// against the other.
contract SignerSetHarness {
    /// @notice SignerSet.recover: the signer, or zero if the signature does not recover.
    function recoverAssembly(bytes32 digest, bytes calldata signature) external view returns (address) {
        return SignerSet.recover(digest, signature);
    }

    /// @notice SignerSet.recoverPacked on signature `index` of a packed blob.
    function recoverPackedAssembly(bytes32 digest, bytes calldata signatures, uint256 index)
        external
        view
        returns (address)
    {
        return SignerSet.recoverPacked(digest, signatures, index);
    }

    /// @notice OpenZeppelin's verdict: the signer, or zero with the error kind (0 = none).
    function recoverOpenZeppelin(bytes32 digest, bytes calldata signature) external pure returns (address, uint8) {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, signature);
        return (signer, uint8(error));
    }

    /// @notice SignerSet.verify's outcome (as uint8) and failing index.
    function verify(bytes32 digest, bytes calldata signatures, address[] calldata members, uint256 threshold)
        external
        view
        returns (uint8 outcome, uint256 index)
    {
        SignerSet.Verdict memory verdict = SignerSet.verify(digest, signatures, members, threshold);
        return (uint8(verdict.outcome), verdict.index);
    }
}
