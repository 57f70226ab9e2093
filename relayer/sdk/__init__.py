"""The xmargin SDK: `from relayer.sdk import Client` (or AsyncClient). docs/integrator.md has examples."""

from relayer.sdk.async_client import AsyncClient
from relayer.sdk.client import Client
from relayer.sdk.models import (
    AccountEvent,
    AccountWithMargin,
    Event,
    LookupResult,
    MessageView,
    PendingEvent,
    PendingView,
    RoutesEvent,
    RouteStatus,
    TradeResult,
    Transfer,
    VaultShares,
    VaultTx,
    VaultView,
)
from relayer.sdk.shared import ApiRequestError, TransferTimeoutError

__all__ = [
    "AccountEvent", "AccountWithMargin", "ApiRequestError", "AsyncClient", "Client", "Event", "LookupResult",
    "MessageView", "PendingEvent", "PendingView", "RouteStatus", "RoutesEvent", "TradeResult", "Transfer",
    "TransferTimeoutError", "VaultShares", "VaultTx", "VaultView",
]
