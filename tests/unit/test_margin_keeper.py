"""Pure parts of the keeper and the oracle pusher: price paths, windows, fallbacks, answers, move
bounds, revert names."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayer.keeper.feeds import AGGREGATOR_KIND, FEED_KIND, FEED_LAST_ROUND, FEED_LATCHED, needs_sync, sync_gas
from relayer.keeper.liquidator import Keeper
from relayer.keeper.pusher import (
    BUILTIN_ETH_CRASH,
    CRASH_DATA_ENV,
    REPO,
    crash_dir,
    load_path,
    moves_within,
    scenario_path,
    start_prices,
    to_answer,
    window,
)
from relayer.margin.errors import MarginError, MarginInputError

CRASHES = crash_dir()
needs_data = pytest.mark.skipif(not (CRASHES / "eth_2020-03-12_1h.csv").is_file(), reason=f"no crash data in {CRASHES}")


def test_crash_data_sits_beside_the_repository_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CRASH_DATA_ENV, raising=False)
    assert crash_dir() == REPO.parent / "shared" / "data" / "crashes"
    monkeypatch.setenv(CRASH_DATA_ENV, "/elsewhere")
    assert crash_dir() == Path("/elsewhere")


@needs_data
def test_scenario_replays_the_march_2020_window() -> None:
    path = scenario_path("ETH")
    assert path.start == 193.31 and len(path.steps) == 25
    assert path.steps[0] == 185.03 and path.steps[-1] == 96.62
    assert "eth_2020-03-12_1h.csv" in path.source
    assert moves_within(to_answer(path.start), [to_answer(p) for p in path.steps], 3_000) is None


def test_scenario_falls_back_to_a_built_in_path_without_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CRASH_DATA_ENV, str(tmp_path))
    path = scenario_path("ETH")
    assert path.steps == list(BUILTIN_ETH_CRASH) and "built-in" in path.source
    assert moves_within(to_answer(path.start), [to_answer(p) for p in path.steps], 3_000) is None
    assert start_prices() == {"USDC": 1.0, "ETH": 2_000.0, "BTC": 30_000.0}


def test_window_takes_the_closes_after_its_start(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("timestamp_utc,open,high,low,close\nA,1,1,1,10\nB,1,1,1,11\nC,1,1,1,12\nD,1,1,1,13\n")
    bars = load_path(csv)
    assert window(bars, "A", "C") == (10.0, [11.0, 12.0])
    with pytest.raises(MarginInputError):
        window(bars, "A", "Z")
    with pytest.raises(MarginInputError):
        window(bars, "C", "A")


def test_moves_beyond_the_bound_are_found_before_the_oracle_sees_them() -> None:
    assert moves_within(100, [130, 169], 3_000) is None  # exactly 30 % each: accepted, like the oracle
    assert moves_within(100, [120, 157], 3_000) == 1  # 120 -> 157 is 30.8 %
    assert moves_within(100, [0], 3_000) == 0
    assert issubclass(MarginInputError, MarginError) and issubclass(MarginInputError, ValueError)


@needs_data
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


def test_keeper_reads_revert_names_by_the_module_abi() -> None:
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    from relayer.chain.abi import decode_error

    abi = [{"type": "error", "name": "LiquidationAccountHealthy",
            "inputs": [{"name": "account", "type": "address"}, {"name": "equity", "type": "int256"},
                       {"name": "maintenanceMargin", "type": "uint256"}]}]
    selector = function_signature_to_4byte_selector("LiquidationAccountHealthy(address,int256,uint256)")
    data = selector + encode(["address", "int256", "uint256"], ["0x" + "11" * 20, -5, 7])
    error = decode_error(data, [abi])
    assert error is not None and error.name == "LiquidationAccountHealthy" and error.args["equity"] == -5


def test_keeper_leaves_an_account_whose_lease_another_keeper_holds(private_redis_url: str) -> None:
    """Two keepers sharing a Redis store: while keeper 2 holds an account's lease, keeper 1 neither
    simulates nor sends its liquidation (it never touches the chain: no node is given)."""
    from relayer.keeper.liquidator import Keeper
    from relayer.store.lease import lease
    from relayer.store.redis_store import Store

    store = Store(private_redis_url, prefix="keeper-lease-test")
    account = "0x" + "ab" * 20

    def send(call: object, gas: int | None = None, /) -> tuple[str, int]:
        raise AssertionError("a claimed account's liquidation was sent")

    keeper = Keeper(None, "0x" + "01" * 20, None, None, None, send,  # type: ignore[arg-type]
                    claim=lambda a: lease(store, f"liquidation:{a}"))
    with lease(store, f"liquidation:{account}"):  # keeper 2 at work on it
        r = keeper.liquidate(1, [account])
    assert r.skipped_claimed == 1 and r.sent == [] and r.failed == {} and r.skipped_benign == 0


def _feed(kind: int, last_round: int, latched: bool) -> tuple[object, ...]:
    """A `PriceOracleBase.Feed` tuple as `feedOf` returns it (only the fields the syncer reads matter)."""
    return (kind, 8, 5_000, 86_400, "0x" + "11" * 20, 10**12, 10**30, 2_000 * 10**18, 0, last_round, latched, 0, 0)


@pytest.mark.parametrize(("kind", "last_round", "latched", "latest", "expected"), [
    (AGGREGATOR_KIND, 3, False, 4, True),  # a round after the anchor: sync
    (AGGREGATOR_KIND, 4, False, 4, False),  # nothing new
    (AGGREGATOR_KIND, 3, True, 9, False),  # latched: governance's, syncing is a no-op
    (2, 3, False, 9, False),  # signed feed
    (0, 0, False, 1, False),  # unset
])
def test_a_feed_needs_a_sync_only_when_an_unlatched_aggregator_has_new_rounds(
        kind: int, last_round: int, latched: bool, latest: int, expected: bool) -> None:
    feed = _feed(kind, last_round, latched)
    assert (feed[FEED_KIND], feed[FEED_LAST_ROUND], feed[FEED_LATCHED]) == (kind, last_round, latched)
    assert needs_sync(feed, latest) is expected


def test_sync_gas_is_the_estimate_with_the_liquidation_margin() -> None:
    assert sync_gas(40_000) == 40_000 * 125 // 100 + 50_000


class _Eth:
    """The two reads BlockBudget makes, of a hub whose latest block the test moves."""

    def __init__(self) -> None:
        self.block_number = 7

    def get_block(self, tag: str) -> dict[str, int]:
        assert tag == "latest"
        return {"gasLimit": 30_000_000, "number": self.block_number}


class _W3:
    def __init__(self) -> None:
        self.eth = _Eth()


def test_block_budget_caps_the_gas_sent_per_hub_block_and_resets_at_the_next() -> None:
    from relayer.keeper.inflight import BlockBudget

    w3 = _W3()
    budget = BlockBudget(w3, 0.5)  # type: ignore[arg-type]
    assert budget.fits(10_000_000)
    budget.spend(10_000_000)
    assert budget.fits(5_000_000) and not budget.fits(5_000_001)  # 15M of limits per block
    budget.spend(5_000_000)
    assert not budget.fits(1)
    w3.eth.block_number = 8  # a new block: the budget is whole again
    assert budget.fits(15_000_000)
    budget.spend(15_000_000)
    w3.eth.block_number = 9
    assert budget.fits(20_000_000)  # alone above the budget: still sent, as its block's only one
    budget.spend(20_000_000)
    assert not budget.fits(1)


class _Liquidation:
    """A bound `liquidate(account, maxRepay)` whose simulation waits at `barrier` (or fails for `bad`)."""

    def __init__(self, account: str, barrier: threading.Barrier | None, bad: str) -> None:
        self.account, self.barrier, self.bad = account, barrier, bad

    def estimate_gas(self, tx: dict[str, str]) -> int:
        if self.account == self.bad:
            raise RuntimeError(f"node gone while simulating {self.account}")
        if self.barrier is not None:
            self.barrier.wait()  # every simulation of a window must be running at once to pass
        return 100_000


class _Module:
    abi: list[object] = []

    def __init__(self, barrier: threading.Barrier | None = None, bad: str = "") -> None:
        self.functions = self
        self.barrier, self.bad = barrier, bad

    def liquidate(self, account: str, max_repay: int) -> _Liquidation:
        return _Liquidation(account, self.barrier, self.bad)


class _Pipeline:
    """Every submit lands at once with status 1."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def submit(self, call: _Liquidation, gas: int) -> str:
        self.sent.append((call.account, gas))
        return call.account

    def poll(self, handle: str) -> object:
        from relayer.keeper.inflight import Landed

        return Landed(f"0x{handle[2:6]}", 1, 90_000, 175_000)

    def hash_of(self, handle: str) -> str:
        return f"0x{handle[2:6]}"

    def resync(self) -> None:
        raise AssertionError("nothing was lost")


