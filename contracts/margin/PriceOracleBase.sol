// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title PriceOracleBase
/// @notice Errors, events, storage, governance and pure helpers of the PriceOracle (the price
/// logic lives in PriceOracle).
abstract contract PriceOracleBase is IPriceOracle, AccessControl, EIP712 {
    // ---------------------------------------------------------------- errors
    /// @dev No feed is configured under `feedId`.
    error OracleFeedUnknown(uint32 feedId);
    /// @dev Governance passed a zero heartbeat, empty or inverted bounds, a maximum price above
    /// type(uint128).max, a move bound outside (0, 10_000] bps, a zero aggregator or unsupported
    /// decimals.
    error OracleFeedConfigInvalid(uint32 feedId);
    /// @dev The price is older than the feed's heartbeat.
    error OraclePriceStale(uint32 feedId, uint64 updatedAt, uint32 heartbeat);
    /// @dev The feed has no usable price (unset, out of bounds, latched after a refused move, bad round).
    error OraclePriceInvalid(uint32 feedId);
    /// @dev The L2 sequencer is down or inside its grace period: risk-increasing actions wait.
    error OracleSequencerDown(uint32 feedId);
    /// @dev Governance set an empty signer set, a threshold of 0 or above the set size, too many
    /// signers, or a zero / duplicate / unsorted address.
    error OracleSignerSetInvalid(uint256 size, uint256 threshold);
    /// @dev A report was submitted for a feed that is not a signed-report feed.
    error OracleFeedNotSigned(uint32 feedId);
    /// @dev Fewer valid signatures than the threshold.
    error OracleReportQuorumNotMet(uint256 signatures, uint256 threshold);
    /// @dev A signature does not recover to a member of the signer set.
    error OracleReportSignerUnknown(address signer);
    /// @dev Signers must be strictly ascending (rules out duplicates).
    error OracleReportSignersNotAscending(address previous, address signer);
    /// @dev A report is from the future, older than the heartbeat, or not newer than the stored one.
    error OracleReportTimestampInvalid(uint64 timestamp, uint64 lastUpdatedAt);
    /// @dev A report's round is not above the last stored round of the feed.
    error OracleReportRoundInvalid(uint64 round, uint64 lastRound);
    /// @dev The reported price is outside the feed's [minPrice, maxPrice].
    error OracleReportPriceOutOfBounds(uint256 price, uint256 minPrice, uint256 maxPrice);
    /// @dev Governance asked to resolve a feed that has nothing to resolve.
    error OracleFeedNotLatched(uint32 feedId);
    /// @dev The sequencer grace period is 0 while a sequencer feed is set.
    error OracleSequencerConfigInvalid();

    // ---------------------------------------------------------------- events
    /// @dev A feed was configured or reconfigured.
    event FeedConfigured(
        uint32 indexed feedId, SourceKind kind, address aggregator, uint32 heartbeat, uint256 minPrice,
        uint256 maxPrice, uint16 maxMoveBps
    );
    /// @dev The oracle signer set changed.
    event SignersUpdated(address[] signers, uint8 threshold);
    /// @dev A signed report was accepted as the feed's price.
    event PriceReported(uint32 indexed feedId, uint64 indexed round, uint256 price, uint64 timestamp);
    /// @dev A signed report moved too far from the last good price: the feed is latched Invalid
    /// until a later report confirms the new level or governance resolves it.
    event PriceRefused(uint32 indexed feedId, uint64 indexed round, uint256 previous, uint256 price);
    /// @dev The aggregator anchor (last good round) advanced.
    event AggregatorSynced(uint32 indexed feedId, uint80 round, uint256 price);
    /// @dev Governance accepted the feed's current (or pending) price after a latch.
    event FeedResolved(uint32 indexed feedId, uint256 price, uint64 updatedAt);
    /// @dev The sequencer-uptime feed changed (address(0): none).
    event SequencerFeedSet(address feed, uint32 gracePeriod);

    // ---------------------------------------------------------------- types & constants
    /// @dev Where a feed's price comes from.
    enum SourceKind {
        None,
        Aggregator,
        Signed
    }

    /// @dev Configuration of a feed and its last good price. Aggregator feeds: `lastPrice` /
    /// `lastUpdatedAt` / `lastRound` are the anchor (last round accepted by `syncFeed`). Signed
    /// feeds: the last accepted report; `lastRound` is the last stored round (accepted or refused).
    struct Feed {
        SourceKind kind;
        uint8 aggregatorDecimals;
        uint16 maxMoveBps;
        uint32 heartbeat;
        address aggregator;
        uint256 minPrice;
        uint256 maxPrice;
        uint256 lastPrice;
        uint64 lastUpdatedAt;
        uint64 lastRound;
        bool latched; // a signed move was refused: Invalid until confirmed or resolved
        uint256 pendingPrice; // the refused price a later report may confirm
        uint64 pendingAt;
    }

    /// @dev How a feed is stored: `Feed` packed into four slots so that a synced price read
    /// touches two (configuration with the latch flag; last good price with its time and
    /// round). Prices fit 128 bits because `maxPrice` <= type(uint128).max (3.4e20 USD, the
    /// same bound positions and orders store prices under) and every stored price is within
    /// [minPrice, maxPrice].
    struct FeedStore {
        SourceKind kind;
        uint8 aggregatorDecimals;
        uint16 maxMoveBps;
        uint32 heartbeat;
        address aggregator;
        bool latched;
        uint128 lastPrice;
        uint64 lastUpdatedAt;
        uint64 lastRound;
        uint128 minPrice;
        uint128 maxPrice;
        uint128 pendingPrice;
        uint64 pendingAt;
    }

    /// @dev One stored signed round (for delayed-order settlement).
    struct SignedRound {
        uint256 price;
        uint64 timestamp;
        uint64 previousTimestamp;
        bool valid;
    }

    /// @dev EIP-712 type of a signed report: one price per (feed, round), signed by a quorum.
    bytes32 public constant PRICE_REPORT_TYPEHASH =
        keccak256("PriceReport(uint32 feedId,uint64 round,uint256 price,uint64 timestamp)");
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @dev Decimals of every normalised price.
    uint8 internal constant PRICE_DECIMALS = 18;
    /// @dev Largest aggregator decimals accepted (keeps the scaling exact and bounded).
    uint8 internal constant MAX_AGGREGATOR_DECIMALS = 36;
    /// @dev Largest signer set (bounds the recovery loop).
    uint256 internal constant MAX_SIGNERS = 31;
    /// @dev Aggregator rounds checked pairwise after the anchor (bounds every price read).
    uint80 internal constant MAX_WALK = 4;
    /// @dev Transient slot of the price cache's epoch (bumped to clear every cached price at once).
    bytes32 internal constant CACHE_EPOCH_SLOT = keccak256("xmargin.PriceOracle.cacheEpoch");
    /// @dev Namespace of the transient price-cache entries.
    bytes32 internal constant CACHE_NS = keccak256("xmargin.PriceOracle.cache");
    /// @dev Flag bit of a cache entry's meta word (an entry with it clear is empty).
    uint256 internal constant CACHE_HIT = 1 << 128;

    // ---------------------------------------------------------------- storage
    /// @dev Feeds by id.
    mapping(uint32 feedId => FeedStore) internal _feeds;
    /// @dev Signed rounds by feed and round.
    mapping(uint32 feedId => mapping(uint64 round => SignedRound)) internal _rounds;
    /// @dev Oracle signers (sorted ascending) and the quorum.
    address[] internal _signers;
    /// @dev Quorum of distinct signers a report needs.
    uint8 public signerThreshold;
    /// @dev Membership of the signer set.
    mapping(address => bool) public isSigner;
    /// @dev Optional Chainlink L2 sequencer-uptime feed (answer 0 = up, 1 = down).
    address public sequencerFeed;
    /// @dev Seconds after the sequencer comes back before risk-increasing actions and liquidations resume.
    uint32 public sequencerGracePeriod;

    constructor(address admin) EIP712("xmargin", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    // ---------------------------------------------------------------- governance
    /// @notice Replaces the oracle signer set (strictly ascending addresses) and its quorum
    /// (GOVERNOR_ROLE).
    function setSigners(address[] calldata signers_, uint8 threshold) external onlyRole(Roles.GOVERNOR_ROLE) {
        uint256 n = signers_.length;
        if (n == 0 || n > MAX_SIGNERS || threshold == 0 || threshold > n) {
            revert OracleSignerSetInvalid(n, threshold);
        }
        for (uint256 i; i < _signers.length; ++i) {
            isSigner[_signers[i]] = false;
        }
        // slither-disable-next-line uninitialized-local address(0): lower bound of the ascending check
        address previous;
        for (uint256 i; i < n; ++i) {
            if (signers_[i] <= previous) revert OracleSignerSetInvalid(n, threshold);
            isSigner[signers_[i]] = true;
            previous = signers_[i];
        }
        _signers = signers_;
        signerThreshold = threshold;
        emit SignersUpdated(signers_, threshold);
    }

    /// @notice Sets (or with address(0) removes) the L2 sequencer-uptime feed and its grace period
    /// (GOVERNOR_ROLE); Aave v3's PriceOracleSentinel pattern.
    function setSequencerFeed(address feed, uint32 gracePeriod) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (feed != address(0) && gracePeriod == 0) revert OracleSequencerConfigInvalid();
        _clearCache();
        sequencerFeed = feed;
        sequencerGracePeriod = gracePeriod;
        emit SequencerFeedSet(feed, gracePeriod);
    }

    // ---------------------------------------------------------------- views
    /// @notice Configuration and last good price of a feed (for operators and tests).
    function feedOf(uint32 feedId) external view returns (Feed memory) {
        FeedStore storage f = _feeds[feedId];
        return Feed(
            f.kind, f.aggregatorDecimals, f.maxMoveBps, f.heartbeat, f.aggregator, f.minPrice, f.maxPrice, f.lastPrice,
            f.lastUpdatedAt, f.lastRound, f.latched, f.pendingPrice, f.pendingAt
        );
    }

    /// @notice The current signer set, ascending.
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    /// @notice EIP-712 digest every signer of a report signs.
    function reportDigest(uint32 feedId, uint64 round, uint256 price, uint64 timestamp) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(PRICE_REPORT_TYPEHASH, feedId, round, price, timestamp)));
    }

    /// @inheritdoc IPriceOracle
    function sequencerOk() public view returns (bool) {
        address feed = sequencerFeed;
        if (feed == address(0)) return true;
        // slither-disable-next-line unused-return an uptime feed's meaning is its answer and startedAt only
        try IAggregatorV3(feed).latestRoundData() returns (uint80, int256 answer, uint256 startedAt, uint256, uint80) {
            return answer == 0 && startedAt != 0 && block.timestamp > startedAt + sequencerGracePeriod;
        } catch {
            return false; // an unreadable uptime feed is treated as a down sequencer
        }
    }

    /// @inheritdoc IPriceOracle
    function clearPriceCache() external {
        _clearCache();
    }

    // ---------------------------------------------------------------- internal
    /// @dev Transient slot pair (price word, meta word) of `feedId` in the current cache epoch.
    function _cacheSlot(uint32 feedId) internal view returns (bytes32 slot) {
        bytes32 epochSlot = CACHE_EPOCH_SLOT;
        uint256 epoch;
        assembly ("memory-safe") {
            epoch := tload(epochSlot)
        }
        slot = keccak256(abi.encode(CACHE_NS, epoch, feedId));
    }

    /// @dev The cached answer of `feedId`, if any (`hit` false otherwise).
    function _cached(uint32 feedId)
        internal
        view
        returns (bool hit, uint256 price, uint64 updatedAt, PriceStatus status)
    {
        bytes32 slot = _cacheSlot(feedId);
        uint256 meta;
        assembly ("memory-safe") {
            meta := tload(add(slot, 1))
            price := tload(slot)
        }
        if (meta & CACHE_HIT == 0) return (false, 0, 0, PriceStatus.Ok);
        return (true, price, uint64(meta), PriceStatus(uint8(meta >> 64)));
    }

    /// @dev Stores an answer of `feedId` in the current cache epoch.
    function _store(uint32 feedId, uint256 price, uint64 updatedAt, PriceStatus status) internal {
        bytes32 slot = _cacheSlot(feedId);
        uint256 meta = CACHE_HIT | (uint256(uint8(status)) << 64) | updatedAt;
        assembly ("memory-safe") {
            tstore(slot, price)
            tstore(add(slot, 1), meta)
        }
    }

    /// @dev Starts a new cache epoch: every cached price is forgotten.
    function _clearCache() internal {
        bytes32 epochSlot = CACHE_EPOCH_SLOT;
        assembly ("memory-safe") {
            tstore(epochSlot, add(tload(epochSlot), 1))
        }
    }

    /// @dev Reverts unless `signatures` are by at least `signerThreshold` distinct members of the
    /// signer set, in ascending signer order, all over `digest`. Kept behind one function so that
    /// it can be swapped for the shared SignerSet library.
    function _verifyQuorum(bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 n = signatures.length;
        if (n < signerThreshold || n == 0) revert OracleReportQuorumNotMet(n, signerThreshold);
        // slither-disable-next-line uninitialized-local address(0): lower bound of the ascending check
        address previous;
        for (uint256 i; i < n; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (!isSigner[signer]) revert OracleReportSignerUnknown(signer);
            if (signer <= previous) revert OracleReportSignersNotAscending(previous, signer);
            previous = signer;
        }
    }

    /// @dev Scales an answer with `dec` decimals to 18 decimals (rounds down).
    function _normalise(uint256 answer, uint8 dec) internal pure returns (uint256) {
        if (dec <= PRICE_DECIMALS) return answer * 10 ** (PRICE_DECIMALS - dec);
        return answer / 10 ** (dec - PRICE_DECIMALS);
    }

    /// @dev True when |next - prev| / prev > maxMoveBps.
    function _movedTooFar(uint256 prev, uint256 next, uint16 maxMoveBps) internal pure returns (bool) {
        uint256 diff = next > prev ? next - prev : prev - next;
        return diff * BPS > prev * maxMoveBps;
    }

    /// @dev Shared bound checks of a feed configuration.
    function _checkBounds(uint32 feedId, uint32 heartbeat, uint256 minPrice, uint256 maxPrice, uint16 maxMoveBps)
        internal
        pure
    {
        if (heartbeat == 0 || minPrice == 0 || maxPrice <= minPrice || maxPrice > type(uint128).max || maxMoveBps == 0
                || maxMoveBps > BPS) {
            revert OracleFeedConfigInvalid(feedId);
        }
    }
}
