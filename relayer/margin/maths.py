"""Integer mirror of contracts/margin/MarginMath.sol: same units, same rounding, line for line."""

from relayer.margin.errors import MarginInputError

ONE = 10**18
DAY = 86_400


def div_floor(a: int, b: int) -> int:
    """Floor division (Python's // already floors; kept named to mirror the contract)."""
    if b <= 0:
        raise MarginInputError("divisor must be positive")
    return a // b


def _div_trunc(a: int, b: int) -> int:
    """Solidity signed division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _mul_div_ceil(a: int, b: int, d: int) -> int:
    """ceil(a * b / d) for non-negative ints (OpenZeppelin Math.mulDiv, Rounding.Ceil)."""
    return -((-a * b) // d)


def notional(size: int, price: int) -> int:
    """|size| x price, rounded up (margins and fees)."""
    return _mul_div_ceil(abs(size), price, ONE)


def initial_margin_fraction(size: int, imf_base: int, imf_slope: int) -> int:
    """min(1, imfBase + imfSlope x |size|), the slope term rounded up."""
    f = imf_base + _mul_div_ceil(abs(size), imf_slope, ONE)
    return min(f, ONE)


def margins(size: int, price: int, imf_base: int, imf_slope: int, mm_ratio: int) -> tuple[int, int]:
    """(initial margin, maintenance margin) of a position, both rounded up."""
    n = notional(size, price)
    im = _mul_div_ceil(n, initial_margin_fraction(size, imf_base, imf_slope), ONE)
    mm = _mul_div_ceil(im, mm_ratio, ONE)
    return im, mm


def funding_rate(skew: int, skew_scale: int, max_rate_per_day: int) -> int:
    """Per-day funding rate: clamp(skew / skewScale, -1, 1) x maxRate (Solidity truncation)."""
    if skew_scale <= 0:
        raise MarginInputError("skew scale must be positive")
    r = _div_trunc(skew * ONE, skew_scale)
    r = max(-ONE, min(ONE, r))
    return _div_trunc(r * max_rate_per_day, ONE)


def funding_delta(rate_per_day: int, price: int, elapsed: int) -> int:
    """Funding index increment over `elapsed` seconds (Solidity truncation at each step)."""
    return _div_trunc(_div_trunc(rate_per_day * price, ONE) * elapsed, DAY)


def pnl(size: int, price: int, last_price: int, funding: int, last_funding: int) -> int:
    """PnL net of funding since the last settlement, rounded down."""
    return div_floor(size * (price - last_price) - size * (funding - last_funding), ONE)
