"""A throwaway anvil chain for benchmarks: start the real binary on a free port, deploy build
artifacts with web3, send transactions and wait for their receipts, always stop the process."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from relayer.chain.abi import load_artifact
from relayer.errors import ArtifactMissingError, BenchError

ROOT = Path(__file__).resolve().parents[1]
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ARTIFACTS = ROOT / "build" / "contracts"
PORTS = range(8780, 8790)
"""Ports this benchmark may use (one anvil at a time)."""
GAS_LIMIT = 30_000_000
TX_GAS = 15_000_000
"""Gas limit of every transaction sent (below the EIP-7825 cap of 2**24)."""
READY_TIMEOUT_S = 20.0
RECEIPT_TIMEOUT_S = 30.0
POLL_S = 0.05


def _free_port() -> int:
    """The first port of PORTS nobody listens on."""
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise BenchError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@contextmanager
def anvil(chain_id: int, *extra_args: str) -> Iterator[Web3]:
    """A fresh anvil (10 funded accounts, base fee 0) as a Web3; the process is always stopped.
    `extra_args` go to anvil as they are (e.g. "--steps-tracing" for opcode traces)."""
    if not ANVIL.exists():
        raise BenchError(f"anvil binary missing: {ANVIL} (run `make setup`)")
    port = _free_port()
    cmd = [
        str(ANVIL), "--port", str(port), "--chain-id", str(chain_id), "--accounts", "10",
        "--block-base-fee-per-gas", "0", "--gas-limit", str(GAS_LIMIT), "--silent", *extra_args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(w3):
            if proc.poll() is not None:
                raise BenchError(f"anvil exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            if time.monotonic() > deadline:
                raise BenchError(f"anvil not ready on port {port} after {READY_TIMEOUT_S}s")
            time.sleep(POLL_S)
        yield w3
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(w3: Web3) -> bool:
    """Whether the node answers RPC."""
    try:
        return w3.eth.chain_id > 0
    except Exception:  # noqa: BLE001  (connection refused while anvil boots)
        return False


def artifact(name: str) -> dict[str, Any]:
    """A brownie build artifact (abi, bytecode); BenchError if the project is not compiled."""
    try:
        data = load_artifact(name, ARTIFACTS)
    except ArtifactMissingError as err:
        raise BenchError(f"{err}: run `make compile` first") from err
    return {"abi": data.abi, "bytecode": "0x" + data.bytecode.removeprefix("0x")}


def wait(w3: Web3, tx_hash: bytes) -> TxReceipt:
    """The receipt of `tx_hash` (polled with a deadline); BenchError if it reverted."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=POLL_S)
    if receipt["status"] != 1:
        raise BenchError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def _revert_reason(call: Any, tx: dict[str, Any]) -> str:
    """Why `call` reverts now (re-run as eth_call), for the error message."""
    try:
        call.call(tx)
    except Exception as err:  # noqa: BLE001  (web3 raises several types for a revert)
        return repr(err)
    return "unknown (the call succeeds when re-run)"


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    """Deploys artifact `name` with constructor `args` from `sender`."""
    data = artifact(name)
    factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    receipt = wait(w3, factory.constructor(*args).transact({"from": sender, "gas": TX_GAS}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=data["abi"])


def send(w3: Web3, call: Any, sender: str, value: int = 0) -> TxReceipt:
    """Sends contract call `call` (a bound ContractFunction) from `sender`; the receipt.
    BenchError with the decoded revert if it fails."""
    tx = {"from": sender, "value": value, "gas": TX_GAS}
    try:
        return wait(w3, call.transact(tx))
    except BenchError as err:
        raise BenchError(f"{call.fn_name} reverted: {_revert_reason(call, tx)}") from err
