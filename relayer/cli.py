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
from rich.console import Console
from rich.table import Table

from relayer.errors import ConfigError, RpcUnavailableError, XmarginError

app = typer.Typer(help="xmargin: cross-chain margin relayer", no_args_is_help=True, pretty_exceptions_enable=False)
devnet_app = typer.Typer(help="The embedded devnet: 3 anvil chains, Redis, contracts, 5 validators, relayer.")
app.add_typer(devnet_app, name="devnet")
oracle_app = typer.Typer(help="Devnet price feeds: the pusher service, queued price paths, current prices.")
app.add_typer(oracle_app, name="oracle")
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DEFAULT_CONFIG = Path(".devnet/config.yaml")
ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="XMARGIN_CONFIG", help="Settings YAML (default: the devnet's).", show_default=True),
]
EXIT_NOT_RUNNING = 2


class Role(str, Enum):
    """Worker roles."""

    validator = "validator"
    submitter = "submitter"
    keeper = "keeper"
    all = "all"


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with `code`."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _settings(config: Path):  # noqa: ANN202 - relayer.config.Settings, imported lazily (fast --help)
    """Settings from `config`; a missing devnet config reads as "the devnet is not running"."""
    from relayer.config import load_settings

    if not config.is_file():
        _fail(f"no config at {config}: is the devnet running? (`xmargin devnet up`) or pass --config", EXIT_NOT_RUNNING)
    return load_settings(config)


def _backend(config: Path, quick: bool = True):  # noqa: ANN202
    """Views backend for `config`."""
    from relayer.api.views import Backend

    return Backend(_settings(config), quick=quick)


def _not_running(error: RpcUnavailableError) -> NoReturn:
    """A chain did not answer: most likely the devnet is down."""
    _fail(f"{error}\nis the devnet running? (`xmargin devnet up`)", EXIT_NOT_RUNNING)


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
        _fail(str(error))
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


@devnet_app.command("scenario")
def devnet_scenario(config: ConfigOpt = DEFAULT_CONFIG, withdraw: bool = True, margin: bool = True) -> None:
    """Play the demo scenario against a running devnet (deposits, a withdrawal, a liquidation)."""
    from relayer.devnet import scenario as demo

    _settings(config)
    demo.run(config, report=lambda m: out.print(m), withdraw=withdraw, margin=margin)


# ------------------------------------------------------------------------------------ services


