"""`xmargin validator halts|clear-halt`: the operator's side of a halted route. A validator halts a
route in its own signing database (a reorg past a signed checkpoint, a second head asked for a
signed nonce); only its operator, after investigating (docs/operator.md, XmarginValidatorHalted),
lets it sign again. Reads and writes only that database: no chain, no Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from relayer._cli import DEFAULT_CONFIG, ConfigOpt, config_settings, fail, out

if TYPE_CHECKING:
    from relayer.validator.signer_db import SignerDb

validator_app = typer.Typer(help="A validator's halted routes: list them, clear one after investigating.",
                            no_args_is_help=True)


def _db(config: ConfigOpt) -> SignerDb:
    """The signing database named by this config's `validator:` section."""
    from relayer.validator.signer_db import SignerDb  # lazily: a fast --help

    settings = config_settings(config)
    if settings.validator is None:
        fail(f"{config} has no validator: section (run this with the validator's own config)")
    if not settings.validator.db_path.is_file():
        fail(f"no signing database at {settings.validator.db_path}: has this validator ever run?")
    return SignerDb(settings.validator.db_path)


@validator_app.command()
def halts(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """List the routes this validator refuses to sign, and why."""
    with _db(config) as db:
        rows = db.halts()
    if not rows:
        out.print("no halted route: the validator signs every route")
        return
    table = Table("route", "halted at (UTC)", "reason")
    for route, reason, at in rows:
        table.add_row(route, datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S"), reason)
    out.print(table)


@validator_app.command("clear-halt")
def clear_halt(
    route: Annotated[str, typer.Argument(help="Route as `xmargin validator halts` shows it: deposit:31338->31337")],
    forget_above: Annotated[int | None, typer.Option(
        "--forget-above", min=0,
        help="Also drop the signing records of nonces above N and rescan (only once the chain is known to have "
             "re-anchored; you accept the equivocation risk)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: you investigated the halt's reason")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Let the validator sign `route` again. Its signatures stay recorded, so a head that conflicts
    with one it signed is still refused (and halts again)."""
    from relayer.errors import InvalidRouteError
    from relayer.types import RouteId

    try:
        parsed = RouteId.parse(route)
    except InvalidRouteError as error:
        fail(str(error))
    if not yes:
        fail("clearing a halt lets the validator sign again: investigate first (docs/operator.md, "
             "XmarginValidatorHalted), then pass --yes")
    with _db(config) as db:
        was = db.halted(parsed)
        if was is None:
            fail(f"route {parsed} is not halted (`xmargin validator halts` lists the halted ones)")
        db.clear_halt(parsed, forget_above)
    dropped = f"; records above nonce {forget_above} dropped, the scan restarts" if forget_above is not None else ""
    out.print(f"route {parsed} cleared (was halted: {was}){dropped}; restart the validator's worker or wait a tick")
