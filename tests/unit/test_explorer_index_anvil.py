"""The explorer over its index on two real anvil chains: a second lookup does not read logs from block
0 again (every eth_getLogs range is counted at the JSON-RPC provider), and every lookup answers what a
fresh full scan answers: after new deposits, after a delivery, and after a reorg deeper than the
finality policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_account import Account
from pydantic import SecretStr

from relayer.config import SubmitterConfig, load_settings
from relayer.context import Context
from relayer.services import explorer
from relayer.store.redis_store import Store
from relayer.submitter.service import Submitter

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from anvil_route_net import (
    CONFIRMATIONS,
    DEPOSIT_ROUTE,
    HUB_ID,
    SPOKE_ID,
    SUBMITTER_KEY,
    USER_KEY,
    Net,
    _deposit,
    _finalize,
    make_validators,
    pytestmark,  # noqa: F401  (skipped without the contract artifacts)
    running_net,
)
from local_services import fixed_port

HUB_PORT, SPOKE_PORT = fixed_port(8744), fixed_port(8745)


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with running_net(HUB_PORT, SPOKE_PORT) as started:
        yield started


@pytest.fixture(scope="module")
def config(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explorer")
    (root / "deployment.json").write_text(net.deployment.model_dump_json())
    chains = {
        role: {"chain_id": chain_id, "rpc_urls": [f"http://127.0.0.1:{port}"], "role": role,
               "confirmations": CONFIRMATIONS, "log_chunk": 50}
        for role, chain_id, port in (("hub", HUB_ID, HUB_PORT), ("spoke", SPOKE_ID, SPOKE_PORT))
    }
    settings = {"chains": chains, "deployment_file": str(root / "deployment.json")}
    (root / "config.yaml").write_text(yaml.safe_dump(settings))
    return root / "config.yaml"


@pytest.fixture(scope="module")
def store(roles_redis_url: str) -> Iterator[Store]:  # noqa: F811
    store = Store(roles_redis_url, prefix="explorer-index")
    yield store
    store.redis.close()


class LogRanges:
    """Every eth_getLogs (fromBlock, toBlock) a Context's clients send, per chain id."""

    def __init__(self, ctx: Context) -> None:
        self.ranges: dict[int, list[tuple[int, int]]] = {}
        for chain_id, client in ctx.clients.items():
            self._wrap(chain_id, client.provider)

    def _wrap(self, chain_id: int, provider: Any) -> None:
        send = provider.make_request

        def counted(method: str, params: Any) -> Any:
            if method == "eth_getLogs":
                bounds = (params[0]["fromBlock"], params[0]["toBlock"])
                self.ranges.setdefault(chain_id, []).append(
                    tuple(int(b, 16) if isinstance(b, str) else int(b) for b in bounds))  # type: ignore[arg-type]
            return send(method, params)

        provider.make_request = counted
        provider._request_func_cache = (None, None)  # web3 binds make_request into its cached request chain

    def take(self) -> list[tuple[int, int]]:
        out = [r for ranges in self.ranges.values() for r in ranges]
        self.ranges.clear()
        return out


def _fresh(config: Path, store: Store) -> Context:
    return Context(load_settings(config), store=store, quick=True)


def _everything(ctx: Context, user: str, tx_hash: str) -> list[Any]:
    """Every kind of lookup the API serves, as plain data."""
    route = str(DEPOSIT_ROUTE)
    return [
        explorer.lookup(ctx, user).model_dump(),
        explorer.lookup(ctx, tx_hash).model_dump(),
        explorer.lookup(ctx, "1", route).model_dump(),
        explorer.route_history(ctx, route, 0, 3).model_dump(),
        explorer.route_history(ctx, route, 2, 100).model_dump(),
        explorer.pending(ctx, user).model_dump(),
    ]


def test_lookups_read_only_new_blocks_and_match_a_fresh_full_scan(
    net: Net, config: Path, store: Store, tmp_path: Path
) -> None:
    user = Account.from_key(USER_KEY).address
    _deposit(net, [1_000, 2_000])
    _finalize(net.spoke)
    ctx = _fresh(config, store)
    logs = LogRanges(ctx)
    first = explorer.lookup(ctx, user)
    assert [m.nonce for m in first.messages] == [2, 1]
    assert any(start == 0 for start, _ in logs.take())  # the first lookup builds the index from block 0
    tx_hash = first.messages[0].tx_hash

    assert _everything(ctx, user, tx_hash) == _everything(_fresh(config, store), user, tx_hash)
    ranges = logs.take()
    assert ranges and all(start > 0 for start, _ in ranges), ranges
    assert all(end - start < 50 for start, end in ranges)  # bounded: at most log_chunk blocks a query

    _deposit(net, [3_000])  # new deposits arrive: seen unfinal, then final, never from block 0
    assert [m.state for m in explorer.lookup(ctx, user).messages][:1] == ["awaiting_finality"]
    _finalize(net.spoke)
    _deposit(net, [4_000])
    assert _everything(ctx, user, tx_hash) == _everything(_fresh(config, store), user, tx_hash)
    assert [m.nonce for m in explorer.lookup(ctx, user).messages] == [4, 3, 2, 1]
    assert all(start > 0 for start, _ in logs.take())

    validators = make_validators(net, store, tmp_path)  # a quorum signs, a submitter delivers
    _finalize(net.spoke)
    for v in validators:
        v.tick(DEPOSIT_ROUTE)
    Submitter(SubmitterConfig(key=SecretStr(SUBMITTER_KEY), stuck_after_s=20), store, net.deployment,
              net.clients).tick(DEPOSIT_ROUTE)
    applied = explorer.lookup(ctx, "4", str(DEPOSIT_ROUTE)).messages[0]
    assert applied.state == "applied" and applied.processed_gas and applied.processed_tx
    assert _everything(ctx, user, tx_hash) == _everything(_fresh(config, store), user, tx_hash)
    assert all(start > 0 for start, _ in logs.take())


def test_a_reorg_deeper_than_finality_is_rewound_and_rescanned(net: Net, config: Path, store: Store) -> None:
    user = Account.from_key(USER_KEY).address
    ctx = _fresh(config, store)
    _deposit(net, [5_000])
    _finalize(net.spoke)
    explorer.lookup(ctx, user)
    _deposit(net, [5_500])
    _finalize(net.spoke)
    before = explorer.lookup(ctx, user).messages  # the index's cursor is now past both deposits
    assert [m.amount for m in before[:2]] == [5_500, 5_000]
    logs = LogRanges(ctx)
    # the last deposit's block and the ones above it are replaced, deeper than the finality policy
    net.spoke.provider.make_request("anvil_reorg", [1 + CONFIRMATIONS, []])
    _deposit(net, [6_000])
    _finalize(net.spoke)
    after = explorer.lookup(ctx, user)
    assert after.model_dump() == explorer.lookup(_fresh(config, store), user).model_dump()
    assert min(start for start, _ in logs.take()) <= before[0].block_number  # rewound and rescanned
    assert {(m.tx_hash, m.block_number) for m in after.messages} != {(m.tx_hash, m.block_number) for m in before}
    assert after.messages[0].amount == 6_000
