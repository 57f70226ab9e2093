"""`xmargin`: one command for operators (devnet, workers, beat, API, status, oracle pusher) and users
(deposit, withdraw, trade, close, account)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn, Optional

import typer
from rich.table import Table

from relayer._cli import (
    DEFAULT_CONFIG,
    ConfigOpt,
    KeyOpt,
    config_context,
    config_settings,
    err,
    fail,
    not_running,
    out,
    user_key,
)
from relayer.cli_deploy import deploy
from relayer.cli_margin import account, close, oracle_app, trade
from relayer.cli_validator import validator_app
from relayer.cli_vault import vault_app
from relayer.cli_withdrawals import withdrawals_app
from relayer.errors import RpcUnavailableError, XmarginError

app = typer.Typer(help="xmargin: cross-chain margin relayer", no_args_is_help=True, pretty_exceptions_enable=False)
devnet_app = typer.Typer(help="The embedded devnet: 3 anvil chains, Redis, contracts, 5 validators, relayer.")
app.add_typer(devnet_app, name="devnet")
app.add_typer(oracle_app, name="oracle")
app.add_typer(vault_app, name="vault")
app.add_typer(validator_app, name="validator")
app.add_typer(withdrawals_app, name="withdrawals")


class Role(str, Enum):
    """Worker roles."""

    validator = "validator"
    submitter = "submitter"
    keeper = "keeper"
    all = "all"

# ------------------------------------------------------------------------------------ devnet


def _layout(directory: Optional[Path], base_port: Optional[int], redis_url: Optional[str] = None):  # noqa: ANN202
    """Devnet layout from env and options."""
    from relayer.devnet.layout import DevnetLayout

    return DevnetLayout.from_env(dir=directory, base_port=base_port, redis_url=redis_url)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM / SIGHUP behave like Ctrl-C: stop everything we started."""
    raise KeyboardInterrupt


@devnet_app.command("up")
def devnet_up(
    scenario: Annotated[bool, typer.Option("--scenario/--no-scenario", help="Play the demo scenario.")] = True,
    detach: Annotated[bool, typer.Option("--detach", help="Leave the devnet running in the background and return.")] = False,
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Devnet directory (default .devnet).")] = None,
    base_port: Annotated[Optional[int], typer.Option("--base-port", help="Hub RPC port; spokes +1, +2; API +3.")] = None,
    redis_url: Annotated[
        Optional[str],
        typer.Option("--redis-url", envvar="XMARGIN_REDIS_URL", help="Redis to use (started if local and down)."),
    ] = None,
) -> None:
    """Start 3 anvil chains, Redis if needed, deploy, start 5 validators, the submitter, beat and the API."""
    from relayer.devnet import scenario as demo
    from relayer.devnet.runner import Devnet

    layout = _layout(directory, base_port, redis_url)
    devnet = Devnet(layout, report=lambda m: out.print(m))
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    keep_running = False
    try:
        devnet.up()
        out.print(f"[green]devnet up[/green]: config {layout.config_path}, API http://127.0.0.1:{layout.api_port}")
        if scenario:
            try:
                demo.run(layout.config_path, report=lambda m: out.print(m))
            except XmarginError as error:
                err.print(f"[yellow]scenario stopped:[/yellow] {error}")
        if detach:
            out.print(f"detached; stop it with `xmargin devnet down{' --dir ' + str(directory) if directory else ''}`")
            keep_running = True  # ownership passes to pids.json
            return
        out.print("devnet running; Ctrl-C stops everything it started")
        _supervise(devnet)
    except KeyboardInterrupt:
        out.print("stopping ...")
    except XmarginError as error:
        devnet.down()
        fail(str(error))
    finally:
        if not keep_running:
            devnet.down()


def _supervise(devnet) -> None:  # noqa: ANN001 - relayer.devnet.runner.Devnet
    """Wait for Ctrl-C; report a process that exits on its own (once)."""
    reported: set[str] = set()
    while True:
        for proc in devnet.dead():
            if proc.name not in reported:
                reported.add(proc.name)
                err.print(f"[red]{proc.name} exited with {proc.popen.returncode}[/red]; last log lines:\n{proc.log_tail()}")
        time.sleep(1.0)


@devnet_app.command("down")
def devnet_down(
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Devnet directory (default .devnet).")] = None,
) -> None:
    """Stop a detached devnet (every process group recorded in <dir>/pids.json)."""
    from relayer.devnet.runner import stop_from_pid_file

    layout = _layout(directory, None)
    count = stop_from_pid_file(layout, report=lambda m: out.print(m))
    out.print(f"stopped {count} processes" if count else "no devnet process was running")


@devnet_app.command("deploy")
def devnet_deploy() -> None:
    """Deploy and configure the contracts on running devnet chains; write deployment.json and configs."""
    from relayer.devnet import chains, deploy

    layout = _layout(None, None)
    chains.wait_chains_reachable(layout)
    deploy.deploy(layout, report=lambda m: out.print(m))
    out.print(f"wrote {layout.deployment_path} and configs in {layout.dir_abs}")


