// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ILedgerHooks
/// @notice The part of the MarginLedger (hub) that the margin engine uses: the seam agreed in
/// briefs/hooks.md. Declared here so the margin contracts compile without the ledger's own files;
/// the ledger implements every function with exactly these signatures.
interface ILedgerHooks {
    /// @notice One collateral holding of `collateralState`: a listed asset with a non-zero
    /// balance and a non-zero collateral weight.
    struct Collateral {
        uint32 assetId;
        uint8 decimals;
        uint16 weightBps;
        uint256 balance;
    }

    /// @notice The holdings a health check values (each listed asset, in `listedAssets` order,
    /// of non-zero balance and weight) and the account's signed USD balance, in one call.
    function collateralState(address account) external view returns (Collateral[] memory held, int256 usd);

    /// @notice Ledger-unit balance (the asset's decimals) of `assetId` held by `account`.
    function balanceOf(address account, uint32 assetId) external view returns (uint256);

    /// @notice Ids of every listed asset.
    function listedAssets() external view returns (uint32[] memory);

    /// @notice Registry entry of an asset: symbol, ledger decimals, collateral weight (bps),
    /// supply cap (0 = none) and the total credited balance.
    function assetInfo(uint32 assetId)
        external
        view
        returns (string memory symbol, uint8 decimals, uint16 weightBps, uint256 supplyCap, uint256 totalBalance);

    /// @notice Ledger decimals and collateral weight (bps) of an asset: the two fields of
    /// `assetInfo` a health check needs, without its symbol copy and liquidity sum.
    function collateralOf(uint32 assetId) external view returns (uint8 decimals, uint16 weightBps);

    /// @notice Signed USD balance (1e18 = 1 USD): realized PnL, fees, funding.
    function usdBalanceOf(address account) external view returns (int256);

    /// @notice Moves `amount` USD from `from` to `to` (MARGIN_ROLE); either side may go negative.
    function transferUsd(address from, address to, uint256 amount) external;

    /// @notice Moves ledger-unit collateral between accounts (MARGIN_ROLE).
    function transferCollateral(address from, address to, uint32 assetId, uint256 amount) external;

    /// @notice Writes a negative USD balance off into `badDebt()` (MARGIN_ROLE).
    function writeOffBadDebt(address account) external returns (uint256 written);

    /// @notice Total bad debt written off so far (1e18 USD).
    function badDebt() external view returns (uint256);

    /// @notice The insurance fund account (an ordinary ledger account).
    function insuranceFund() external view returns (address);
}
