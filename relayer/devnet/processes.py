"""Relayer processes of the devnet: the deploy one-shot, 5 validator workers, the submitter, beat, the API,
the keeper and the oracle pusher."""

from __future__ import annotations

import subprocess

from relayer.devnet._proc import DevnetError, Managed, poll, program_argv, spawn
from relayer.devnet.layout import DevnetLayout
from relayer.devnet.specs import ProcessSpec, deploy_spec, relayer_specs
from relayer.keeper.oracle_service import READY_LINE

DEPLOY_TIMEOUT_S = 180.0
READY_TIMEOUT_S = 90.0
READY_MARKERS: dict[str, tuple[str, ...]] = {
    "worker": ("ready.",),
    "beat": ("beat: Starting",),
    "api": ("Uvicorn running on", "Application startup complete"),
    "oracle": (READY_LINE,),
}
"""Log lines that show a process is serving (Celery worker, Celery beat, uvicorn)."""


def start(spec: ProcessSpec, layout: DevnetLayout) -> Managed:
    """Start one spec in its own process group, logging to <devnet dir>/logs/<name>.log."""
    log = layout.log_dir / f"{spec.name}.log"
    return spawn(spec.name, program_argv(spec.program, spec.args), log, spec.env)


def run_deploy(layout: DevnetLayout, timeout_s: float = DEPLOY_TIMEOUT_S) -> None:
    """Run the deploy one-shot (the same command docker compose runs) and require exit code 0."""
    proc = start(deploy_spec(layout), layout)
    try:
        code = proc.popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        proc.kill()
        raise DevnetError(f"deploy did not finish in {timeout_s:.0f}s:\n{proc.log_tail()}") from err
    if code != 0:
        raise DevnetError(f"deploy failed with exit code {code}:\n{proc.log_tail(40)}")


def _marker(spec: ProcessSpec) -> tuple[str, ...]:
    """What the spec's log shows once it serves."""
    if spec.args and spec.args[0] == "worker":
        return READY_MARKERS["worker"]
    return READY_MARKERS.get(spec.args[0] if spec.args else "", ())


def wait_ready(proc: Managed, spec: ProcessSpec, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll the process's log for its ready marker; fail at once (with its log) if it exits."""
    markers = _marker(spec)

    def ready() -> bool:
        if not proc.running():
            raise DevnetError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail(40)}")
        if not markers:
            return True
        text = proc.log_text()
        return any(m in text for m in markers)

    poll(ready, f"{proc.name} to be ready", timeout_s, interval_s=0.3)


def start_relayer(
    layout: DevnetLayout, names: set[str] | None = None, extra: list[ProcessSpec] | None = None
) -> list[Managed]:
    """Start the relayer services (all, or only `names`, plus `extra` specs) and wait until each is ready."""
    specs = [s for s in relayer_specs(layout) if names is None or s.name in names] + list(extra or [])
    started: list[Managed] = []
    try:
        for spec in specs:
            started.append(start(spec, layout))
        for proc, spec in zip(started, specs, strict=True):
            wait_ready(proc, spec)
    except BaseException:
        for proc in started:
            proc.kill()
        raise
    return started


def restart(name: str, layout: DevnetLayout) -> Managed:
    """Start one relayer service again (after a crash or a kill) and wait until it is ready."""
    (proc,) = start_relayer(layout, {name})
    return proc
