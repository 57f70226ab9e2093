"""The SDK against the running devnet: every example in docs/integrator.md runs as written, in order
(deposit on spoke A credited, a trade, a withdrawal paid on spoke B, the explorer, typed events, and
the same with the native AsyncClient),
and the explorer's route history pages without overlap."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from eth_account import Account

from relayer.devnet.layout import TRADER_KEYS, USER_KEYS
from relayer.sdk import Client

from helpers import fresh_account

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrator.md"
CAROL = Account.from_key(TRADER_KEYS["carol"]).address


def _usdc(ctx, chain: str, owner: str) -> int:
    chain_id = ctx.chain_id_of(chain)
    token = ctx.erc20(chain_id, ctx.deployment.tokens[chain_id]["USDC"].address)
    return int(token.functions.balanceOf(owner).call())


def test_every_integrator_example_runs_against_the_devnet(devnet, ctx, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XMARGIN_API_URL", f"http://127.0.0.1:{devnet.layout.api_port}")
    monkeypatch.setenv("XMARGIN_CONFIG", str(devnet.layout.config_path))
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 5
    # `make devnet`'s scenario leaves 200 USDC on spoke B; here another account provides it
    seed = Client(f"http://127.0.0.1:{devnet.layout.api_port}", devnet.layout.config_path, USER_KEYS["alice"])
    seed.wait_credited(seed.deposit("spoke-b", "USDC", 200, account=fresh_account("sdk-liquidity")))
    on_b = _usdc(ctx, "spoke-b", CAROL)
    namespace: dict[str, object] = {"__name__": "integrator_doc"}

    def no_threads(*_: object, **__: object) -> None:
        raise AssertionError("the AsyncClient ran a call in a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)  # the async client is native, not threads over Client
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[python block {index + 1}]", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert out.count("credited on hub") == 2 and out.count("released") >= 2  # sync, then async
    assert _usdc(ctx, "spoke-b", CAROL) == on_b + 120 * 10**6  # both withdrawals reached the other spoke
    deposit = namespace["deposit"]
    assert namespace["client"].lookup(deposit.tx_hash).messages[0].processed_gas > 0  # type: ignore[attr-defined]


def test_route_history_pages_do_not_overlap(devnet) -> None:
    client = Client(f"http://127.0.0.1:{devnet.layout.api_port}")
    route = next(r.route for r in client.routes() if r.kind == "deposit" and r.source_nonce >= 4)
    first, second = client.history(route, 0, 2), client.history(route, 2, 2)
    assert first.total == second.total >= 4
    nonces = [m.nonce for m in first.items + second.items]
    assert nonces == sorted(nonces, reverse=True) and len(set(nonces)) == 4
    assert nonces[0] == first.total  # newest first: nonces count from 1
