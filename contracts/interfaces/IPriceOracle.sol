// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IPriceOracle
/// @notice USD prices normalised to 1e18, one feed per uint32 id. A collateral asset's feed id is
/// its ledger asset id; a market names the feed id it is priced by.
interface IPriceOracle {
    /// @notice Health of a price. Only `Ok` may be used for risk-increasing actions.
    enum PriceStatus {
        Ok, // fresh and inside every sanity bound
        Stale, // older than the feed's heartbeat: last good price, reduce-only use
        Invalid // no usable price (unset, out of bounds, moved too far, bad round)
    }

    /// @notice Latest price of `feedId` (1e18 USD), its timestamp and status; never reverts for a
    /// configured feed. `price` is 0 when `status == Invalid`.
    function getPrice(uint32 feedId) external view returns (uint256 price, uint64 updatedAt, PriceStatus status);

    /// @notice Price usable for a risk-increasing action; reverts unless the status is `Ok`.
    function freshPrice(uint32 feedId) external view returns (uint256 price);
}
