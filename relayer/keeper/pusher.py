"""Replay a recorded price path (the crash CSVs) into Chainlink-compatible aggregators."""

import csv
from pathlib import Path

from pydantic import BaseModel

from relayer.margin.errors import MarginInputError

AGGREGATOR_DECIMALS = 8


class PricePoint(BaseModel):
    """One bar of a price path."""

    timestamp: str
    open: float
    high: float
    low: float
    close: float


def load_path(path: Path) -> list[PricePoint]:
    """Bars of a `timestamp_utc,open,high,low,close` CSV, in file order."""
    with path.open() as fh:
        rows = [
            PricePoint(timestamp=r["timestamp_utc"], open=float(r["open"]), high=float(r["high"]),
                       low=float(r["low"]), close=float(r["close"]))
            for r in csv.DictReader(fh)
        ]
    if not rows:
        raise MarginInputError(f"empty price path {path}")
    return rows


def to_answer(usd: float, decimals: int = AGGREGATOR_DECIMALS) -> int:
    """USD price as an aggregator answer with `decimals` decimals."""
    return int(round(usd * 10**decimals))


def push_price(aggregator, sender: str, usd: float) -> str:
    """Sends one `push(answer)` round to a MockAggregatorV3; returns the tx hash."""
    return aggregator.functions.push(to_answer(usd)).transact({"from": sender}).hex()
