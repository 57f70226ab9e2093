"""The asynchronous client: the same calls as Client, awaited (each runs in a worker thread, so an
event loop never blocks on a chain or the API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from relayer.sdk.client import Client
from relayer.sdk.models import (
    AccountWithMargin,
    Event,
    LookupResult,
    MessageView,
    PendingView,
    RouteStatus,
    TradeResult,
    Transfer,
    VaultView,
)

_DONE = object()


class AsyncClient:
    """`await client.deposit(...)`, `async for event in client.events(...)`; see Client."""

    def __init__(self, api_url: str, config: str | Path | None = None, key: str | None = None) -> None:
        self.sync = Client(api_url, config, key)

    @property
    def address(self) -> str:
        """The address of the signing key."""
        return self.sync.address

    async def deposit(self, chain: str, token: str, amount: str | int | float, account: str | None = None) -> Transfer:
        """Client.deposit."""
        return await asyncio.to_thread(self.sync.deposit, chain, token, amount, account)

    async def withdraw(
        self, asset: str, amount: str | int | float, to_chain: str, recipient: str | None = None
    ) -> Transfer:
        """Client.withdraw."""
        return await asyncio.to_thread(self.sync.withdraw, asset, amount, to_chain, recipient)

    async def trade(self, market: str, size: str | int | float, limit_price: str | None = None) -> TradeResult:
        """Client.trade."""
        return await asyncio.to_thread(self.sync.trade, market, size, limit_price)

    async def close(self, market: str) -> TradeResult:
        """Client.close."""
        return await asyncio.to_thread(self.sync.close, market)

    async def account(self, address: str | None = None) -> AccountWithMargin:
        """Client.account."""
        return await asyncio.to_thread(self.sync.account, address)

    async def vault(self, owner: str | None = None) -> VaultView:
        """Client.vault."""
        return await asyncio.to_thread(self.sync.vault, owner)

    async def pending(self, address: str | None = None) -> PendingView:
        """Client.pending."""
        return await asyncio.to_thread(self.sync.pending, address)

    async def routes(self) -> list[RouteStatus]:
        """Client.routes."""
        return await asyncio.to_thread(self.sync.routes)

    async def lookup(self, query: str, route: str | None = None) -> LookupResult:
        """Client.lookup."""
        return await asyncio.to_thread(self.sync.lookup, query, route)

    async def wait_credited(self, deposit: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Client.wait_credited."""
        return await asyncio.to_thread(self.sync.wait_credited, deposit, timeout_s)

    async def wait_released(self, withdrawal: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Client.wait_released."""
        return await asyncio.to_thread(self.sync.wait_released, withdrawal, timeout_s)

    async def events(self, account: str | None = None, limit: int | None = None) -> AsyncIterator[Event]:
        """Client.events, one frame at a time off the loop."""
        frames = self.sync.events(account, limit)
        while True:
            event = await asyncio.to_thread(next, frames, _DONE)
            if event is _DONE:
                return
            yield event  # type: ignore[misc]
