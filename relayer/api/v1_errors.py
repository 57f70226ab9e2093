"""API v1's errors: every one is JSON `{"error": {"code", "message"}}` with a stable code; a service's
refusal or rejected input becomes one here (shared by the read, action and transaction routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from relayer.context import Context
from relayer.errors import ActionError, ConfigError, TradeRejectedError, XmarginError
from relayer.services.units import parse_address

T = TypeVar("T")


class ErrorBody(BaseModel):
    """A stable machine code and a sentence for people."""

    code: str
    """400: bad_address, unknown_asset, unknown_chain, unknown_token, unknown_route, unknown_market,
    unknown_account, invalid_input; 404: no_margin_engine, not_found; 422: action_refused,
    trade_refused (the contracts refuse it; the message says why); 503: unavailable."""
    message: str


class ErrorReply(BaseModel):
    """Every v1 error reply."""

    error: ErrorBody


class ApiError(Exception):
    """An error answered as ErrorReply with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        """The JSON reply."""
        body = ErrorReply(error=ErrorBody(code=self.code, message=self.message))
        return JSONResponse(status_code=self.status, content=body.model_dump())


def classify(err: ActionError) -> ApiError:
    """A refused action or rejected input as an ApiError with its code."""
    text = str(err)
    if isinstance(err, TradeRejectedError):
        return ApiError(422, "trade_refused", text)
    for prefix, code in (("not an address", "bad_address"), ("unknown asset", "unknown_asset"),
                         ("unknown chain", "unknown_chain"), ("unknown route", "unknown_route"),
                         ("unknown demo account", "unknown_account"), ("no token", "unknown_token")):
        if text.startswith(prefix):
            return ApiError(400, code, text)
    if "is not a number" in text or "must be" in text or text.startswith("not an account, transaction hash"):
        return ApiError(400, "invalid_input", text)
    return ApiError(422, "action_refused", text)


def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a service function, turning its refusals into ApiErrors."""
    try:
        return fn(*args)
    except ActionError as err:
        raise classify(err) from err
    except ConfigError as err:
        text = "; ".join(f"{field}: {why}" for field, why in err.problems)
        code = "unknown_market" if any(field == "market" for field, _ in err.problems) else "not_found"
        raise ApiError(404 if code == "not_found" else 400, code, text) from err


def error_response(err: Exception) -> JSONResponse:
    """The v1 reply to any error reaching the app."""
    if isinstance(err, ApiError):
        return err.response()
    if isinstance(err, ActionError):
        return classify(err).response()
    return ApiError(503, "unavailable", str(err) if isinstance(err, XmarginError) else type(err).__name__).response()


def address(text: str) -> str:
    """A checksummed address, or ApiError bad_address."""
    try:
        return parse_address(text)
    except ActionError as err:
        raise ApiError(400, "bad_address", str(err)) from err


def require_margin(ctx: Context) -> None:
    """ApiError no_margin_engine when the deployment has no margin engine."""
    if ctx.deployment.margin is None:
        raise ApiError(404, "no_margin_engine", "no margin engine in this deployment")


