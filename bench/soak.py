"""Soak under faults: thousands of deposits and withdrawals on a fresh devnet while workers are
SIGKILLed, Redis is restarted and wiped, a fault-injecting RPC proxy sits between the relayer and
every chain (and goes fully down), and shallow reorgs hit a spoke. It ends with every deposit
credited exactly once, every withdrawal released exactly once, `audit` clean, and a report of the
worst lag and the recovery time after each fault.

    .venv/bin/python bench/soak.py                      # 10,000 deposits, 2,000 withdrawals, 600 s
    .venv/bin/python bench/soak.py --deposits 300 --withdrawals 60 --duration 90 --outage-s 10

See bench/README.md ("Soak under faults") for every option and the measured figures."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the relayer package of this checkout comes first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from relayer.context import Context  # noqa: E402
from relayer.devnet import processes  # noqa: E402
from relayer.devnet._proc import INHERITED_XMARGIN_VARS, DeadlineError, poll  # noqa: E402
from relayer.devnet.layout import DevnetLayout, validator_name  # noqa: E402
from relayer.errors import XmarginError  # noqa: E402

from _latency_devnet import _GUARD  # noqa: E402
from _soak_devnet import SoakNet, SoakPorts  # noqa: E402
from _soak_monitor import Fault, Monitor, verdict  # noqa: E402
from _soak_traffic import Traffic, withdrawal_units  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "soak.json"
KILL_ROTATION = [*(validator_name(i) for i in range(1, 6)), "submitter"]
REDIS_DOWN_S = 5.0


def schedule(args: argparse.Namespace) -> list[tuple[float, str]]:
    """The one-off faults, spread evenly over the run in a fixed interleaving: proxy outages,
    Redis restarts, Redis wipes and reorgs take turns."""
    kinds = {"outage": args.outages, "redis-restart": args.redis_restarts, "redis-wipe": args.redis_wipes,
             "reorg": args.reorgs}
    order: list[str] = []
    while any(kinds.values()):
        for kind in ("outage", "redis-restart", "reorg", "redis-wipe"):
            if kinds[kind]:
                order.append(kind)
                kinds[kind] -= 1
    step = args.duration / (len(order) + 1)
    return [(step * (k + 1), kind) for k, kind in enumerate(order)]


class FaultRunner:
    """Two threads: worker kills every `kill_every` s, and the scheduled one-off faults."""

    def __init__(self, net: SoakNet, traffic: Traffic, args: argparse.Namespace) -> None:
        self.net, self.traffic, self.args = net, traffic, args
        self.faults: list[Fault] = []
        self.errors: list[BaseException] = []
        self.process_lock = threading.Lock()
        """Held while a process is killed and restarted, or Redis is down: no worker is restarted
        while Redis is down (it would wait for its broker), and no exit is taken for a crash meanwhile."""
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guarded, args=(f,), daemon=True)
                        for f in (self._kills, self._scheduled)]

    def start(self) -> None:
        self.began = time.monotonic()
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _guarded(self, target: Any) -> None:
        try:
            target()
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            self.errors.append(err)

    def _log(self, fault: Fault) -> None:
        self.faults.append(fault)
        at = fault.start - self.began
        print(f"[soak] t={at:6.1f}s {fault.kind} {fault.detail} ({fault.end - fault.start:.1f} s)", flush=True)

    def _kills(self) -> None:
        if self.args.kill_every <= 0:
            return
        k = 0
        while not self.stop.wait(self.args.kill_every):
            if time.monotonic() - self.began > self.args.duration:
                return
            name = KILL_ROTATION[k % len(KILL_ROTATION)]
            k += 1
            with self.process_lock:
                start = time.monotonic()
                end = self.net.kill_and_restart(name)
            self._log(Fault("sigkill", start, end, {"process": name}))

    def _scheduled(self) -> None:
        spoke = self.traffic.spokes[0]
        reorgs = 0
        for at, kind in schedule(self.args):
            if self.stop.wait(max(0.0, self.began + at - time.monotonic())):
                return
            start = time.monotonic()
            if kind == "outage":
                end = self.net.proxy_outage(self.args.outage_s)
                detail: dict[str, Any] = {"seconds": self.args.outage_s}
            elif kind == "redis-restart":
                with self.process_lock:
                    end = self.net.restart_redis(REDIS_DOWN_S)
                detail = {"down_s": REDIS_DOWN_S}
            elif kind == "redis-wipe":
                detail = {"flushdb_keys": self.net.wipe_redis()}
                end = time.monotonic()
            else:
                reorgs += 1
                detail = self.traffic.reorg(spoke, self.args.reorg_depth, reorgs, self.net.layout.block_time)
                end = time.monotonic()
            self._log(Fault(kind, start, end, detail))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the devnet, run the load under faults, drain, judge, stop the devnet."""
    layout = DevnetLayout(
        dir=Path(tempfile.mkdtemp(prefix="xmargin-soak-")), base_port=args.base_port,
        redis_url=f"redis://127.0.0.1:{SoakPorts(args.base_port).redis}/0", block_time=1,
        confirmations=args.confirmations,
    )
    net = SoakNet(layout, SoakPorts(args.base_port), args.fault_rate, args.seed,
                  report=lambda m: print(f"[devnet] {m}", flush=True))
    guard = subprocess.Popen(  # noqa: S603 - stops the devnet if this process dies without doing it
        [sys.executable, "-c", _GUARD, layout.model_dump_json(), str(layout.pid_file)],
        stdin=subprocess.PIPE, start_new_session=True, env=os.environ.copy(),
    )
    ok = False
    clock = time.monotonic()
    try:
        net.up()
        report = _soak(net, args, clock)
        ok = not report["failures"]
        return report
    finally:
        net.down()
        assert guard.stdin is not None
        guard.stdin.close()
        guard.wait(timeout=30)
        if ok and not args.keep_logs:
            shutil.rmtree(layout.dir_abs, ignore_errors=True)
        else:
            print(f"[soak] logs kept in {layout.log_dir}", flush=True)


