"""Recorded price paths (the crash CSVs in ../shared/data/crashes, or a built-in fallback) and
their conversion into aggregator answers. Pure apart from reading the CSV files."""

import csv
import os
from pathlib import Path

from pydantic import BaseModel

from relayer.margin.errors import MarginInputError

AGGREGATOR_DECIMALS = 8
CRASH_DATA_ENV = "XMARGIN_CRASH_DATA"
"""Folder of the crash CSVs (default: ../shared/data/crashes next to the repository)."""
REPO = Path(__file__).resolve().parents[2]
SCENARIO_EVENT = "2020-03-12"
SCENARIO_START = "2020-03-12T00:00:00Z"
"""The devnet's prices start at this bar's close; the scenario then replays the next bars."""
SCENARIO_END = "2020-03-13T01:00:00Z"
"""Last bar the scenario replays (25 hourly closes: ETH falls 48 %, once by 21 % in one hour)."""
BUILTIN_START = {"USDC": 1.0, "ETH": 2_000.0, "BTC": 30_000.0}
"""Start prices when the crash data is missing."""
BUILTIN_ETH_CRASH = (
    1_985.0, 1_960.0, 1_940.0, 1_900.0, 1_880.0, 1_800.0, 1_770.0, 1_740.0, 1_720.0, 1_380.0, 1_420.0, 1_410.0,
    1_395.0, 1_440.0, 1_450.0, 1_430.0, 1_460.0, 1_400.0, 1_410.0, 1_320.0, 1_340.0, 1_300.0, 1_100.0, 1_090.0,
    1_000.0,
)
"""A synthetic crash (not market data) shaped like the March 2020 one, for clones without the data."""


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
    return round(usd * float(10**decimals))


class PricePath(BaseModel):
    """A start price and the steps that follow it, with where they came from."""

    source: str
    start: float
    steps: list[float]


def crash_dir() -> Path:
    """Folder of the crash CSVs: $XMARGIN_CRASH_DATA or ../shared/data/crashes beside the repo."""
    override = os.environ.get(CRASH_DATA_ENV)
    return Path(override) if override else REPO.parent / "shared" / "data" / "crashes"


def window(bars: list[PricePoint], start: str, end: str) -> tuple[float, list[float]]:
    """(close of the `start` bar, closes of the bars after it up to `end` inclusive)."""
    stamps = [b.timestamp for b in bars]
    if start not in stamps or end not in stamps:
        raise MarginInputError(f"price path has no bar at {start} or {end}")
    first, last = stamps.index(start), stamps.index(end)
    if last <= first:
        raise MarginInputError(f"window end {end} is not after its start {start}")
    return bars[first].close, [b.close for b in bars[first + 1:last + 1]]


def crash_file(symbol: str, event: str = SCENARIO_EVENT) -> Path:
    """The hourly CSV of `symbol` (ETH, BTC) for `event`."""
    return crash_dir() / f"{symbol.lower()}_{event}_1h.csv"


def scenario_path(symbol: str = "ETH") -> PricePath:
    """The devnet scenario's crash: the recorded window if the data is there, else the built-in one."""
    path = crash_file(symbol)
    if path.is_file():
        start, steps = window(load_path(path), SCENARIO_START, SCENARIO_END)
        return PricePath(source=f"{path.name} {SCENARIO_START}..{SCENARIO_END} (hourly closes)", start=start, steps=steps)
    if symbol != "ETH":
        return PricePath(source="built-in (no crash data)", start=BUILTIN_START[symbol], steps=[])
    return PricePath(source=f"built-in synthetic crash ({path} not found)", start=BUILTIN_START["ETH"],
                     steps=list(BUILTIN_ETH_CRASH))


def start_prices() -> dict[str, float]:
    """Devnet start price per feed symbol: USDC 1, ETH and BTC at the scenario window's start."""
    return {"USDC": 1.0, "ETH": scenario_path("ETH").start, "BTC": scenario_path("BTC").start}


def moves_within(previous: int, answers: list[int], max_move_bps: int) -> int | None:
    """Index of the first answer that moves more than `max_move_bps` from the one before it
    (the oracle would mark that round Invalid), or None if every step is within bounds."""
    for i, answer in enumerate(answers):
        if answer <= 0 or abs(answer - previous) * 10_000 > previous * max_move_bps:
            return i
        previous = answer
    return None
