// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IQuorumSet
/// @notice One frozen M-of-N signer set (contracts/verification/QuorumSet.sol).
interface IQuorumSet {
    /// @notice Reverts unless `signatures` (packed 65-byte `r || s || v`, signers strictly
    /// ascending) hold at least `threshold()` valid signatures of members over `digest`.
    function verify(bytes32 digest, bytes calldata signatures) external view;

    /// @notice The members, sorted strictly ascending.
    function signers() external view returns (address[] memory);

    /// @notice The number of distinct member signatures {verify} needs.
    function threshold() external view returns (uint8);

    /// @notice Whether `who` is a member.
    function isSigner(address who) external view returns (bool);
}