@app.command()
def worker(
    role: Annotated[Role, typer.Option("--role", help="validator, submitter, keeper or all")] = Role.all,
    name: Annotated[Optional[str], typer.Option("--name", help="Worker name (validator name for validators).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Run a Celery worker for the role's queues (blocks until stopped)."""
    settings = _settings(config)
    os.environ["XMARGIN_CONFIG"] = str(config)  # the Celery app and its tasks read the same file
    from relayer.worker import app as worker_app

    # one round at a time per keeper key: a busy keeper then takes no task, so a competing keeper gets it
    concurrency = 1 if role is Role.keeper else 2
    worker_app.run_worker(settings, role=role.value, name=name, concurrency=concurrency)


@app.command()
def beat(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run Celery beat: the periodic ticks of every route (blocks until stopped)."""
    settings = _settings(config)
    os.environ["XMARGIN_CONFIG"] = str(config)
    from relayer.worker import app as worker_app

    worker_app.run_beat(settings, schedule_file=config.parent / "celerybeat-schedule")


@app.command()
def api(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Serve the HTTP API (read views, signature publication, /health, /metrics)."""
    import uvicorn

    from relayer.api.app import create_app

    settings = _settings(config)
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info")


# ------------------------------------------------------------------------------------ status


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per route: source nonce, attested nonce, processed nonce, lag in blocks and seconds."""
    from relayer.api.views import route_statuses

    try:
        statuses = route_statuses(_backend(config))
    except RpcUnavailableError as error:
        _not_running(error)
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
            "[green]caught up[/green]" if s.caught_up else f"[yellow]{s.pending} pending[/yellow]",
        )
    out.print(table)


@app.command()
def audit(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Solvency audit: lockboxes on chain against the ledger's books; exit code 1 on any breach."""
    from relayer.api.audit import audit as run_audit

    try:
        report = run_audit(_backend(config))
    except RpcUnavailableError as error:
        _not_running(error)
    if as_json:
        out.print_json(json.dumps(report.model_dump() | {"ok": report.ok}))
    else:
        table = Table(title=f"xmargin solvency audit (hub block {report.hub_block}; token units)")
        for column in ("spoke", "token", "asset", "lockbox balance", "custodied", "ledger liquidity", "claims",
                       "unreleased withdrawals", "deposits not yet credited"):
            table.add_column(column, justify="left" if column in ("spoke", "token", "asset") else "right")
        for line in report.tokens:
            table.add_row(line.chain, line.symbol, line.asset or "-", str(line.balance), str(line.custodied),
                          str(line.liquidity), str(line.claims), str(line.unreleased), str(line.uncredited))
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


# ------------------------------------------------------------------------------------ user actions

KeyOpt = Annotated[
    Optional[str],
    typer.Option("--key", envvar="XMARGIN_USER_KEY", help="Sender private key (default: the devnet's dev user alice, DEV ONLY)."),
]


def _user_key(key: Optional[str]) -> str:
    """The given key, or the devnet's dev user key with a loud warning."""
    if key:
        return key
    from relayer.devnet.layout import USER_KEYS

    err.print("[yellow]warning:[/yellow] no --key / XMARGIN_USER_KEY: using the devnet dev user alice's PUBLIC key (DEV ONLY)")
    return USER_KEYS["alice"]


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

    from relayer.api import actions

    sender_key = _user_key(key)
    beneficiary = account_ or Account.from_key(sender_key).address
    try:
        result = actions.deposit(_backend(config, quick=False), chain, token, amount, beneficiary, sender_key)
    except RpcUnavailableError as error:
        _not_running(error)
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

    from relayer.api import actions

    sender_key = _user_key(key)
    to = recipient or Account.from_key(sender_key).address
    try:
        result = actions.withdraw(_backend(config, quick=False), asset, amount, to_chain, to, sender_key)
    except RpcUnavailableError as error:
        _not_running(error)
    out.print(f"withdrawal of {amount} {asset} to {to} on {to_chain} queued: nonce {result.route_nonce}, tx {result.tx_hash}")


@app.command()
def account(
    address: Annotated[Optional[str], typer.Argument(help="Hub account address (default: the --key's)")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Balances per asset (withdrawable per spoke), claims, and margin: positions, equity, IM, MM, health."""
    from eth_account import Account

    from relayer.api.margin import account_with_margin
    from relayer.api.views import collateral_view

    backend = _backend(config)
    address = address or Account.from_key(_user_key(key)).address
    try:
        view = collateral_view(backend, address)
        acct = account_with_margin(backend, address)
    except RpcUnavailableError as error:
        _not_running(error)
    if as_json:
        out.print_json(json.dumps({"account": acct.model_dump(), "collateral": view.model_dump()}))
        return
    _print_balances(acct, view)
    if acct.margin is not None:
        _print_margin(acct.margin)


def _print_balances(acct, view) -> None:  # noqa: ANN001 - AccountWithMargin, CollateralView
    """Collateral table, claims and USD balance."""
    from relayer.api.views import fmt_amount

    table = Table(title=f"account {acct.address}")
    table.add_column("asset")
    table.add_column("balance", justify="right")
    for chain in view.by_chain:
        table.add_column(f"withdrawable on {chain.chain}", justify="right")
    for bal in acct.balances:
        table.add_row(bal.symbol, bal.amount, *[c.withdrawable.get(bal.symbol, "-") for c in view.by_chain])
    out.print(table)
    for claim in acct.claims:
        out.print(f"claim: {claim.amount} units of {claim.symbol} ({claim.token}) on {claim.chain}, valued at 0")
    out.print(f"USD balance: {fmt_amount(acct.usd_balance, 18)}")


def _print_margin(margin) -> None:  # noqa: ANN001 - relayer.api.margin.MarginView
    """Positions table and the account's health figures."""
    from relayer.api.margin import usd

    if margin.positions:
        table = Table(title="positions")
        for column in ("market", "size", "settled at", "mark", "PnL", "IM", "MM", "price"):
            table.add_column(column, justify="left" if column in ("market", "price") else "right")
        for p in margin.positions:
            table.add_row(p.market, p.size_text, usd(p.last_price), usd(p.mark_price), usd(p.pnl),
                          usd(p.initial_margin), usd(p.maintenance_margin), p.price_status)
        out.print(table)
    else:
        out.print("positions: none")
    colour = {"healthy": "green", "below initial margin": "yellow"}.get(margin.health, "red")
    ratio = f" (equity/MM {margin.margin_ratio:.2f})" if margin.margin_ratio is not None else ""
    out.print(f"equity {usd(margin.equity)} (collateral {usd(margin.collateral_value)}, USD {usd(margin.usd_balance)}); "
              f"IM {usd(margin.initial_margin)}, MM {usd(margin.maintenance_margin)}; "
              f"health: [{colour}]{margin.health}[/{colour}]{ratio}")


@app.command()
def trade(
    market: Annotated[str, typer.Option("--market", help="Market, e.g. ETH-USD")],
    size: Annotated[str, typer.Option("--size", help="Signed base units: 2.5 buys 2.5 ETH, -1 sells 1")],
    limit_price: Annotated[Optional[str], typer.Option("--limit-price", help="Worst USD price accepted")] = None,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Open, grow, shrink or flip a position at the oracle price, margined by collateral from every spoke."""
    from relayer.api import trade as trading

    sender_key = _user_key(key)
    try:
        result = trading.trade(_backend(config, quick=False), market, size, limit_price, sender_key)
    except RpcUnavailableError as error:
        _not_running(error)
    _print_trade(result)


@app.command()
def close(
    market: Annotated[str, typer.Option("--market", help="Market, e.g. ETH-USD")],
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Close the whole position in a market at the oracle price (also when the price is stale)."""
    from relayer.api import trade as trading

    sender_key = _user_key(key)
    try:
        result = trading.close(_backend(config, quick=False), market, sender_key)
    except RpcUnavailableError as error:
        _not_running(error)
    _print_trade(result)


def _print_trade(result) -> None:  # noqa: ANN001 - relayer.api.trade.TradeResult
    """One line per mined trade."""
    from relayer.api.margin import usd
    from relayer.api.views import fmt_amount

    side = "bought" if result.size_delta > 0 else "sold"
    out.print(f"{side} {fmt_amount(abs(result.size_delta), 18)} {result.market} at {usd(result.price)} "
              f"(fee {usd(result.fee)}, realized {usd(result.realized_pnl)}): position now "
              f"{fmt_amount(result.new_size, 18)}; tx {result.tx_hash}")


# ------------------------------------------------------------------------------------ oracle


@oracle_app.command("serve")
def oracle_serve(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run the devnet's oracle pusher: queued price paths, and refreshes that keep prices fresh."""
    import threading

    from eth_account import Account

    from relayer.chain.client import ChainClient
    from relayer.chain.margin import MarginContracts
    from relayer.config import load_deployment
    from relayer.keeper.oracle_service import OracleService, PriceQueue
    from relayer.keeper.service import tx_sender
    from relayer.store.redis_store import Store
    from relayer.submitter.tx import FeePolicy

    settings = _settings(config)
    if settings.oracle is None:
        _fail(f"{config} has no `oracle:` section (the pusher's key)")
    deployment = load_deployment(settings.deployment_file)
    client = ChainClient(settings.hub)
    store = Store(settings.redis_url)
    contracts = MarginContracts(client, deployment)
    sender = tx_sender(client, Account.from_key(settings.oracle.key.get_secret_value()), store,
                       FeePolicy(stuck_after_s=10.0))
    service = OracleService(contracts, sender, PriceQueue(store), settings.oracle.refresh_s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.serve(settings.oracle.step_s, stop, report=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        stop.set()


@oracle_app.command("push")
def oracle_push(
    feed: Annotated[str, typer.Option("--feed", help="Feed symbol: ETH, BTC, USDC")],
    path: Annotated[Optional[Path], typer.Option("--path", help="Price path CSV (timestamp_utc,open,high,low,close)")] = None,
    start: Annotated[Optional[str], typer.Option("--from", help="First bar to replay (timestamp_utc) of --path")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Last bar to replay (timestamp_utc) of --path")] = None,
    prices: Annotated[Optional[str], typer.Option("--prices", help="Comma-separated USD prices instead of --path")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the pusher pushed them all")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Queue a price path for the oracle pusher (closes of the CSV's bars, one per pusher step)."""
    from relayer.api.margin import margin_contracts
    from relayer.keeper.oracle_service import PriceQueue, queue_path
    from relayer.keeper.pusher import load_path
    from relayer.store.redis_store import Store

    if (path is None) == (prices is None):
        _fail("give exactly one of --path and --prices")
    if path is not None:
        bars = load_path(path)
        stamps = [b.timestamp for b in bars]
        for stamp in (start, end):
            if stamp is not None and stamp not in stamps:
                _fail(f"no bar {stamp} in {path}")
        first = stamps.index(start) if start is not None else 0
        last = stamps.index(end) if end is not None else len(bars) - 1
        values = [b.close for b in bars[first:last + 1]]
    else:
        try:
            values = [float(p) for p in (prices or "").split(",") if p.strip()]
        except ValueError:
            _fail(f"--prices must be numbers, got {prices!r}")
    backend = _backend(config)
    queue = PriceQueue(Store(backend.settings.redis_url))
    length = queue_path(margin_contracts(backend), queue, feed, values)
    out.print(f"queued {len(values)} {feed} prices ({values[0]:g} .. {values[-1]:g}); {length} waiting for the pusher")
    if wait:
        from relayer.devnet._proc import poll

        step = backend.settings.oracle.step_s if backend.settings.oracle else 1.0
        poll(lambda: queue.pending(feed) == 0, f"the pusher to push {length} {feed} prices", 30 + 3 * step * length, 0.5)
        out.print("pushed")


@oracle_app.command("prices")
def oracle_prices(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every feed's price, age and status as the oracle reports it."""
    from relayer.api.margin import prices_view, usd

    backend = _backend(config)
    try:
        views = prices_view(backend)
        now = int(backend.client(backend.deployment.hub.chain_id).get_block("latest")["timestamp"])
    except RpcUnavailableError as error:
        _not_running(error)
    if as_json:
        out.print_json(json.dumps([v.model_dump() for v in views]))
        return
    table = Table(title="oracle feeds")
    for column in ("feed", "id", "price", "age s", "heartbeat s", "status"):
        table.add_column(column, justify="left" if column in ("feed", "status") else "right")
    for v in views:
        table.add_row(v.feed, str(v.feed_id), usd(v.price), str(now - v.updated_at), str(v.heartbeat), v.status)
    out.print(table)


def main() -> None:
    """Console entry point: XmarginError becomes a one-line message and exit code 1."""
    try:
        app()
    except ConfigError as error:
        _print_and_exit(str(error), 1)
    except XmarginError as error:
        _print_and_exit(str(error), 1)


def _print_and_exit(message: str, code: int) -> NoReturn:
    """Last-resort error output outside typer's own handling."""
    err.print(f"[red]error:[/red] {message}")
    sys.exit(code)


if __name__ == "__main__":
    main()
