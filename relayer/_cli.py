"""Shared plumbing of the `xmargin` command modules: consoles, common options, settings and errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console

from relayer.errors import RpcUnavailableError

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DEFAULT_CONFIG = Path(".devnet/config.yaml")
ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="XMARGIN_CONFIG", help="Settings YAML (default: the devnet's).", show_default=True),
]
EXIT_NOT_RUNNING = 2


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with `code`."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def config_settings(config: Path):  # noqa: ANN202 - relayer.config.Settings, imported lazily (fast --help)
    """Settings from `config`; a missing devnet config reads as "the devnet is not running"."""
    from relayer.config import load_settings

    if not config.is_file():
        fail(f"no config at {config}: is the devnet running? (`xmargin devnet up`) or pass --config", EXIT_NOT_RUNNING)
    return load_settings(config)


def config_context(config: Path, quick: bool = True):  # noqa: ANN202 - relayer.context.Context, imported lazily
    """The composition root for `config` (quick: few retries, short timeouts, for status commands)."""
    from relayer.context import Context

    return Context(config_settings(config), quick=quick)


def not_running(error: RpcUnavailableError) -> NoReturn:
    """A chain did not answer: most likely the devnet is down."""
    fail(f"{error}\nis the devnet running? (`xmargin devnet up`)", EXIT_NOT_RUNNING)


KeyOpt = Annotated[
    Optional[str],
    typer.Option("--key", envvar="XMARGIN_USER_KEY", help="Sender private key (default: the devnet's dev user alice, DEV ONLY)."),
]


def user_key(key: Optional[str]) -> str:
    """The given key, or the devnet's dev user key with a loud warning."""
    if key:
        return key
    from relayer.devnet.layout import USER_KEYS

    err.print("[yellow]warning:[/yellow] no --key / XMARGIN_USER_KEY: using the devnet dev user alice's PUBLIC key (DEV ONLY)")
    return USER_KEYS["alice"]
