// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IAssetRegistry} from "../interfaces/IMarginLedger.sol";
import {RecoveryMessage} from "../libraries/RecoveryMessage.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title AssetRegistry
/// @notice Assets, the spoke tokens that back them, collateral parameters, and each spoke's
/// liquidity per asset. Collateral is fungible across chains: every listed `(chainId, token)`
/// maps to one asset, and one token unit is worth `scale = 10**(assetDecimals - tokenDecimals)`
/// ledger units, so USDC on two spokes credits one balance.
/// @dev Storage is laid out for the deposit hot path: one slot per `(chainId, token)` holds the
/// asset id, scale, listed flag, capped flag AND that spoke's liquidity of the asset (a spoke has
/// at most one token per asset, so the mapping is one-to-one). Crediting an uncapped asset
/// touches no per-asset slot: its total is the sum over spokes of `liquidity * scale` (exact,
/// because withdrawals debit exactly `tokenAmount * scale`). Only while an asset has a supply
/// cap is its total also kept in storage (`_supply`), for the cap check.
abstract contract AssetRegistry is AccessControl, IAssetRegistry {
    /// @dev A weight is a share of the price in basis points.
    uint16 internal constant MAX_WEIGHT_BPS = 10_000;
    /// @dev Largest ledger decimals an asset may use (10**36 still leaves 2**128 room for amounts).
    uint8 internal constant MAX_ASSET_DECIMALS = 36;
    /// @dev Largest decimal gap between an asset and a token: 10**19 is the largest power of ten
    /// that fits the 64-bit scale field.
    uint8 internal constant MAX_SCALE_DECIMALS = 19;
    /// @dev Decimal base of the scale factor.
    uint256 private constant TEN = 10;

    /// @dev One slot per spoke token: read once (cold) per batch and token, written back warm.
    struct TokenSlot {
        uint128 liquidity; // token units the lockbox holds for ledger balances, net of queued withdrawals
        uint64 scale; // ledger units per token unit
        uint32 assetId; // 0 = never listed
        bool listed; // false = deposits become claims (withdrawals still allowed)
        bool capped; // the asset has a supply cap: `_supply[assetId].total` is maintained
        bool limited; // an inflow bucket is set or deposits are queued (InflowLimiter)
    }

    /// @dev Per-asset supply state, read and written together when crediting a capped asset.
    struct AssetSupply {
        uint128 total; // ledger units credited (== sum of balances); maintained only while cap != 0
        uint128 cap; // supply cap in ledger units, 0 = none
    }

    /// @dev Cold per-asset configuration.
    struct AssetConfig {
        bool listed;
        uint8 decimals;
        uint16 weightBps;
        string symbol;
    }

    mapping(uint64 chainId => mapping(address token => TokenSlot)) internal _tokens;
    mapping(uint64 chainId => mapping(uint32 assetId => address token)) internal _tokenOf;
    mapping(uint32 assetId => AssetSupply) internal _supply;
    mapping(uint32 assetId => AssetConfig) internal _assets;
    mapping(uint32 assetId => uint64[]) private _assetChains;
    uint32[] internal _assetIds;

    /// @inheritdoc IAssetRegistry
    function listAsset(uint32 assetId, string calldata symbol, uint8 decimals)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        if (assetId == 0) revert AssetIdInvalid(assetId);
        if (_assets[assetId].listed) revert AssetAlreadyListed(assetId);
        if (decimals > MAX_ASSET_DECIMALS) revert AssetDecimalsInvalid(decimals);
        _assets[assetId] = AssetConfig({listed: true, decimals: decimals, weightBps: 0, symbol: symbol});
        _assetIds.push(assetId);
        emit AssetListed(assetId, symbol, decimals);
    }

    /// @inheritdoc IAssetRegistry
    function listToken(uint64 chainId, address token, uint32 assetId, uint8 tokenDecimals)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        AssetConfig storage asset = _assets[assetId];
        if (!asset.listed) revert AssetUnknown(assetId);
        uint8 assetDecimals = asset.decimals;
        if (tokenDecimals > assetDecimals || assetDecimals - tokenDecimals > MAX_SCALE_DECIMALS) {
            revert TokenDecimalsInvalid(tokenDecimals, assetDecimals);
        }
        if (token == address(0)) revert TokenZero();
        if (token == RecoveryMessage.MARKER) revert TokenReserved(token);
        if (_tokens[chainId][token].assetId != 0) revert TokenAlreadyListed(chainId, token);
        address existing = _tokenOf[chainId][assetId];
        if (existing != address(0)) revert AssetAlreadyOnSpoke(assetId, chainId, existing);

        uint64 scale = uint64(TEN ** (assetDecimals - tokenDecimals));
        bool capped = _supply[assetId].cap != 0;
        _tokens[chainId][token] =
            TokenSlot({liquidity: 0, scale: scale, assetId: assetId, listed: true, capped: capped, limited: false});
        _tokenOf[chainId][assetId] = token;
        _assetChains[assetId].push(chainId);
        emit TokenListed(chainId, token, assetId, tokenDecimals, scale);
    }

    /// @inheritdoc IAssetRegistry
    /// @dev Delisting only stops new credits (later deposits become claims): balances, liquidity
    /// and withdrawals of the token are untouched, and the token keeps its `(chainId, assetId)`.
    function setTokenListed(uint64 chainId, address token, bool listed) external onlyRole(Roles.GOVERNOR_ROLE) {
        TokenSlot storage slot = _tokens[chainId][token];
        if (slot.assetId == 0) revert TokenUnknown(chainId, token);
        slot.listed = listed;
        emit TokenListingSet(chainId, token, listed);
    }

    /// @inheritdoc IAssetRegistry
    /// @dev A cap below the current total is allowed: balances stay, later deposits become claims.
    /// Setting the first cap snapshots the total (sum over spokes) and flags every token of the
    /// asset as capped; removing the cap clears the flags.
    function setCollateralParams(uint32 assetId, uint16 weightBps, uint256 supplyCap)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        AssetConfig storage asset = _assets[assetId];
        if (!asset.listed) revert AssetUnknown(assetId);
        if (weightBps > MAX_WEIGHT_BPS || supplyCap > type(uint128).max) {
            revert CollateralParamsInvalid(assetId, weightBps, supplyCap);
        }
        asset.weightBps = weightBps;
        AssetSupply storage supply = _supply[assetId];
        bool capped = supplyCap != 0;
        if (capped != (supply.cap != 0)) {
            if (capped) supply.total = SafeCast.toUint128(_sumLiquidity(assetId));
            uint64[] storage chains = _assetChains[assetId];
            for (uint256 i; i < chains.length; ++i) {
                uint64 chainId = chains[i];
                _tokens[chainId][_tokenOf[chainId][assetId]].capped = capped;
            }
        }
        supply.cap = uint128(supplyCap);
        emit CollateralParamsSet(assetId, weightBps, supplyCap);
    }

    /// @inheritdoc IAssetRegistry
    function assetInfo(uint32 assetId)
        external
        view
        returns (string memory symbol, uint8 decimals, uint16 weightBps, uint256 supplyCap, uint256 totalBalance)
    {
        AssetConfig storage asset = _assets[assetId];
        return (asset.symbol, asset.decimals, asset.weightBps, _supply[assetId].cap, _sumLiquidity(assetId));
    }

    /// @notice Ledger decimals and collateral weight (bps) of an asset (ILedgerHooks: the margin
    /// engine's health checks read these two fields only).
    function collateralOf(uint32 assetId) external view returns (uint8 decimals, uint16 weightBps) {
        AssetConfig storage asset = _assets[assetId];
        return (asset.decimals, asset.weightBps);
    }

    /// @inheritdoc IAssetRegistry
    function listedAssets() external view returns (uint32[] memory) {
        return _assetIds;
    }

    /// @inheritdoc IAssetRegistry
    function tokenInfo(uint64 chainId, address token) external view returns (uint32 assetId, uint256 scale, bool listed) {
        TokenSlot memory slot = _tokens[chainId][token];
        return (slot.assetId, slot.scale, slot.listed);
    }

    /// @inheritdoc IAssetRegistry
    function tokenOf(uint64 chainId, uint32 assetId) external view returns (address) {
        return _tokenOf[chainId][assetId];
    }

    /// @inheritdoc IAssetRegistry
    function liquidity(uint64 chainId, uint32 assetId) external view returns (uint256) {
        return _tokens[chainId][_tokenOf[chainId][assetId]].liquidity;
    }

    /// @dev Ledger units of `assetId` credited to accounts: sum over its spokes of liquidity * scale.
    function _sumLiquidity(uint32 assetId) internal view returns (uint256 total) {
        uint64[] storage chains = _assetChains[assetId];
        for (uint256 i; i < chains.length; ++i) {
            uint64 chainId = chains[i];
            TokenSlot storage slot = _tokens[chainId][_tokenOf[chainId][assetId]];
            total += uint256(slot.liquidity) * slot.scale;
        }
    }
}
