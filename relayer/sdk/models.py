"""Typed results of the SDK: the API's read models (re-exported) and the SDK's own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from relayer.services.accounts import AccountWithMargin, AssetBalance, CollateralView
from relayer.services.audit import AuditReport
from relayer.services.explorer import LookupResult, MessageView, PendingView, RefusedTx, RouteHistory
from relayer.services.margin import MarginView, PositionView, PriceView
from relayer.services.routes import RouteStatus
from relayer.services.trading import TradeResult
from relayer.services.vault import RedemptionView, VaultShares, VaultTx, VaultView

__all__ = [
    "AccountEvent", "AccountWithMargin", "AssetBalance", "AuditReport", "CollateralView", "Event", "LookupResult",
    "MarginView", "MessageView", "PendingEvent", "PendingView", "PositionView", "PriceView", "RefusedTx",
    "RedemptionView", "RouteHistory", "RouteStatus", "RoutesEvent", "Transfer", "TradeResult", "VaultShares",
    "VaultTx", "VaultView",
]


class Transfer(BaseModel):
    """A deposit or withdrawal the SDK sent: its transaction and the route message it appended."""

    kind: Literal["deposit", "withdrawal"]
    tx_hash: str
    block_number: int
    route: str
    """Route id, e.g. deposit:31338->31337."""
    nonce: int


class RoutesEvent(BaseModel):
    """Server-sent `routes`: every route's status after a change."""

    kind: Literal["routes"] = "routes"
    routes: list[RouteStatus]


class AccountEvent(BaseModel):
    """Server-sent `account`: the account's balances and margin after a change."""

    kind: Literal["account"] = "account"
    account: AccountWithMargin


class PendingEvent(BaseModel):
    """Server-sent `pending`: the account's pending deposits and withdrawals after a change."""

    kind: Literal["pending"] = "pending"
    pending: PendingView


Event = RoutesEvent | AccountEvent | PendingEvent
