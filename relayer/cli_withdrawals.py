"""`xmargin withdrawals redirect|refund|retry`: recover a parked release from the hub (the account that
withdrew asks the ledger; the withdrawal route carries it to the spoke), or retry paying it on the
spoke (anyone may; it pays the recorded recipient)."""

from __future__ import annotations

from typing import Annotated

import typer

from relayer._cli import DEFAULT_CONFIG, ConfigOpt, KeyOpt, config_context, not_running, out, user_key
from relayer.errors import RpcUnavailableError

withdrawals_app = typer.Typer(help="Parked withdrawals: redirect or refund them from the hub, or retry them.",
                              no_args_is_help=True)

NonceArg = Annotated[int, typer.Argument(help="Withdrawal nonce of the parked release (`xmargin pending` shows it)")]
ChainOpt = Annotated[str, typer.Option("--chain", help="Spoke the release is parked on (name or id)")]


def _recover(chain: str, nonce: int, to: str | None, key: str | None, config: ConfigOpt) -> None:
    """Send the request and say what happens next."""
    from relayer.services import recovery

    sender_key = user_key(key)
    try:
        result = recovery.request_recovery(config_context(config, quick=False), chain, nonce, to, sender_key)
    except RpcUnavailableError as error:
        not_running(error)
    what = f"redirect to {to}" if to else "refund to your hub balance"
    out.print(
        f"{what} of withdrawal {nonce} on {chain} queued as withdrawal-route message {result.route_nonce}, "
        f"tx {result.tx_hash}; the relayers deliver it like a withdrawal"
    )


@withdrawals_app.command()
def redirect(
    nonce: NonceArg,
    to: Annotated[str, typer.Option("--to", help="New recipient on that spoke")],
    chain: ChainOpt,
    key: KeyOpt = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Pay a parked release to another address (only the hub account that withdrew may ask)."""
    _recover(chain, nonce, to, key, config)


@withdrawals_app.command()
def refund(nonce: NonceArg, chain: ChainOpt, key: KeyOpt = None, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Credit a parked release back to your hub balance (it returns as a deposit from the lockbox)."""
    _recover(chain, nonce, None, key, config)


@withdrawals_app.command()
def retry(nonce: NonceArg, chain: ChainOpt, key: KeyOpt = None, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Retry paying a parked release to its recorded recipient (anyone may; refused, with why, if it still fails)."""
    from relayer.services import recovery

    try:
        result = recovery.retry_release(config_context(config, quick=False), chain, nonce, user_key(key))
    except RpcUnavailableError as error:
        not_running(error)
    out.print(f"withdrawal {nonce} paid to {result.recipient} on {result.chain}, tx {result.tx_hash}")
