"""The relay fee a withdrawal pays, as `xmargin fees` and the API compute it: the lockbox's rule
(min(fee, 1 % of the amount), rounded down in the recipient's favour)."""

from __future__ import annotations

import pytest

from relayer.services.fees import relay_fee_for


@pytest.mark.parametrize(
    "amount, fee, expected",
    [
        (500_000_000, 2_000_000, 2_000_000),  # the flat fee
        (100_000_000, 2_000_000, 1_000_000),  # capped at 1 %
        (99, 2_000_000, 0),  # the cap rounds down: dust pays nothing
        (500_000_000, 0, 0),  # no fee set
    ],
)
def test_fee_is_the_flat_fee_capped_at_one_percent(amount: int, fee: int, expected: int) -> None:
    assert relay_fee_for(amount, fee, 100) == expected
