"""Amounts as people write them and as contracts count them (pure: exact decimals, no floats)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from relayer.errors import ActionError

ONE = 10**18
"""1e18: USD amounts, prices and base units of positions."""
USD_DECIMALS = 18
BASE_DECIMALS = 18


def fmt_amount(amount: int, decimals: int) -> str:
    """Fixed-point text of an integer amount (no float rounding)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)
    return sign + text


def usd(amount: int) -> str:
    """A 1e18 USD amount as text with cents (rounded toward zero)."""
    sign = "-" if amount < 0 else ""
    cents = abs(amount) // 10**16
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def _number(text: str, what: str) -> Decimal:
    """A finite decimal number; ActionError "<what> ... is not a number" otherwise (NaN and Infinity
    included: they would reach int() and fail there)."""
    try:
        value = Decimal(text)
    except InvalidOperation as err:
        raise ActionError(f"{what} {text!r} is not a number") from err
    if not value.is_finite():
        raise ActionError(f"{what} {text!r} is not a number")
    return value


def check_amount(amount: str) -> None:
    """ActionError unless `amount` is a positive number (to_units checks its precision later)."""
    if _number(amount, "amount") <= 0:
        raise ActionError(f"amount {amount} must be positive")


def to_units(amount: str, decimals: int) -> int:
    """Exact integer units of a decimal amount string; ActionError if it has more decimals or is <= 0."""
    value = _number(amount, "amount")
    units = value * (Decimal(10) ** decimals)
    if units != units.to_integral_value() or units <= 0:
        raise ActionError(f"amount {amount} must be positive with at most {decimals} decimals")
    return int(units)


def parse_size(text: str) -> int:
    """Signed base units (1e18) of a decimal size such as `2.5` or `-1`; ActionError if zero or malformed."""
    value = _number(text, "size")
    units = value * 10**BASE_DECIMALS
    if units != units.to_integral_value() or units == 0:
        raise ActionError(f"size {text} must be non-zero with at most {BASE_DECIMALS} decimals")
    return int(units)


def parse_price(text: str) -> int:
    """A positive USD price as 1e18 units."""
    value = _number(text, "price")
    if value <= 0:
        raise ActionError(f"price {text} must be positive")
    return int(value * ONE)


def parse_address(text: str) -> str:
    """A checksummed address from user input; ActionError "not an address" otherwise."""
    from relayer.types import checksum

    try:
        return checksum(text)
    except ValueError:
        raise ActionError(f"not an address: {text!r} (expected 0x followed by 40 hex digits)") from None
