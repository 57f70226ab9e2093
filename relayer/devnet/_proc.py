"""Process-group plumbing for the devnet: spawn, poll with a deadline, stop, kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from relayer.errors import DeadlineError, DevnetError  # re-exported: devnet code imports them from here

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_RELATIVE = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


def poll(
    check: Callable[[], T | None],
    what: str,
    timeout_s: float,
    interval_s: float = 0.2,
    fatal: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `check` until it returns something other than None/False; raise DeadlineError at the deadline.

    Exceptions count as "not yet" (a node still starting), except those in `fatal` and DevnetError,
    which end the wait at once.
    """
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
        except (DevnetError, *fatal):
            raise
        except Exception as err:  # noqa: BLE001 - transient while polling; reported at the deadline
            last = f"{type(err).__name__}: {err}"
        if time.monotonic() >= deadline:
            raise DeadlineError(what, timeout_s, last)
        time.sleep(interval_s)


def anvil_binary() -> str:
    """The real anvil binary (not the Node wrapper, which would not pass signals on)."""
    override = os.environ.get("XMARGIN_ANVIL")
    candidates = [Path(override)] if override else []
    candidates += [Path.cwd() / ANVIL_RELATIVE, REPO_ROOT / ANVIL_RELATIVE]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise DevnetError(
        f"anvil binary not found at {', '.join(map(str, candidates))}: run `make setup` (npm ci) or set XMARGIN_ANVIL"
    )


def program_argv(program: str, args: Sequence[str]) -> list[str]:
    """argv for a spec's program: the real anvil binary, or this interpreter running relayer.cli."""
    if program == "anvil":
        return [anvil_binary(), *args]
    if program == "xmargin":
        return [sys.executable, "-m", "relayer.cli", *args]
    raise DevnetError(f"unknown program {program!r}")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


class Managed:
    """A process the devnet started: its name, Popen handle (its pid is its process group) and log."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path, log_offset: int = 0) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.log_offset = log_offset
        """Size of the log before this run started (logs are appended across restarts)."""

    @property
    def pid(self) -> int:
        """Process id, also the process group id (each process gets its own session)."""
        return self.popen.pid

    def running(self) -> bool:
        """Whether the process has not exited."""
        return self.popen.poll() is None

    def log_text(self) -> str:
        """What this run has written to its log so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """Last lines of this run's log, for error messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL after the timeout; reap the leader."""
        stop_group(self.pid, timeout_s)
        self.reap()

    def kill(self) -> None:
        """SIGKILL the group at once; reap the leader."""
        kill_group(self.pid)
        self.reap()

    def reap(self) -> None:
        """Collect the exit status so that no zombie is left."""
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


INHERITED_XMARGIN_VARS = ("XMARGIN_BUILD_DIR", "XMARGIN_ANVIL", "XMARGIN_CRASH_DATA")
"""XMARGIN_* variables a devnet process inherits; other XMARGIN_* settings would override its config file.
The crash data's folder is not a setting of the config: the deploy step (start prices) and the scenario
(the path it replays) must read the same files, or the first step moves beyond the oracle's bound."""


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without XMARGIN_* overrides (but the build dir), plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("XMARGIN_") or k in INHERITED_XMARGIN_VARS}
    return {**base, **(env or {})}


def spawn(name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> Managed:
    """Start `argv` in its own process group (so it and its children stop together), output to a log.

    The child sees only the XMARGIN_* variables in `env` (and the build dir): the devnet's config
    files, not the caller's shell, decide its settings."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = child_env(env)
    with open(log_path, "ab") as log:
        offset = log.tell()
        popen = subprocess.Popen(  # noqa: S603 - argv built from our own specs
            list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, start_new_session=True,
        )
    return Managed(name, popen, log_path, offset)


def alive(pid: int) -> bool:
    """Whether process `pid` exists (and is not a zombie of ours)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group; a group already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # the leader may be our zombie: reap it so that the group can vanish
    alive(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(pgid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM a process group, wait (poll with a deadline), then SIGKILL whatever is left."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.1)
    kill_group(pgid)


def stop_groups(pgids: Sequence[int], timeout_s: float = 10.0) -> None:
    """SIGTERM every group at once, wait for all (poll with a deadline), SIGKILL whatever is left."""
    for pgid in pgids:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_group_alive(g) for g in pgids):
        time.sleep(0.1)
    for pgid in pgids:
        if _group_alive(pgid):
            kill_group(pgid)


def stop_all(procs: Sequence[Managed], timeout_s: float = 10.0) -> None:
    """Stop several managed processes together and reap them."""
    stop_groups([p.pid for p in procs], timeout_s)
    for proc in procs:
        proc.reap()


def kill_group(pgid: int, timeout_s: float = 5.0) -> None:
    """SIGKILL a whole process group and wait until it is gone."""
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.05)
