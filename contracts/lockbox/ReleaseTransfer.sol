// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ReleaseTransfer
/// @notice Payouts that report failure instead of reverting, with a gas allowance, so that one
/// bad token or recipient can neither revert nor exhaust a whole withdrawal batch.
/// @dev {tryTransfer} is OpenZeppelin's `SafeERC20.trySafeTransfer` (same success rule: the call
/// succeeds and returns `true`, or returns nothing from an address with code) plus a gas cap.
/// Neither function copies more than 32 bytes of return data (no return-data bomb).
library ReleaseTransfer {
    /// @dev Sends `amount` of ERC20 `token` to `to` with at most `gasLimit` gas; true on success.
    function tryTransfer(address token, address to, uint256 amount, uint256 gasLimit) internal returns (bool) {
        bytes memory data = abi.encodeWithSelector(0xa9059cbb, to, amount); // transfer(address,uint256)
        bool success;
        uint256 returnSize;
        uint256 returnValue;
        assembly ("memory-safe") {
            success := call(gasLimit, token, 0, add(data, 0x20), mload(data), 0, 0x20)
            returnSize := returndatasize()
            returnValue := mload(0)
        }
        return success && (returnSize == 0 ? token.code.length > 0 : returnValue == 1);
    }

    /// @dev Sends `amount` of the native coin to `to` with at most `gasLimit` gas; true on success.
    function tryTransferNative(address to, uint256 amount, uint256 gasLimit) internal returns (bool success) {
        assembly ("memory-safe") {
            success := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }
}
