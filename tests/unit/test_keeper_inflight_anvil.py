"""The keeper with many liquidations in flight on a real anvil (issue 10), through the keeper-scale
bench's chain (bench/_keeper_chain.py: real deposits, real delayed orders) and the relayer's real
TxSender: two keepers with their own keys sharing one Redis liquidate every account exactly once
without a duplicate send; a liquidation the node drops from its pool is sent again and lands once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import bench_modules  # noqa: F401  (puts bench/ on sys.path)
from local_services import ANVIL, REPO, fixed_port

pytestmark = pytest.mark.skipif(
    not ANVIL.exists() or not (REPO / "build" / "contracts" / "MarginLens.json").exists(),
    reason="needs the anvil binary and `brownie compile`",
)
DEADLINE_S = 300.0


def test_two_keepers_liquidate_every_account_exactly_once_without_a_duplicate_send(
        private_redis_url: str, tmp_path: Path) -> None:
    import keeper_scale

    out = tmp_path / "keeper_scale.json"
    status = keeper_scale.main(["--accounts", "300", "--every", "5", "--keepers", "2", "--max-in-flight", "16",
                                "--port", str(fixed_port(8770)), "--redis-url", private_redis_url, "--out", str(out)])
    report = json.loads(out.read_text())
    assert status == 0
    assert report["liquidatable"] == 60 == report["liquidated"]
    assert report["liquidated_more_than_once"] == 0 and report["safe_liquidated"] == 0
    assert report["left_liquidatable"] == 0
    keepers = report["keepers"]
    assert len(keepers) == 2
    assert sum(k["sent"] for k in keepers) == 60  # not one liquidation sent twice
    assert sum(k["liquidated"] for k in keepers) == 60
    for k in keepers:
        assert k["reverted"] == 0 and k["lost"] == 0 and k["out_of_gas"] == 0 and k["failed"] == {}
        assert k["peak_in_flight"] <= 16
    assert max(k["peak_in_flight"] for k in keepers) > 1  # sent without waiting for each receipt
    assert report["gas_per_liquidation"]["mean_used"] > 0 and report["blocks"] >= 1


def test_a_liquidation_the_node_drops_is_sent_again_and_lands_once() -> None:
    from relayer.keeper.inflight import FlightCaps

    import keeper_scale
    from _keeper_chain import SHOCK, START, ScaleChain

    sc = ScaleChain(fixed_port(8771))
    try:
        sc.open_book(40, 4)  # 10 accounts at 4.4x
        keeper = keeper_scale.make_keepers(sc, 1, FlightCaps(max_in_flight=8), None, "unused")[0]
        keeper.tracker.refresh()
        sc.push({"ETH": START["ETH"] * SHOCK, "USDC": 1.0})
        sc.rpc("evm_setAutomine", [False])
        checked, unhealthy = keeper.unhealthy_accounts()
        assert checked == 40 and len(unhealthy) == 10
        done: dict[str, object] = {}
        worker = threading.Thread(target=lambda: done.update(r=keeper.liquidate(checked, unhealthy)), daemon=True)
        worker.start()
        deadline = time.monotonic() + DEADLINE_S
        dropped = None
        while dropped is None:  # the keeper's lowest pending nonce, dropped before any block holds it
            assert time.monotonic() < deadline, "the keeper sent nothing"
            mine = {a.lower(): txs for a, txs in sc.rpc("txpool_content", [])["pending"].items()}
            txs = mine.get(keeper.sender.lower(), {})
            if txs:
                dropped = sc.rpc("anvil_dropTransaction", [txs[min(txs, key=lambda k: int(k, 0))]["hash"]])
            else:
                worker.join(0.05)  # the poll interval
        while worker.is_alive():  # mine until the keeper collected every receipt
            assert time.monotonic() < deadline, "the keeper never collected its receipts"
            sc.rpc("evm_mine", [])
            worker.join(0.2)
        result = done["r"]
        liquidated = [str(e["args"]["account"]) for e in sc.c["liq"].events.Liquidated().get_logs(from_block=0)]
    finally:
        sc.close()
    assert dropped is not None
    assert sorted(result.liquidated) == sorted(unhealthy) == sorted(liquidated)  # type: ignore[attr-defined]
    assert len(result.sent) == 10 and result.lost == [] and result.reverted == 0  # type: ignore[attr-defined]


def test_keepers_not_sharing_a_store_race_and_the_loser_s_revert_is_classified_not_retried(
        private_redis_url: str) -> None:
    """Without the shared leases (two stores, or none) both keepers send every liquidation of the
    same view before a block holds any: per account one lands and the other reverts on chain; the
    loser records why by replaying it (LiquidationAccountHealthy: a competitor first), not as out
    of gas, and sends nothing again."""
    from relayer.keeper.inflight import FlightCaps
    from relayer.keeper.liquidator import _no_claim

    import keeper_scale
    from _keeper_chain import SHOCK, START, ScaleChain

    sc = ScaleChain(fixed_port(8772))
    try:
        sc.open_book(40, 4)  # 10 accounts at 4.4x
        keepers = keeper_scale.make_keepers(sc, 2, FlightCaps(max_in_flight=16), private_redis_url,
                                            f"race-{time.monotonic_ns()}")
        for k in keepers:
            k._claim = _no_claim  # what a keeper on another store sees: no lease of the other's
            k.tracker.refresh()
        sc.push({"ETH": START["ETH"] * SHOCK, "USDC": 1.0})
        sc.rpc("evm_setAutomine", [False])
        views = [k.unhealthy_accounts() for k in keepers]
        assert views[0] == views[1] and len(views[0][1]) == 10
        results: dict[int, object] = {}
        workers = [threading.Thread(target=lambda i=i: results.update({i: keepers[i].liquidate(*views[i])}),
                                    daemon=True) for i in range(2)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + DEADLINE_S
        while int(sc.rpc("txpool_status", [])["pending"], 16) < 20:  # both sent all ten
            assert time.monotonic() < deadline, "the keepers did not send everything"
            workers[0].join(0.05)
        while any(w.is_alive() for w in workers):
            assert time.monotonic() < deadline, "the keepers never collected their receipts"
            sc.rpc("evm_mine", [])
            workers[0].join(0.2)
        events = sc.c["liq"].events.Liquidated().get_logs(from_block=0)
    finally:
        sc.close()
    r0, r1 = results[0], results[1]
    assert sorted(str(e["args"]["account"]) for e in events) == sorted(views[0][1])  # each once
    assert len(r0.liquidated) + len(r1.liquidated) == 10  # type: ignore[attr-defined]
    assert r0.reverted + r1.reverted == 10  # type: ignore[attr-defined]
    reasons = {**r0.reverted_by, **r1.reverted_by}  # type: ignore[attr-defined]
    assert len(reasons) == 10 and set(reasons.values()) == {"LiquidationAccountHealthy"}
    assert r0.out_of_gas == r1.out_of_gas == []  # type: ignore[attr-defined]
    assert len(r0.sent) == len(r1.sent) == 10  # type: ignore[attr-defined]  (none sent twice by one keeper)
