// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IAggregatorV3} from "../../interfaces/IAggregatorV3.sol";

/// @title MockAggregatorV3
/// @notice Test/devnet stand-in for a Chainlink aggregator: anyone may push rounds. Never deploy
/// outside tests and the devnet.
contract MockAggregatorV3 is IAggregatorV3 {
    /// @dev A stored round.
    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    /// @dev Emitted for every pushed round.
    event RoundPushed(uint80 indexed roundId, int256 answer, uint256 updatedAt);

    /// @inheritdoc IAggregatorV3
    uint8 public immutable decimals;
    /// @dev Latest round id (0 = none yet).
    uint80 public latestRound;
    /// @dev Rounds by id.
    mapping(uint80 => Round) public rounds;

    constructor(uint8 decimals_) {
        decimals = decimals_;
    }

    /// @notice Pushes a round stamped with the current block time.
    function push(int256 answer) external {
        pushAt(answer, block.timestamp);
    }

    /// @notice Pushes a round with an explicit `updatedAt` (to test stale and future rounds).
    function pushAt(int256 answer, uint256 updatedAt) public {
        latestRound += 1;
        rounds[latestRound] = Round(answer, updatedAt);
        emit RoundPushed(latestRound, answer, updatedAt);
    }

    /// @inheritdoc IAggregatorV3
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = rounds[latestRound];
        return (latestRound, r.answer, r.updatedAt, r.updatedAt, latestRound);
    }

    /// @inheritdoc IAggregatorV3
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = rounds[roundId];
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }
}