@devnet_app.command("seed-vault")
def devnet_seed_vault(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """The LP deposits its deploy-time USDC into the LP vault once credited (`devnet up` does this itself;
    under docker compose run it once the relayer is up). Does nothing if the LP already holds shares."""
    from relayer.devnet.vault_seed import seed_vault

    seed_vault(config_context(config, quick=False), report=lambda m: out.print(m))
    out.print("the LP vault is seeded")


@devnet_app.command("scenario")
def devnet_scenario(config: ConfigOpt = DEFAULT_CONFIG, withdraw: bool = True, margin: bool = True) -> None:
    """Play the demo scenario against a running devnet (deposits, a withdrawal, a liquidation)."""
    from relayer.devnet import scenario as demo

    config_settings(config)
    demo.run(config, report=lambda m: out.print(m), withdraw=withdraw, margin=margin)


# ------------------------------------------------------------------------------------ services


SUBMITTER_THREADS = 4
"""Submitter worker threads: its ticks mostly wait on receipts, and a busy route must not hold up another."""
VALIDATOR_THREADS = 4
"""Validator worker threads: one per route of a two-spoke deployment (each spoke's deposit and
withdrawal route). With 2 threads for 4 routes, ticks of 10-40 s on a loaded machine left two
routes without a tick for minutes in the soak: beat sends every route's tick each interval, a tick
waiting for a thread expires after two, and the same two routes kept winning the free threads."""


@app.command()
def worker(
    role: Annotated[Role, typer.Option("--role", help="validator, submitter, keeper or all")] = Role.all,
    name: Annotated[Optional[str], typer.Option("--name", help="Worker name (validator name for validators).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Run a Celery worker for the role's queues (blocks until stopped)."""
    settings = config_settings(config)
    os.environ["XMARGIN_CONFIG"] = str(config)  # the Celery app and its tasks read the same file
    from relayer.worker import app as worker_app

    # one round at a time per keeper key: a busy keeper then takes no task, so a competing keeper gets it;
    # a submitter tick keeps its route's batches in flight for seconds: a thread per route of a devnet;
    # a validator likewise (a route without a free thread gets no tick at all while the others run)
    threads = {Role.keeper: 1, Role.submitter: SUBMITTER_THREADS, Role.validator: VALIDATOR_THREADS}
    concurrency = threads.get(role, 2)
    worker_app.run_worker(settings, role=role.value, name=name, concurrency=concurrency)


@app.command()
def beat(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run Celery beat: the periodic ticks of every route (blocks until stopped)."""
    settings = config_settings(config)
    os.environ["XMARGIN_CONFIG"] = str(config)
    from relayer.worker import app as worker_app

    worker_app.run_beat(settings, schedule_file=config.parent / "celerybeat-schedule")


@app.command()
def api(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Serve the HTTP API (read views, signature publication, /health, /metrics)."""
    import uvicorn

    from relayer.api.app import create_app
    from relayer.logs import configure_logging

    settings = config_settings(config)
    configure_logging()
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info")


# ------------------------------------------------------------------------------------ status


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per route: source nonce, attested nonce, processed nonce, lag in blocks and seconds."""
    from relayer.services.routes import route_statuses

    try:
        statuses = route_statuses(config_context(config))
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps([s.model_dump() for s in statuses]))
        return
    table = Table(title="xmargin routes")
    for column in ("route", "source nonce", "attested", "processed", "lag blocks", "lag s", "state"):
        table.add_column(column, justify="left" if column in ("route", "state") else "right")
    for s in statuses:
        table.add_row(
            f"{s.kind} {s.source_chain} -> {s.dest_chain}", str(s.source_nonce),
            "? (redis down)" if s.attested_nonce is None else str(s.attested_nonce),
            str(s.processed_nonce), str(s.lag_blocks), f"{s.lag_seconds:.0f}",
            ("[green]caught up[/green]" if s.caught_up else f"[yellow]{s.pending} pending[/yellow]")
            + (f" [red]halted by {len(s.halted_by)} validator(s)[/red]" if s.halted_by else "")
            + (" [red]deposits paused[/red]" if s.deposits_paused else "")
            + "".join(f" [yellow]{q.entries} {asset} deferred[/yellow]" for asset, q in s.deferred.items()),
        )
    out.print(table)
    for s in statuses:
        for asset, q in s.deferred.items():
            out.print(f"[yellow]DEFERRED[/yellow] {s.route} {asset}: {q.entries} deposit(s), {q.total} token units "
                      f"waiting for the hub's inflow limit (bucket {q.available} of {q.capacity} ledger units)")
    for s in statuses:
        for validator, reason in s.halted_by.items():
            out.print(f"[red]HALTED[/red] {s.route} by {validator}: {reason}")


@app.command()
def audit(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Solvency audit: lockboxes on chain against the ledger's books; exit code 1 on any breach."""
    from relayer.services.audit import audit as run_audit

    try:
        report = run_audit(config_context(config))
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps(report.model_dump() | {"ok": report.ok}))
    else:
        table = Table(title=f"xmargin solvency audit (hub block {report.hub_block}; token units)")
        for column in ("spoke", "token", "asset", "lockbox balance", "custodied", "ledger liquidity", "claims",
                       "deferred (inflow limit)", "unreleased withdrawals", "deposits not yet credited"):
            table.add_column(column, justify="left" if column in ("spoke", "token", "asset") else "right")
        for line in report.tokens:
            table.add_row(line.chain, line.symbol, line.asset or "-", str(line.balance), str(line.custodied),
                          str(line.liquidity), str(line.claims), str(line.deferred), str(line.unreleased),
                          str(line.uncredited))
        out.print(table)
        for asset, totals in report.assets.items():
            out.print(f"{asset}: lockboxes {totals['lockbox_total']}, account balances {totals['account_balances']}, "
                      f"unreleased {totals['unreleased']} (ledger units)")
        if report.usd is not None:
            out.print(f"USD: {report.usd.accounts} accounts sum to {report.usd.sum_usd}, bad debt {report.usd.bad_debt} (1e18)")
        for breach in report.breaches:
            err.print(f"[red]BREACH {breach.invariant}[/red] {breach.where}: {breach.detail}")
        if report.ok:
            out.print("[green]no breach[/green]: every invariant holds")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def fees(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per spoke token: minimum deposit, minimum withdrawal and the relay fee a withdrawal pays."""
    from relayer.services.fees import fee_table

    try:
        table_rows = fee_table(config_context(config))
    except RpcUnavailableError as error:
        not_running(error)
    if as_json:
        out.print_json(json.dumps([row.model_dump() for row in table_rows]))
        return
    table = Table(title="xmargin minimums and relay fees (token units; min withdrawal in ledger units)")
    for column in ("spoke", "token", "asset", "min deposit", "min withdrawal", "relay fee", "fee cap"):
        table.add_column(column, justify="left" if column in ("spoke", "token", "asset") else "right")
    for row in table_rows:
        table.add_row(row.chain, row.symbol, row.asset or "-", str(row.min_deposit), str(row.min_withdrawal),
                      str(row.relay_fee), f"{row.max_relay_fee_bps / 100:g} %")
    out.print(table)


# ------------------------------------------------------------------------------------ user actions

@app.command()
def deposit(
    chain: Annotated[str, typer.Option("--chain", help="Spoke chain name (spoke-a) or id")],
    token: Annotated[str, typer.Option("--token", help="Token symbol (USDC, WETH, ETH) or address")],
    amount: Annotated[str, typer.Option("--amount", help="Amount in whole tokens, e.g. 12.5")],
    account_: Annotated[Optional[str], typer.Option("--account", help="Hub account to credit (default: the sender)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Deposit into a spoke's lockbox, crediting a hub account."""
    from eth_account import Account

    from relayer.services import transfers

    sender_key = user_key(key)
    beneficiary = account_ or Account.from_key(sender_key).address
    try:
        result = transfers.deposit(config_context(config, quick=False), chain, token, amount, beneficiary, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    out.print(f"deposited {amount} {token} on {chain} for {beneficiary}: deposit nonce {result.route_nonce}, tx {result.tx_hash}")


@app.command()
def withdraw(
    asset: Annotated[str, typer.Option("--asset", help="Ledger asset symbol (USDC, ETH)")],
    amount: Annotated[str, typer.Option("--amount", help="Amount in whole asset units")],
    to_chain: Annotated[str, typer.Option("--to-chain", help="Spoke to release on (name or id)")],
    recipient: Annotated[Optional[str], typer.Option("--recipient", help="Receiver on that spoke (default: the sender)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Request a withdrawal on the hub ledger; relayers release it on the chosen spoke."""
    from eth_account import Account

    from relayer.services import transfers

    sender_key = user_key(key)
    to = recipient or Account.from_key(sender_key).address
    try:
        result = transfers.withdraw(config_context(config, quick=False), asset, amount, to_chain, to, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    out.print(f"withdrawal of {amount} {asset} to {to} on {to_chain} queued: nonce {result.route_nonce}, tx {result.tx_hash}")


for command in (account, trade, close):  # relayer.cli_margin: the trader's commands
    app.command()(command)
app.command()(deploy)  # relayer.cli_deploy: a real network


def main() -> None:
    """Console entry point: XmarginError becomes a one-line message and exit code 1."""
    try:
        app()
    except XmarginError as error:
        _print_and_exit(str(error), 1)


def _print_and_exit(message: str, code: int) -> NoReturn:
    """Last-resort error output outside typer's own handling."""
    err.print(f"[red]error:[/red] {message}")
    sys.exit(code)


if __name__ == "__main__":
    main()
