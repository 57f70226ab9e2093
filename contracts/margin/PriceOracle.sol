// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title PriceOracle
/// @notice Hub price oracle: per feed id either a Chainlink-compatible aggregator or the median
/// of reports signed by an M-of-N signer set, normalised to 1e18 USD and checked against a
/// heartbeat (staleness), min/max answer and a maximum move per update.
/// @dev Policy (docs/margin.md): `Ok` prices serve everything; a `Stale` price (last good one)
/// serves only deposits and risk-reducing actions (reduce/close); an `Invalid` price serves
/// nothing. Risk-increasing callers use `freshPrice`, which reverts unless `Ok`.
contract PriceOracle is IPriceOracle, AccessControl, EIP712 {
    // ---------------------------------------------------------------- errors
    /// @dev No feed is configured under `feedId`.
    error OracleFeedUnknown(uint32 feedId);
    /// @dev Governance passed a zero heartbeat, empty or inverted bounds, a move bound outside
    /// (0, 10_000] bps, a zero aggregator or unsupported decimals.
    error OracleFeedConfigInvalid(uint32 feedId);
    /// @dev The price is older than the feed's heartbeat.
    error OraclePriceStale(uint32 feedId, uint64 updatedAt, uint32 heartbeat);
    /// @dev The feed has no usable price (unset, out of bounds, moved too far, bad round).
    error OraclePriceInvalid(uint32 feedId);
    /// @dev Governance set an empty signer set, a threshold of 0 or above the set size, too many
    /// signers, or a zero / duplicate / unsorted address.
    error OracleSignerSetInvalid(uint256 size, uint256 threshold);
    /// @dev Reports were submitted for a feed that is not a signed-report feed.
    error OracleFeedNotSigned(uint32 feedId);
    /// @dev Fewer valid reports than the threshold.
    error OracleReportQuorumNotMet(uint256 reports, uint256 threshold);
    /// @dev A report's signature does not recover to a member of the signer set.
    error OracleReportSignerUnknown(address signer);
    /// @dev Report signers must be strictly ascending (rules out duplicates).
    error OracleReportSignersNotAscending(address previous, address signer);
    /// @dev A report is from the future, older than the heartbeat, or not newer than the stored price.
    error OracleReportTimestampInvalid(uint64 timestamp, uint64 lastUpdatedAt);
    /// @dev The median price is outside the feed's [minPrice, maxPrice].
    error OracleReportPriceOutOfBounds(uint256 price, uint256 minPrice, uint256 maxPrice);
    /// @dev The median moved more than `maxMoveBps` from the previous fresh price.
    error OracleReportMoveTooLarge(uint256 previous, uint256 next, uint16 maxMoveBps);

    // ---------------------------------------------------------------- events
    /// @dev A feed was configured or reconfigured.
    event FeedConfigured(
        uint32 indexed feedId, SourceKind kind, address aggregator, uint32 heartbeat, uint256 minPrice,
        uint256 maxPrice, uint16 maxMoveBps
    );
    /// @dev The oracle signer set changed.
    event SignersUpdated(address[] signers, uint8 threshold);
    /// @dev A signed-report price was accepted.
    event PriceReported(uint32 indexed feedId, uint256 price, uint64 timestamp, uint256 reports);

    // ---------------------------------------------------------------- types & constants
    /// @dev Where a feed's price comes from.
    enum SourceKind {
        None,
        Aggregator,
        Signed
    }

    /// @dev Configuration and (for signed feeds) the last accepted price of one feed.
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
    }

    /// @dev One signed price report.
    struct Report {
        uint256 price;
        uint64 timestamp;
        bytes signature;
    }

    /// @dev EIP-712 type of a signed report.
    bytes32 public constant PRICE_REPORT_TYPEHASH =
        keccak256("PriceReport(uint32 feedId,uint256 price,uint64 timestamp)");
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @dev Decimals of every normalised price.
    uint8 internal constant PRICE_DECIMALS = 18;
    /// @dev Largest aggregator decimals accepted (keeps the scaling exact and bounded).
    uint8 internal constant MAX_AGGREGATOR_DECIMALS = 36;
    /// @dev Largest signer set (bounds the sort and the recovery loop).
    uint256 internal constant MAX_SIGNERS = 31;

    // ---------------------------------------------------------------- storage
    /// @dev Feeds by id.
    mapping(uint32 feedId => Feed) internal _feeds;
    /// @dev Oracle signers (sorted ascending) and the quorum.
    address[] internal _signers;
    /// @dev Quorum of distinct signers a report set needs.
    uint8 public signerThreshold;
    /// @dev Membership of the signer set.
    mapping(address => bool) public isSigner;

    constructor(address admin) EIP712("xmargin", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR_ROLE, admin);
    }

    // ---------------------------------------------------------------- governance
    /// @notice Prices `feedId` from a Chainlink-compatible aggregator (GOVERNOR_ROLE).
    /// @param heartbeat Seconds after `updatedAt` at which the price turns stale.
    /// @param minPrice Lowest sane price (1e18 USD), > 0.
    /// @param maxPrice Highest sane price (1e18 USD), > minPrice.
    /// @param maxMoveBps Largest move between consecutive rounds, in (0, 10_000] bps.
    function setAggregatorFeed(
        uint32 feedId,
        address aggregator,
        uint32 heartbeat,
        uint256 minPrice,
        uint256 maxPrice,
        uint16 maxMoveBps
    ) external onlyRole(Roles.GOVERNOR_ROLE) {
        if (aggregator == address(0)) revert OracleFeedConfigInvalid(feedId);
        uint8 dec = IAggregatorV3(aggregator).decimals();
        if (dec > MAX_AGGREGATOR_DECIMALS) revert OracleFeedConfigInvalid(feedId);
        _checkBounds(feedId, heartbeat, minPrice, maxPrice, maxMoveBps);
        _feeds[feedId] = Feed({
            kind: SourceKind.Aggregator,
            aggregatorDecimals: dec,
            maxMoveBps: maxMoveBps,
            heartbeat: heartbeat,
            aggregator: aggregator,
            minPrice: minPrice,
            maxPrice: maxPrice,
            lastPrice: 0,
            lastUpdatedAt: 0
        });
        emit FeedConfigured(feedId, SourceKind.Aggregator, aggregator, heartbeat, minPrice, maxPrice, maxMoveBps);
    }

    /// @notice Prices `feedId` from M-of-N signed reports (GOVERNOR_ROLE). Reconfiguring keeps the
    /// last accepted price only if it was already a signed feed.
    function setSignedFeed(uint32 feedId, uint32 heartbeat, uint256 minPrice, uint256 maxPrice, uint16 maxMoveBps)
        external
        onlyRole(Roles.GOVERNOR_ROLE)
    {
        _checkBounds(feedId, heartbeat, minPrice, maxPrice, maxMoveBps);
        Feed storage f = _feeds[feedId];
        if (f.kind != SourceKind.Signed) {
            f.lastPrice = 0;
            f.lastUpdatedAt = 0;
        }
        f.kind = SourceKind.Signed;
        f.aggregator = address(0);
        f.aggregatorDecimals = 0;
        f.heartbeat = heartbeat;
        f.minPrice = minPrice;
        f.maxPrice = maxPrice;
        f.maxMoveBps = maxMoveBps;
        emit FeedConfigured(feedId, SourceKind.Signed, address(0), heartbeat, minPrice, maxPrice, maxMoveBps);
    }

    /// @notice Replaces the oracle signer set (strictly ascending addresses) and its quorum
    /// (GOVERNOR_ROLE).
    function setSigners(address[] calldata signers, uint8 threshold) external onlyRole(Roles.GOVERNOR_ROLE) {
        uint256 n = signers.length;
        if (n == 0 || n > MAX_SIGNERS || threshold == 0 || threshold > n) {
            revert OracleSignerSetInvalid(n, threshold);
        }
        for (uint256 i; i < _signers.length; ++i) {
            isSigner[_signers[i]] = false;
        }
        address previous;
        for (uint256 i; i < n; ++i) {
            if (signers[i] <= previous) revert OracleSignerSetInvalid(n, threshold);
            isSigner[signers[i]] = true;
            previous = signers[i];
        }
        _signers = signers;
        signerThreshold = threshold;
        emit SignersUpdated(signers, threshold);
    }

    // ---------------------------------------------------------------- reports
    /// @notice Accepts the median of `reports` for a signed feed. Permissionless: the signatures
    /// are the authority. Needs `signerThreshold` reports by distinct signers in ascending order,
    /// each timestamp newer than the stored one, not in the future and within the heartbeat.
    /// The stored timestamp is the OLDEST report's (conservative for staleness).
    function submitReports(uint32 feedId, Report[] calldata reports) external {
        Feed storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        if (f.kind != SourceKind.Signed) revert OracleFeedNotSigned(feedId);
        uint256 n = reports.length;
        if (n < signerThreshold || n == 0) revert OracleReportQuorumNotMet(n, signerThreshold);

        uint256[] memory prices = new uint256[](n);
        uint64 oldest = type(uint64).max;
        address previous;
        for (uint256 i; i < n; ++i) {
            Report calldata r = reports[i];
            if (r.timestamp <= f.lastUpdatedAt || r.timestamp > block.timestamp
                    || block.timestamp - r.timestamp > f.heartbeat) {
                revert OracleReportTimestampInvalid(r.timestamp, f.lastUpdatedAt);
            }
            bytes32 digest =
                _hashTypedDataV4(keccak256(abi.encode(PRICE_REPORT_TYPEHASH, feedId, r.price, r.timestamp)));
            address signer = ECDSA.recover(digest, r.signature);
            if (!isSigner[signer]) revert OracleReportSignerUnknown(signer);
            if (signer <= previous) revert OracleReportSignersNotAscending(previous, signer);
            previous = signer;
            prices[i] = r.price;
            if (r.timestamp < oldest) oldest = r.timestamp;
        }
        uint256 median = _median(prices);
        if (median < f.minPrice || median > f.maxPrice) {
            revert OracleReportPriceOutOfBounds(median, f.minPrice, f.maxPrice);
        }
        // The move bound guards against a fat finger relative to a FRESH previous price; after
        // an outage (previous price stale) the min/max bounds alone apply.
        uint256 prev = f.lastPrice;
        if (prev != 0 && block.timestamp - f.lastUpdatedAt <= f.heartbeat && _movedTooFar(prev, median, f.maxMoveBps)) {
            revert OracleReportMoveTooLarge(prev, median, f.maxMoveBps);
        }
        f.lastPrice = median;
        f.lastUpdatedAt = oldest;
        emit PriceReported(feedId, median, oldest, n);
    }

    // ---------------------------------------------------------------- views
    /// @inheritdoc IPriceOracle
    function getPrice(uint32 feedId) public view returns (uint256 price, uint64 updatedAt, PriceStatus status) {
        Feed storage f = _feeds[feedId];
        if (f.kind == SourceKind.None) revert OracleFeedUnknown(feedId);
        if (f.kind == SourceKind.Signed) {
            (price, updatedAt) = (f.lastPrice, f.lastUpdatedAt);
            if (price == 0) return (0, 0, PriceStatus.Invalid);
        } else {
            (price, updatedAt) = _readAggregator(f);
            if (price == 0) return (0, updatedAt, PriceStatus.Invalid);
        }
        status = block.timestamp - updatedAt > f.heartbeat ? PriceStatus.Stale : PriceStatus.Ok;
    }

    /// @inheritdoc IPriceOracle
    function freshPrice(uint32 feedId) external view returns (uint256 price) {
        (uint256 p, uint64 updatedAt, PriceStatus status) = getPrice(feedId);
        if (status == PriceStatus.Invalid) revert OraclePriceInvalid(feedId);
        if (status == PriceStatus.Stale) revert OraclePriceStale(feedId, updatedAt, _feeds[feedId].heartbeat);
        return p;
    }

    /// @notice Configuration of a feed (for operators and tests).
    function feedOf(uint32 feedId) external view returns (Feed memory) {
        return _feeds[feedId];
    }

    /// @notice The current signer set, ascending.
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    /// @notice EIP-712 digest a signer signs for a report.
    function reportDigest(uint32 feedId, uint256 price, uint64 timestamp) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(PRICE_REPORT_TYPEHASH, feedId, price, timestamp)));
    }

    // ---------------------------------------------------------------- internal
    /// @dev Normalised latest answer and its time; price 0 when the round is unusable (call
    /// failed, answer <= 0, time 0 or in the future, out of bounds, moved too far since the
    /// previous round).
    function _readAggregator(Feed storage f) internal view returns (uint256 price, uint64 updatedAt) {
        IAggregatorV3 agg = IAggregatorV3(f.aggregator);
        uint80 roundId;
        int256 answer;
        uint256 ts;
        try agg.latestRoundData() returns (uint80 r, int256 a, uint256, uint256 t, uint80) {
            (roundId, answer, ts) = (r, a, t);
        } catch {
            return (0, 0);
        }
        if (answer <= 0 || ts == 0 || ts > block.timestamp) return (0, 0);
        updatedAt = uint64(ts);
        price = _normalise(uint256(answer), f.aggregatorDecimals);
        if (price < f.minPrice || price > f.maxPrice) return (0, updatedAt);
        if (roundId > 1) {
            try agg.getRoundData(roundId - 1) returns (uint80, int256 prevAnswer, uint256, uint256, uint80) {
                if (prevAnswer > 0
                        && _movedTooFar(_normalise(uint256(prevAnswer), f.aggregatorDecimals), price, f.maxMoveBps)) {
                    return (0, updatedAt);
                }
            } catch {}
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

    /// @dev Median (mean of the two middle values for an even count); sorts in place.
    function _median(uint256[] memory xs) internal pure returns (uint256) {
        uint256 n = xs.length;
        for (uint256 i = 1; i < n; ++i) {
            uint256 key = xs[i];
            uint256 j = i;
            while (j > 0 && xs[j - 1] > key) {
                xs[j] = xs[j - 1];
                --j;
            }
            xs[j] = key;
        }
        if (n % 2 == 1) return xs[n / 2];
        return (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }

    /// @dev Shared bound checks of a feed configuration.
    function _checkBounds(uint32 feedId, uint32 heartbeat, uint256 minPrice, uint256 maxPrice, uint16 maxMoveBps)
        internal
        pure
    {
        if (heartbeat == 0 || minPrice == 0 || maxPrice <= minPrice || maxMoveBps == 0 || maxMoveBps > BPS) {
            revert OracleFeedConfigInvalid(feedId);
        }
    }
}
