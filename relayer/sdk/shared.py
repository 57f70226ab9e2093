"""What the sync Client and the AsyncClient share, so neither duplicates it: errors, the API's error
and event decoding, the route of a transfer, the wait conditions, and contracts without a provider
for ABI encoding and receipt decoding. The argument checks themselves are the services' plans
(relayer.services.transfers.plan_deposit / plan_withdrawal, relayer.services.trading.order_args)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from web3 import Web3
from web3.contract import Contract

from relayer.chain.abi import abi_of
from relayer.context import Context
from relayer.errors import ActionError, XmarginError
from relayer.sdk.models import (
    AccountEvent,
    AccountWithMargin,
    Event,
    MessageView,
    PendingEvent,
    PendingView,
    RoutesEvent,
    RouteStatus,
    Transfer,
)
from relayer.services.transfers import TxResult
from relayer.types import RouteKind

HTTP_TIMEOUT_S = 30.0
POLL_S = 0.5
"""How often wait_credited / wait_released ask the explorer."""


class ApiRequestError(XmarginError):
    """The API answered with an error: its stable `code` and `message` (or the transport failed)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class TransferTimeoutError(XmarginError):
    """A transfer did not reach the awaited state in time; `last` is where it stood."""

    def __init__(self, transfer: Transfer, wanted: str, last: MessageView | None) -> None:
        where = f"{last.state}: {last.detail}" if last else "not seen by the explorer"
        super().__init__(f"{transfer.kind} {transfer.route} #{transfer.nonce} not {wanted} in time ({where})")
        self.transfer, self.last = transfer, last


def api_error(status: int, body: str) -> ApiRequestError:
    """The ApiRequestError of an error reply (v1's `{"error": {"code", "message"}}`, or its text)."""
    try:
        error = json.loads(body)["error"]
        return ApiRequestError(status, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiRequestError(status, "http_error", body[:200])


def validate(model: Any, data: Any) -> Any:
    """`data` (decoded JSON) as `model` (a pydantic model or a typing form like list[RouteStatus])."""
    return TypeAdapter(model).validate_python(data)


CREDITED: tuple[str, Callable[[MessageView], bool]] = ("credited", lambda m: m.state == "applied")
RELEASED: tuple[str, Callable[[MessageView], bool]] = ("released", lambda m: m.state in ("released", "parked"))
"""(what is awaited, when a transfer's view shows it): paid on the spoke, or parked there (see park_reason)."""


def transfer(ctx: Context, kind: RouteKind, spoke_chain_id: int, sent: TxResult) -> Transfer:
    """The Transfer of a mined deposit (from spoke `spoke_chain_id`) or withdrawal (to it)."""
    route = next(r for r in ctx.deployment.routes() if r.kind is kind and r.spoke_chain_id == spoke_chain_id)
    return Transfer(kind="deposit" if kind is RouteKind.DEPOSIT else "withdrawal", tx_hash=sent.tx_hash,
                    block_number=sent.block_number, route=str(route), nonce=sent.route_nonce)


def require_key(key: str | None) -> str:
    """The signing key, or ActionError saying the client needs one."""
    if key is None:
        raise ActionError("this client has no key: pass key= to sign transactions")
    return key


_OFFLINE = Web3()


@functools.cache
def offline(name: str, address: str) -> Contract:
    """Contract `name` (a build artifact) at `address` without a provider: encodes calls and decodes
    receipts, sends nothing."""
    return _OFFLINE.eth.contract(address=Web3.to_checksum_address(address), abi=abi_of(name))


def calldata(contract: Contract, fn: str, *args: Any) -> bytes:
    """ABI-encoded call of `contract.fn(*args)`."""
    return bytes.fromhex(contract.encode_abi(fn, args=list(args))[2:])


class SseDecoder:
    """Server-sent event frames, line by line, into typed events."""

    def __init__(self) -> None:
        self.name = ""

    def feed(self, line: str) -> Event | None:
        """The event a `data:` line completes (None for other lines and kinds this SDK does not know)."""
        if line.startswith("event: "):
            self.name = line[len("event: "):]
        elif line.startswith("data: "):
            return event_of(self.name, json.loads(line[len("data: "):]))
        return None


def event_of(name: str, data: Any) -> Event | None:
    """A typed event from an SSE frame (None for kinds this SDK does not know)."""
    if name == "routes":
        return RoutesEvent(routes=validate(list[RouteStatus], data))
    if name == "account":
        return AccountEvent(account=AccountWithMargin.model_validate(data))
    if name == "pending":
        return PendingEvent(pending=PendingView.model_validate(data))
    return None
