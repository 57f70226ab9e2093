// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/// @title MarginMath
/// @notice Pure maths of the perp markets, mirrored line for line by `relayer/margin/maths.py`.
/// Units: sizes in 1e18 base units, prices in 1e18 USD, fractions and rates in 1e18 (1e18 = 100 %),
/// USD amounts in 1e18. Rounding always favours the protocol: a trader's PnL rounds down (toward
/// minus infinity), fees and margins round up.
library MarginMath {
    /// @dev Fixed-point one.
    uint256 internal constant ONE = 1e18;
    /// @dev Seconds per funding day.
    uint256 internal constant DAY = 1 days;

    /// @dev Floor division of a signed numerator by a positive denominator.
    function divFloor(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// @dev USD notional |size| x price (rounded up: used for margins and fees).
    function notional(int256 size, uint256 price) internal pure returns (uint256) {
        return Math.mulDiv(SignedMath.abs(size), price, ONE, Math.Rounding.Ceil);
    }

    /// @dev Initial margin fraction growing linearly with |size|, capped at 100 %:
    /// imf = min(1, imfBase + imfSlope x |size|).
    function initialMarginFraction(int256 size, uint256 imfBase, uint256 imfSlope) internal pure returns (uint256) {
        uint256 f = imfBase + Math.mulDiv(SignedMath.abs(size), imfSlope, ONE, Math.Rounding.Ceil);
        return f > ONE ? ONE : f;
    }

    /// @dev (initial margin, maintenance margin) of a position; mm = im x mmRatio.
    function margins(int256 size, uint256 price, uint256 imfBase, uint256 imfSlope, uint256 mmRatio)
        internal
        pure
        returns (uint256 im, uint256 mm)
    {
        uint256 n = notional(size, price);
        im = Math.mulDiv(n, initialMarginFraction(size, imfBase, imfSlope), ONE, Math.Rounding.Ceil);
        mm = Math.mulDiv(im, mmRatio, ONE, Math.Rounding.Ceil);
    }

    /// @dev Funding rate per day (1e18) from the skew: clamp(skew / skewScale, -1, 1) x maxRate.
    /// Positive: longs pay shorts.
    function fundingRate(int256 skew, uint256 skewScale, uint256 maxRatePerDay) internal pure returns (int256) {
        // slither-disable-next-line divide-before-multiply clamp first; error < 1e-18 of the rate (maths.py mirrors it)
        int256 r = skew * int256(ONE) / int256(skewScale);
        if (r > int256(ONE)) r = int256(ONE);
        if (r < -int256(ONE)) r = -int256(ONE);
        return r * int256(maxRatePerDay) / int256(ONE);
    }

    /// @dev Funding index increment (USD per base unit, 1e18) over `elapsed` seconds at `price`.
    function fundingDelta(int256 ratePerDay, uint256 price, uint256 elapsed) internal pure returns (int256) {
        // slither-disable-next-line divide-before-multiply < 1 wei per accrual, same for both sides (maths.py mirrors it)
        return ratePerDay * int256(price) / int256(ONE) * int256(elapsed) / int256(DAY);
    }

    /// @dev PnL of `size` since (lastPrice, lastFunding), net of funding: rounded down.
    function pnl(int256 size, uint256 price, uint256 lastPrice, int256 funding, int256 lastFunding)
        internal
        pure
        returns (int256)
    {
        int256 priceDiff = int256(price) - int256(lastPrice);
        return divFloor(size * priceDiff - size * (funding - lastFunding), int256(ONE));
    }
}
