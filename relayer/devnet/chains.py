"""Anvil chains of the devnet: start the real binary per chain, wait until it answers, stop it."""

from __future__ import annotations

from typing import Any

import requests

from relayer.devnet._proc import DevnetError, Managed, poll, port_in_use, program_argv, spawn
from relayer.devnet.layout import ChainSpec, DevnetLayout
from relayer.devnet.specs import chain_specs

READY_TIMEOUT_S = 20.0


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout_s: float = 5.0) -> Any:
    """One JSON-RPC call; DevnetError on a JSON-RPC error (connection errors propagate)."""
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout_s
    )
    reply.raise_for_status()
    body = reply.json()
    if "error" in body:
        raise DevnetError(f"{url} {method}: {body['error']}")
    return body.get("result")


def chain_ready(url: str, chain_id: int) -> bool:
    """Whether the node at `url` answers with the expected chain id (DevnetError if it is another chain)."""
    got = int(rpc_call(url, "eth_chainId", timeout_s=1.0), 16)
    if got != chain_id:
        raise DevnetError(f"{url} answers with chain id {got}, expected {chain_id}: another node holds the port")
    return True


def start_chains(layout: DevnetLayout, timeout_s: float = READY_TIMEOUT_S) -> list[Managed]:
    """Start one anvil per chain (own process group, log in the devnet dir) and wait until all answer."""
    busy = [c.port for c in layout.chains if port_in_use(c.port)]
    if busy:
        raise DevnetError(f"ports {busy} already in use: is a devnet running? (`xmargin devnet down`)")
    started: list[Managed] = []
    try:
        for spec in chain_specs(layout):
            log = layout.log_dir / f"{spec.name}.log"
            started.append(spawn(spec.name, program_argv(spec.program, spec.args), log, spec.env))
        for proc, chain in zip(started, layout.chains, strict=True):
            wait_chain(proc, chain, layout.rpc_url(chain), timeout_s)
    except BaseException:
        for proc in started:
            proc.kill()
        raise
    return started


def wait_chain(proc: Managed, chain: ChainSpec, url: str, timeout_s: float) -> None:
    """Poll `url` until the chain answers; fail fast with its log if the process exited."""

    def check() -> bool:
        if not proc.running():
            raise DevnetError(f"anvil {chain.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return chain_ready(url, chain.chain_id)

    poll(check, f"anvil {chain.name} at {url}", timeout_s)


def wait_chains_reachable(layout: DevnetLayout, timeout_s: float = 60.0) -> None:
    """Wait until every chain of the layout answers (used by the deploy one-shot under compose)."""
    for chain in layout.chains:
        url = layout.rpc_url(chain)
        poll(lambda url=url, chain=chain: chain_ready(url, chain.chain_id), f"chain {chain.name} at {url}", timeout_s)


def set_interval_mining(url: str, seconds: int) -> None:
    """Pause (0) or resume interval mining on one anvil."""
    rpc_call(url, "evm_setIntervalMining", [seconds])
