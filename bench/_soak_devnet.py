"""The soak's devnet: the devnet's own process specs (relayer.devnet), but with a Redis of its own
(append-only file, so a restart keeps the data and only FLUSHDB wipes it) and every relayer
process talking to the chains through bench/rpc_proxy.py. The harness itself talks to the nodes
directly (its own config file), so the faults hit only the relayer."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis
import yaml

from relayer.devnet import chains, processes
from relayer.devnet._proc import DevnetError, Managed, poll, port_in_use, spawn
from relayer.devnet.layout import DevnetLayout
from relayer.devnet.redis_server import redis_answers
from relayer.devnet.runner import Devnet

BENCH = Path(__file__).resolve().parent
PROXY_OFFSET = 4
"""Proxy ports: base + 4, 5, 6 (one per chain, in layout order); control at base + 7; Redis at base + 8."""
READY_TIMEOUT_S = 20.0


class SoakPorts:
    """Every port of one soak, from its base port (the hub's anvil)."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.proxies = [base + PROXY_OFFSET + i for i in range(3)]
        self.control = base + PROXY_OFFSET + 3
        self.redis = base + PROXY_OFFSET + 4

    def all(self) -> list[int]:
        """Every port the soak listens on (chains, API, proxies, control, Redis)."""
        return [self.base, self.base + 1, self.base + 2, self.base + 3, *self.proxies, self.control, self.redis]


class SoakNet:
    """A devnet whose relayer goes through the fault proxy; owns every process it starts."""

    def __init__(self, layout: DevnetLayout, ports: SoakPorts, fault_rate: float, seed: int, report: Any = print):
        self.layout, self.ports, self.fault_rate, self.seed = layout, ports, fault_rate, seed
        self.report = report
        self.net = Devnet(layout, report=report)
        self.redis_dir = layout.dir_abs / "redis"
        self.harness_config = layout.dir_abs / "harness.yaml"
        """config.yaml as deployed (direct node URLs): what the harness and the final audit read."""

    # ------------------------------------------------------------------------ start and stop

    def up(self) -> None:
        """Redis, chains, deployment, proxy, relayer; on any failure stop what was started."""
        layout, net = self.layout, self.net
        busy = [p for p in self.ports.all() if port_in_use(p)]
        if busy:
            raise DevnetError(f"ports {busy} are in use: another soak or devnet? (choose --base-port)")
        try:
            net._fresh_dir()
            net.procs.append(self.start_redis())
            net.procs += chains.start_chains(layout)
            net._write_pids()
            self.report("deploying contracts ...")
            processes.run_deploy(layout)
            shutil.copy(layout.config_path, self.harness_config)
            self._route_configs_through_proxy()
            net.procs.append(self._start_proxy())
            net._write_pids()
            net.procs += processes.start_relayer(layout)
            net._write_pids()
            self.report("relayer running behind the fault proxy: " + ", ".join(p.name for p in net.procs))
        except BaseException:
            net.down()
            raise

    def down(self) -> None:
        """Stop everything (relayer, proxy, chains, then Redis)."""
        self.net.down()

    # ------------------------------------------------------------------------ Redis

    def start_redis(self) -> Managed:
        """redis-server on the soak's port with an append-only file in the devnet directory."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise DevnetError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.ports.redis), "--bind", "127.0.0.1", "--dir", str(self.redis_dir),
                "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        proc = spawn("redis", argv, self.layout.log_dir / "redis.log")

        def ready() -> bool:
            if not proc.running():
                raise DevnetError(f"redis-server exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            return redis_answers(self.layout.redis_url)

        poll(ready, f"redis-server on port {self.ports.redis}", READY_TIMEOUT_S)
        return proc

    def restart_redis(self, down_s: float) -> float:
        """Stop Redis (SIGTERM: the append-only file is flushed), keep it down `down_s`, start it
        again; returns the monotonic time it answered again."""
        self.net.stop("redis")
        time.sleep(down_s)  # the outage itself: its length is the point
        self.net.procs.append(self.start_redis())
        self.net._write_pids()
        return time.monotonic()

    def wipe_redis(self) -> int:
        """FLUSHDB of the relayer's database (signatures, cursors, locks, queued tasks); returns how many
        keys it held."""
        client = redis.Redis.from_url(self.layout.redis_url)
        keys = int(client.dbsize())
        client.flushdb()
        return keys

    # ------------------------------------------------------------------------ workers

    def kill_and_restart(self, name: str) -> float:
        """SIGKILL a relayer process group and start it again; returns when it is ready again."""
        self.net.find(name).kill()
        self.net.replace(name, processes.restart(name, self.layout))
        return time.monotonic()

    def check_alive(self) -> None:
        """DevnetError naming a process that exited although nobody stopped it."""
        dead = self.net.dead()
        if dead:
            raise DevnetError(f"{dead[0].name} exited with {dead[0].popen.returncode}:\n{dead[0].log_tail(40)}")

    # ------------------------------------------------------------------------ the proxy

    def _route_configs_through_proxy(self) -> None:
        """Point every generated config (validators, submitter, beat, API, keepers, oracle) at the proxy."""
        ports = zip(self.layout.chains, self.ports.proxies, strict=True)
        proxy_url = {c.name: f"http://127.0.0.1:{p}" for c, p in ports}
        for path in self.layout.dir_abs.glob("*.yaml"):
            if path == self.harness_config:
                continue
            text = path.read_text()
            header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
            doc = yaml.safe_load(text)
            for name, chain in doc.get("chains", {}).items():
                chain["rpc_urls"] = [proxy_url[name]]
            path.write_text(header + yaml.safe_dump(doc, sort_keys=False))

    def _start_proxy(self) -> Managed:
        """bench/rpc_proxy.py for the three chains; waits until its control port answers."""
        argv = [sys.executable, str(BENCH / "rpc_proxy.py"), "--control-port", str(self.ports.control),
                "--fault-rate", str(self.fault_rate), "--seed", str(self.seed)]
        for chain, port in zip(self.layout.chains, self.ports.proxies, strict=True):
            argv += ["--route", f"{port}={self.layout.rpc_url(chain)}"]
        proc = spawn("rpc-proxy", argv, self.layout.log_dir / "rpc-proxy.log")
        poll(lambda: self.proxy_stats() is not None, "the fault proxy", READY_TIMEOUT_S)
        return proc

    def _control(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports.control}{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310 - our own loopback proxy
            return dict(json.loads(reply.read()))

    def proxy_stats(self) -> dict[str, Any]:
        """The proxy's counters."""
        return self._control("GET", "/stats")

    def proxy_outage(self, seconds: float) -> float:
        """Take the proxy fully down for `seconds` (blocks meanwhile); returns when it is back."""
        self._control("POST", "/down")
        time.sleep(seconds)  # the outage itself
        self._control("POST", "/up")
        return time.monotonic()

    def set_fault_rate(self, rate: float) -> None:
        """Change the share of faulty requests (0 for the final drain)."""
        self._control("POST", f"/rate?value={rate}")