ACCOUNTS = ["0x" + c * 40 for c in "abc"]


def _keeper(module: _Module, pipeline: _Pipeline, prepare_ahead: int, claim: object = None) -> Keeper:
    from relayer.keeper.inflight import FlightCaps
    from relayer.keeper.liquidator import _no_claim

    return Keeper(_W3(), "0x" + "01" * 20, None, None, module, pipeline=pipeline,  # type: ignore[arg-type]
                  caps=FlightCaps(prepare_ahead=prepare_ahead, poll_s=0.01), claim=claim or _no_claim)


def test_keeper_simulates_accounts_ahead_at_once_and_sends_them_in_order() -> None:
    """Three simulations meet at a barrier of three: they pass only if they run at the same time;
    the sends keep the shortfall order and each account goes once, gas from its estimate."""
    pipeline = _Pipeline()
    keeper = _keeper(_Module(threading.Barrier(3, timeout=10)), pipeline, prepare_ahead=3)
    r = keeper.liquidate(3, ACCOUNTS)
    assert r.liquidated == ACCOUNTS and r.failed == {}
    assert pipeline.sent == [(a, 100_000 * 125 // 100 + 50_000) for a in ACCOUNTS]


def test_keeper_simulating_one_at_a_time_never_overlaps_two() -> None:
    keeper = _keeper(_Module(threading.Barrier(2, timeout=0.5)), _Pipeline(), prepare_ahead=1)
    with pytest.raises(threading.BrokenBarrierError):
        keeper.liquidate(3, ACCOUNTS)


def test_a_failed_simulation_ahead_releases_every_claim() -> None:
    """The node fails while simulating the second account: the error reaches the caller, and the
    claims of the accounts prepared beside it are all released (none held until their ttl)."""
    held: list[str] = []
    released: list[str] = []

    @contextmanager
    def claim(account: str) -> Iterator[str]:
        held.append(account)
        try:
            yield account
        finally:
            released.append(account)

    pipeline = _Pipeline()
    keeper = _keeper(_Module(bad=ACCOUNTS[1]), pipeline, prepare_ahead=3, claim=claim)
    with pytest.raises(RuntimeError, match="node gone"):
        keeper.liquidate(3, ACCOUNTS)
    assert ACCOUNTS[1] in held and sorted(released) == sorted(held)


def test_the_config_bounds_are_the_keeper_s() -> None:
    from relayer import config
    from relayer.keeper import inflight

    assert config.MAX_KEEPER_IN_FLIGHT == inflight.MAX_KEEPER_IN_FLIGHT
    assert config.MAX_PREPARE_AHEAD == inflight.MAX_PREPARE_AHEAD
