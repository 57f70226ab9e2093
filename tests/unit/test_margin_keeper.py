"""Pure parts of the keeper: price paths, answers, error selectors."""

from pathlib import Path

import pytest

from relayer.keeper.artifacts import error_selectors
from relayer.keeper.pusher import load_path, to_answer
from relayer.margin.errors import MarginInputError

CRASHES = Path("/work/shared/data/crashes")


def test_load_path_reads_every_bar_in_order() -> None:
    bars = load_path(CRASHES / "eth_2020-03-12_1h.csv")
    assert len(bars) == 144
    assert bars[0].timestamp == "2020-03-10T00:00:00Z" and bars[0].open == 202.81
    assert min(b.low for b in bars) == 86.0


def test_load_path_rejects_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("timestamp_utc,open,high,low,close\n")
    with pytest.raises(MarginInputError):
        load_path(p)


def test_to_answer_uses_eight_decimals() -> None:
    assert to_answer(1_234.5678) == 123_456_780_000
    assert to_answer(1.0) == 10**8


def test_error_selectors_match_solidity() -> None:
    abi = [{"type": "error", "name": "LiquidationAccountHealthy",
            "inputs": [{"type": "address"}, {"type": "int256"}, {"type": "uint256"}]}]
    sel = error_selectors(abi)
    assert list(sel.values()) == ["LiquidationAccountHealthy"]
    assert len(next(iter(sel))) == 10
