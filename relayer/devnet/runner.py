"""The whole devnet from one call: Redis, chains, deployment, relayer processes; and its teardown."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from relayer.devnet import chains, processes, redis_server
from relayer.devnet._proc import DevnetError, Managed, alive, stop_all, stop_groups
from relayer.devnet.layout import DevnetLayout

Report = Callable[[str], None]


class PidRecord(BaseModel):
    """A process group a devnet started, as written to pids.json for `devnet down`."""

    name: str
    pid: int
    argv0: str
    """Executable, checked before signalling so that a recycled pid is never killed."""


class Devnet:
    """Owns every process it starts; `down()` stops them all (also on errors and Ctrl-C)."""

    def __init__(self, layout: DevnetLayout, report: Report = print) -> None:
        self.layout = layout
        self.report = report
        self.procs: list[Managed] = []

    def up(self) -> None:
        """Start everything; on any failure stop what was started and re-raise."""
        layout = self.layout
        try:
            self._fresh_dir()
            redis_proc = redis_server.ensure_redis(layout)
            if redis_proc is not None:
                self.procs.append(redis_proc)
                self.report(f"started redis-server for {layout.redis_url}")
            cleared = redis_server.clear_devnet_keys(layout.redis_url)
            self.report(f"redis {layout.redis_url}: cleared {cleared} keys of a previous devnet")
            self.procs += chains.start_chains(layout)
            self._write_pids()
            for chain in layout.chains:
                self.report(f"chain {chain.name}: id {chain.chain_id} at {layout.rpc_url(chain)}")
            self.report("deploying contracts ...")
            processes.run_deploy(layout)
            self.report(f"deployed: {layout.deployment_path}")
            self.procs += processes.start_relayer(layout)
            self._write_pids()
            infra = {c.name for c in layout.chains} | {"redis"}
            self.report("relayer running: " + ", ".join(p.name for p in self.procs if p.name not in infra))
            self._seed_vault()
        except BaseException:
            self.down()
            raise

    def _seed_vault(self) -> None:
        """The LP deposits its USDC into the LP vault once the relayer has credited it: until then the
        markets' counterparty has no margin and no trade that grows the skew can fill."""
        from relayer.context import Context
        from relayer.devnet.vault_seed import seed_vault

        self.report("seeding the LP vault (waits for the relayer to credit the LP's USDC) ...")
        seed_vault(Context.from_file(self.layout.config_path), report=self.report)

    def _fresh_dir(self) -> None:
        """New chains make old deployments, signer databases and logs meaningless: start clean."""
        root = self.layout.dir_abs
        if self.layout.pid_file.exists() and any(alive(r.pid) for r in read_pids(self.layout.pid_file)):
            raise DevnetError(f"a devnet is already running from {root} (`xmargin devnet down` first)")
        if root.exists():
            for child in root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        root.mkdir(parents=True, exist_ok=True)

    def _write_pids(self) -> None:
        """Record every running process group, for `devnet down` from another shell."""
        records = [
            PidRecord(name=p.name, pid=p.pid, argv0=str(p.popen.args[0]))  # type: ignore[index]
            for p in self.procs
        ]
        self.layout.pid_file.write_text(json.dumps([r.model_dump() for r in records], indent=2))

    def dead(self) -> list[Managed]:
        """Processes that exited although nobody stopped them."""
        return [p for p in self.procs if not p.running()]

    def find(self, name: str) -> Managed:
        """The running process named `name`."""
        for proc in self.procs:
            if proc.name == name:
                return proc
        raise KeyError(name)

    def replace(self, name: str, proc: Managed) -> None:
        """Swap in a restarted process under `name`."""
        self.procs = [p for p in self.procs if p.name != name] + [proc]
        self._write_pids()

    def stop(self, name: str) -> None:
        """Stop the process named `name` (SIGTERM, then SIGKILL) and forget it."""
        self.find(name).stop()
        self.procs = [p for p in self.procs if p.name != name]
        self._write_pids()

    def down(self) -> None:
        """Stop relayer processes first, then chains, then a Redis we started; remove the pid file."""
        infra = {c.name for c in self.layout.chains} | {"redis"}
        stop_all([p for p in self.procs if p.name not in infra])
        stop_all([p for p in self.procs if p.name in infra and p.name != "redis"])
        stop_all([p for p in self.procs if p.name == "redis"])
        self.procs = []
        self.layout.pid_file.unlink(missing_ok=True)


def read_pids(path: Path) -> list[PidRecord]:
    """Records of pids.json (empty if it is missing or unreadable)."""
    try:
        return [PidRecord.model_validate(r) for r in json.loads(path.read_text())]
    except (OSError, ValueError):
        return []


def _same_program(record: PidRecord) -> bool:
    """Whether pid still runs the executable we started (pids get recycled)."""
    try:
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].decode(errors="replace") == record.argv0


def stop_from_pid_file(layout: DevnetLayout, report: Report = print) -> int:
    """Stop every process group recorded by a (detached) devnet; returns how many were running."""
    running = [r for r in read_pids(layout.pid_file) if _same_program(r)]
    infra = {c.name for c in layout.chains} | {"redis"}
    for group in ([r for r in running if r.name not in infra], [r for r in running if r.name in infra]):
        stop_groups([r.pid for r in group])
        for record in group:
            report(f"stopped {record.name} (pid {record.pid})")
    layout.pid_file.unlink(missing_ok=True)
    return len(running)
