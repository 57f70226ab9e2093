// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IPriceOracle
/// @notice USD prices normalised to 1e18, one feed per uint32 id. A collateral asset's feed id is
/// its ledger asset id; a market names the feed id it is priced by. The oracle-failure policy that
/// every caller applies to these statuses is the table in docs/margin.md.
interface IPriceOracle {
    /// @notice Health of a price. Only `Ok` may be used for risk-increasing actions.
    enum PriceStatus {
        Ok, // fresh, inside every sanity bound, sequencer (if any) up past its grace period
        Stale, // older than the feed's heartbeat: the last good price is returned
        Invalid, // unusable (unset, out of bounds, latched after a refused move, bad round)
        SequencerDown // the L2 sequencer is down or inside its grace period after restarting
    }

    /// @notice Latest price of `feedId` (1e18 USD), its timestamp and status; never reverts for a
    /// configured feed. When the status is not `Ok`, `price` is the LAST GOOD price (0 only when
    /// the feed never had one), so that callers can still count positions and value collateral
    /// conservatively.
    function getPrice(uint32 feedId) external view returns (uint256 price, uint64 updatedAt, PriceStatus status);

    /// @notice Price usable for a risk-increasing action; reverts unless the status is `Ok`.
    function freshPrice(uint32 feedId) external view returns (uint256 price);

    /// @notice One published round of `feedId`: its price and time, the time of the round before
    /// it (0 for the first) and whether the round is a usable price (delayed-order settlement
    /// fills at the first round published at or after a target time).
    function roundPrice(uint32 feedId, uint80 roundId)
        external
        view
        returns (uint256 price, uint64 updatedAt, uint64 previousUpdatedAt, bool valid);

    /// @notice False while the optional L2 sequencer-uptime feed reports the sequencer down or the
    /// grace period after its restart has not elapsed (always true without such a feed).
    function sequencerOk() external view returns (bool);

    /// @notice Computes the `getPrice` answer of each configured feed in `feedIds` once and serves
    /// it from transient storage for the rest of the transaction, until `clearPriceCache` or any
    /// change of the oracle's own state (unknown feeds are skipped). Anyone may call it: within
    /// one transaction the answer cannot differ (same block time; every oracle write clears the
    /// cache), so the cache only saves the repeated aggregator walks of one liquidation or fill.
    function cachePrices(uint32[] calldata feedIds) external;

    /// @notice Ends the transaction's price cache (the next reads compute again).
    function clearPriceCache() external;
}