def _soak(net: SoakNet, args: argparse.Namespace, clock: float) -> dict[str, Any]:
    ctx = Context.from_file(net.harness_config)
    traffic = Traffic(ctx, args.accounts)
    max_withdrawn = sum(withdrawal_units(i) for i in range(args.withdrawals))
    traffic.prefund_withdrawer(max_withdrawn + 1_000_000)  # each spoke could take every withdrawal
    up_s = time.monotonic() - clock
    monitor = Monitor(ctx)
    monitor.start()
    faults = FaultRunner(net, traffic, args)
    load_start = time.monotonic()
    traffic.start(args.deposits, args.withdrawals, args.duration)
    faults.start()
    unexpected: list[str] = []
    try:
        while not traffic.done() or time.monotonic() - load_start < args.duration:
            if time.monotonic() - load_start > args.duration * args.max_load_factor:
                print("[soak] the senders fell behind their pace (CPU?): load stopped; what was sent is judged",
                      flush=True)
                traffic.halt()
                break
            for err in traffic.errors + faults.errors:
                raise err
            with faults.process_lock:
                for proc in net.net.dead():  # nobody stopped it: a finding, reported; restarted so the run goes on
                    unexpected.append(f"{proc.name} exited with {proc.popen.returncode}: {proc.log_tail(5)}")
                    print(f"[soak] UNEXPECTED EXIT {unexpected[-1]}", flush=True)
                    net.net.replace(proc.name, processes.restart(proc.name, net.layout))
            time.sleep(0.5)
    finally:
        faults.join()
        traffic.halt()
    for err in traffic.errors + faults.errors:
        raise err
    load_s = time.monotonic() - load_start
    try:
        poll(lambda: monitor.caught_up(), "every route to catch up after the load", args.drain_timeout, interval_s=1.0)
        drained = True
    except DeadlineError:
        drained = False
    drain_s = time.monotonic() - load_start - load_s
    time.sleep(2.0)  # one more sample after the last batch
    monitor.close()
    failures, figures = verdict(ctx, traffic)
    if not drained:
        failures.insert(0, f"the routes did not catch up within {args.drain_timeout:.0f} s of the load's end")
    failures += [f"unexpected exit: {u}" for u in unexpected]
    return {
        "ok": not failures,
        "failures": failures,
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "runtime_s": {"devnet_up_and_prefund": round(up_s, 1), "load": round(load_s, 1), "drain": round(drain_s, 1)},
        "sent": {"deposits": sum(traffic.books.deposits.values()),
                 "withdrawals": sum(traffic.books.withdrawals.values()), "requested_deposits": args.deposits,
                 "requested_withdrawals": args.withdrawals},
        "lag": monitor.lags(),
        "faults": [{"kind": f.kind, "at_s": round(f.start - load_start, 1), "length_s": round(f.end - f.start, 1),
                    "recovery_s": monitor.recovery_s(f.end), **f.detail} for f in faults.faults],
        "proxy": net.proxy_stats(),
        "monitor_sample_errors": monitor.errors,
        "unexpected_exits": unexpected,
        "load_avg": [round(x, 1) for x in os.getloadavg()],
        "routes": figures,
    }


