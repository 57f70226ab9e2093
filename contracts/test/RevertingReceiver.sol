// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title RevertingReceiver
/// @notice TEST ONLY. A native-coin recipient that accepts, rejects (reverts) or burns all the gas
/// it is given, as configured.
contract RevertingReceiver {
    /// @notice What `receive` does.
    enum Mode {
        Accept,
        Revert,
        BurnGas
    }

    /// @notice The receiver is rejecting payments.
    error RevertingReceiverRejected(uint256 amount);

    Mode public mode;

    constructor(Mode mode_) {
        mode = mode_;
    }

    /// @notice Changes what `receive` does (tests only).
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    receive() external payable {
        if (mode == Mode.Revert) revert RevertingReceiverRejected(msg.value);
        if (mode == Mode.BurnGas) {
            while (true) {}
        }
    }
}
