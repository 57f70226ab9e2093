"""Margin inputs and outputs without a chain: trade sizes and prices, USD text, health labels,
custom errors decoded from the compiled ABIs, the USD-terms market calibration."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from relayer.chain.abi import decode_error
from relayer.errors import ActionError, XmarginError
from relayer.margin.maths import ONE
from relayer.margin.params import Calibration, market_params
from relayer.services.margin import health_label
from relayer.services.units import parse_price, parse_size, usd


def test_sizes_are_signed_exact_base_units() -> None:
    assert parse_size("2.5") == 25 * 10**17
    assert parse_size("-1") == -(10**18)
    assert parse_size("0.000000000000000001") == 1


@pytest.mark.parametrize("text", ["0", "-0.0", "abc", "1e-19", "0.0000000000000000001"])
def test_zero_malformed_or_too_precise_sizes_are_refused(text: str) -> None:
    with pytest.raises(ActionError):
        parse_size(text)


def test_limit_prices_are_positive_usd() -> None:
    assert parse_price("1850.25") == 185025 * 10**16
    for bad in ("0", "-3", "x"):
        with pytest.raises(ActionError):
            parse_price(bad)


def test_usd_text_rounds_toward_zero_to_cents() -> None:
    assert usd(1_234_567 * 10**16) == "$12,345.67"
    assert usd(-(10**18) - 999 * 10**13) == "-$1.00"
    assert usd(0) == "$0.00"


@pytest.mark.parametrize(
    ("equity", "im", "mm", "prices_ok", "positions", "label"),
    [
        (100, 80, 40, True, True, "healthy"),
        (60, 80, 40, True, True, "below initial margin"),
        (39, 80, 40, True, True, "liquidatable"),
        (39, 80, 40, False, True, "prices not fresh"),
        (-1, 0, 0, True, False, "liquidatable"),  # no position but a deficit: the collateral is sold
        (0, 0, 0, True, False, "healthy"),
    ],
)
def test_health_labels_follow_the_engine(equity, im, mm, prices_ok, positions, label) -> None:
    assert health_label(equity, im, mm, prices_ok, positions) == label


def test_oracle_errors_bubbling_out_of_a_market_are_decoded() -> None:
    selector = function_signature_to_4byte_selector("OraclePriceStale(uint32,uint64,uint32)")
    data = "0x" + (selector + encode(["uint32", "uint64", "uint32"], [2, 1_700_000_000, 120])).hex()
    decoded = decode_error(data)
    assert decoded is not None and decoded.name == "OraclePriceStale"
    assert decoded.args == {"feedId": 2, "updatedAt": 1_700_000_000, "heartbeat": 120}
    assert decode_error("0xdeadbeef") is None


def test_trade_refusals_are_action_errors() -> None:
    from relayer.errors import TradeRejectedError

    err = TradeRejectedError("MarketOpenInterestCapExceeded", "open-interest cap: ...")
    assert isinstance(err, ActionError) and isinstance(err, XmarginError) and err.error.startswith("Market")


def test_calibration_states_leverage_and_caps_in_usd() -> None:
    params = market_params(2_000.0, Calibration(max_open_interest_usd=2_000_000))
    assert params.imf_base == ONE // 3 + 1  # 3x, the fraction rounded toward more margin
    assert params.max_open_interest == 1_000 * ONE  # $2M at $2,000
    assert params.imf_slope * 5_000 == pytest.approx(ONE * 0.05, rel=1e-9)  # +5 % IMF per $10M (5,000 ETH)
    assert params.mm_ratio == ONE // 2 and params.taker_fee == ONE // 1_000