def print_report(report: dict[str, Any]) -> None:
    """The human version of the JSON report."""
    print("\n== soak under faults ==")
    print(f"sent: {report['sent']}; runtime {report['runtime_s']}; load avg {report['load_avg']}")
    print(f"proxy: {report['proxy']}")
    print(f"{'route':<28} {'messages':>8} {'backlog max':>11} {'p50 s':>6} {'p99 s':>6} {'max s':>6}")
    for route, lag in report["lag"].items():
        print(f"{route:<28} {lag['messages']:>8} {lag['worst_backlog_messages']:>11} {lag['latency_p50_s']:>6} "
              f"{lag['latency_p99_s']:>6} {lag['latency_max_s']:>6}")
    print(f"{'fault':<14} {'at s':>6} {'length s':>8} {'recovery s':>10}  detail")
    for fault in report["faults"]:
        detail = {k: v for k, v in fault.items() if k not in ("kind", "at_s", "length_s", "recovery_s")}
        print(f"{fault['kind']:<14} {fault['at_s']:>6} {fault['length_s']:>8} {fault['recovery_s']!s:>10}  {detail}")
    recoveries = [f["recovery_s"] for f in report["faults"] if f["recovery_s"] is not None]
    if recoveries:
        print(f"worst recovery: {max(recoveries)} s")
    print(f"audit clean: {report['routes'].get('audit_ok')}")
    print("RESULT: " + ("every deposit credited once, every withdrawal released once" if report["ok"]
                        else "FAILED\n  " + "\n  ".join(report["failures"])))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    p.add_argument("--deposits", type=int, default=10_000, help="deposits, split over both spokes (10000)")
    p.add_argument("--withdrawals", type=int, default=2_000, help="withdrawals, alternating spokes (2000)")
    p.add_argument("--duration", type=float, default=600.0, help="seconds over which the load is paced (600)")
    p.add_argument("--accounts", type=int, default=4, help="depositing accounts per spoke (4)")
    p.add_argument("--kill-every", type=float, default=20.0, help="SIGKILL + restart a worker every S s, 0: never (20)")
    p.add_argument("--outages", type=int, default=2, help="proxy fully down, times (2)")
    p.add_argument("--outage-s", type=float, default=30.0, help="length of each proxy outage (30)")
    p.add_argument("--redis-restarts", type=int, default=1, help="Redis stopped 5 s and started again, times (1)")
    p.add_argument("--redis-wipes", type=int, default=1, help="FLUSHDB of the relayer's Redis DB, times (1)")
    p.add_argument("--reorgs", type=int, default=2, help="shallow reorgs of spoke A (2)")
    p.add_argument("--reorg-depth", type=int, default=2, help="blocks replaced, <= confirmations (2)")
    p.add_argument("--fault-rate", type=float, default=0.1, help="share of RPC requests dropped/delayed/failed (0.1)")
    p.add_argument("--confirmations", type=int, default=2, help="finality depth of every chain (2)")
    p.add_argument("--seed", type=int, default=7, help="the proxy's fault seed (7)")
    p.add_argument("--max-load-factor", type=float, default=1.5,
                   help="stop sending at duration x this if the senders fell behind (1.5)")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to catch up after the load (300)")
    p.add_argument("--base-port", type=int, default=int(env("XMARGIN_SOAK_BASE_PORT", "18700")),
                   help="hub RPC; spokes +1, +2, API +3, proxies +4..6, control +7, Redis +8 (18700)")
    p.add_argument("--keep-logs", action="store_true", help="keep the devnet directory (logs) after a success")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON report (bench/results/soak.json)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run, print and write the report; exit status 1 unless every check held."""
    args = parser().parse_args(argv)
    if args.reorg_depth > args.confirmations:
        parser().error("--reorg-depth above --confirmations is not shallow: validators may have signed those blocks")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for name in list(os.environ):  # XMARGIN_* settings (a shell's Redis URL ...) would override the soak's configs
        if name.startswith("XMARGIN_") and name not in INHERITED_XMARGIN_VARS:
            del os.environ[name]
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; the devnet was stopped", file=sys.stderr)
        return 130
    except XmarginError as err:
        print(f"soak failed (the devnet was stopped): {err}", file=sys.stderr)
        return 1
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
