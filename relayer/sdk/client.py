"""One client for integrators: contracts (ABIs and addresses from the deployment record, signed with
your key) and API v1 (read models, the explorer, server-sent events), every result a pydantic model."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import requests
from eth_account import Account
from pydantic import BaseModel

from relayer.context import Context
from relayer.sdk.models import (
    AccountWithMargin,
    CollateralView,
    Event,
    LookupResult,
    MessageView,
    PendingView,
    PriceView,
    RouteHistory,
    RouteStatus,
    TradeResult,
    Transfer,
    VaultShares,
    VaultTx,
    VaultView,
)
from relayer.sdk.shared import (
    CREDITED,
    HTTP_TIMEOUT_S,
    POLL_S,
    RELEASED,
    ApiRequestError,
    SseDecoder,
    TransferTimeoutError,
    api_error,
    require_key,
    transfer,
    validate,
)
from relayer.services import trading, transfers, vault as vault_service
from relayer.types import RouteKind

M = TypeVar("M", bound=BaseModel)
__all__ = ["ApiRequestError", "Client", "TransferTimeoutError"]


class Client:
    """Synchronous client. `config` is the operator config (chains' RPCs, Redis and the deployment
    record, e.g. .devnet/config.yaml); `key` signs deposits, withdrawals and trades."""

    def __init__(self, api_url: str, config: str | Path | None = None, key: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._config = Path(config) if config is not None else None
        self._key = key
        self._ctx: Context | None = None
        self.http = requests.Session()

    # contracts ---------------------------------------------------------------------------

    @property
    def context(self) -> Context:
        """Chain clients and contracts from the config and deployment record (built on first use)."""
        if self._ctx is None:
            self._ctx = Context.from_file(self._config)
        return self._ctx

    @property
    def address(self) -> str:
        """The address of the signing key."""
        return str(Account.from_key(self._signer()).address)

    def _signer(self) -> str:
        return require_key(self._key)

    def deposit(self, chain: str, token: str, amount: str | int | float, account: str | None = None) -> Transfer:
        """Lock `amount` (whole tokens) of `token` on spoke `chain` for hub `account` (default: yours);
        approves the lockbox first for an ERC20. ActionError with the reason if it would revert."""
        sent = transfers.deposit(self.context, chain, token, str(amount), account or self.address, self._signer())
        return transfer(self.context, RouteKind.DEPOSIT, transfers.chain_id_of(self.context, chain), sent)

    def withdraw(self, asset: str, amount: str | int | float, to_chain: str, recipient: str | None = None) -> Transfer:
        """Withdraw `amount` of ledger asset `asset` to `recipient` (default: you) on spoke `to_chain`."""
        sent = transfers.withdraw(self.context, asset, str(amount), to_chain, recipient or self.address,
                                  self._signer())
        return transfer(self.context, RouteKind.WITHDRAWAL, transfers.chain_id_of(self.context, to_chain), sent)

    def trade(self, market: str, size: str | int | float, limit_price: str | None = None) -> TradeResult:
        """Buy (size > 0) or sell `size` of `market` (through the services' trading function)."""
        return trading.trade(self.context, market, str(size), limit_price, self._signer())

    def close(self, market: str) -> TradeResult:
        """Close your whole `market` position."""
        return trading.close(self.context, market, self._signer())

    def vault_deposit(self, amount: str | int | float) -> VaultTx:
        """Deposit `amount` whole USDC of your hub balance into the LP vault for shares."""
        return vault_service.deposit(self.context, str(amount), self._signer())

    def vault_redeem(self, shares: str | int | float = "all") -> VaultTx:
        """Queue `shares` (default: all you hold) for redemption after the vault's delay."""
        return vault_service.request_redeem(self.context, str(shares), self._signer())

    def vault_execute(self, redemption_id: int) -> VaultTx:
        """Execute a queued redemption whose delay has passed (its owner is paid USDC on the hub)."""
        return vault_service.execute_redeem(self.context, redemption_id, self._signer())

    def vault_cancel(self, redemption_id: int) -> VaultTx:
        """Cancel your queued redemption; the shares come back."""
        return vault_service.cancel_redeem(self.context, redemption_id, self._signer())

    # API reads ---------------------------------------------------------------------------

    def vault(self, owner: str | None = None) -> VaultView:
        """The LP vault's state, with `owner`'s shares and queued redemptions when given."""
        result: VaultView = self._get("/vault", VaultView, **({"owner": owner} if owner else {}))
        return result

    def vault_shares(self, owner: str | None = None) -> VaultShares:
        """An LP's (default: your) shares, their value now and its queued redemptions."""
        result: VaultShares = self._get(f"/vault/{owner or self.address}", VaultShares)
        return result

    def _get(self, path: str, model: Any, **params: Any) -> Any:
        try:
            reply = self.http.get(f"{self.api_url}/v1{path}", params=params or None, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as err:
            raise ApiRequestError(0, "unreachable", str(err)) from err
        if reply.status_code >= 400:
            raise api_error(reply.status_code, reply.text)
        return validate(model, reply.json())

    def account(self, address: str | None = None) -> AccountWithMargin:
        """Balances, claims, USD balance and margin of `address` (default: yours)."""
        result: AccountWithMargin = self._get(f"/accounts/{address or self.address}", AccountWithMargin)
        return result

    def collateral(self, address: str | None = None) -> CollateralView:
        """Collateral by asset and what each spoke can pay of it."""
        result: CollateralView = self._get(f"/accounts/{address or self.address}/collateral", CollateralView)
        return result

    def pending(self, address: str | None = None) -> PendingView:
        """Deposits not yet credited and recent withdrawals, with their state."""
        result: PendingView = self._get(f"/accounts/{address or self.address}/pending", PendingView)
        return result

    def routes(self) -> list[RouteStatus]:
        """Every route's status."""
        result: list[RouteStatus] = self._get("/routes", list[RouteStatus])
        return result

    def history(self, route: str, offset: int = 0, limit: int = 20) -> RouteHistory:
        """A page of a route's messages, newest first."""
        result: RouteHistory = self._get("/routes/history", RouteHistory, route=route, offset=offset, limit=limit)
        return result

    def prices(self) -> list[PriceView]:
        """Every oracle feed."""
        result: list[PriceView] = self._get("/prices", list[PriceView])
        return result

    def lookup(self, query: str, route: str | None = None) -> LookupResult:
        """The message explorer: by account, transaction hash, or nonce (with `route`)."""
        params = {"q": query, **({"route": route} if route else {})}
        result: LookupResult = self._get("/explorer", LookupResult, **params)
        return result

    def status(self, transfer: Transfer) -> MessageView | None:
        """Where a transfer stands now (None until the explorer sees it)."""
        found = self.lookup(str(transfer.nonce), route=transfer.route).messages
        return found[0] if found else None

    def _wait(
        self, sent: Transfer, awaited: tuple[str, Callable[[MessageView], bool]], timeout_s: float
    ) -> MessageView:
        wanted, done = awaited
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            last = self.status(sent)
            if last is not None and done(last):
                return last
            time.sleep(POLL_S)
        raise TransferTimeoutError(sent, wanted, last)

    def wait_credited(self, deposit: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Poll until the deposit is credited on the hub; TransferTimeoutError saying where it stands."""
        return self._wait(deposit, CREDITED, timeout_s)

    def wait_released(self, withdrawal: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Poll until the withdrawal is paid on the spoke, or parked there (see `park_reason`)."""
        return self._wait(withdrawal, RELEASED, timeout_s)

    # events ------------------------------------------------------------------------------

    def events(self, account: str | None = None, limit: int | None = None) -> Iterator[Event]:
        """Typed server-sent events: RoutesEvent always, AccountEvent and PendingEvent for `account`."""
        params: dict[str, Any] = {}
        if account:
            params["account"] = account
        if limit:
            params["limit"] = limit
        with self.http.get(f"{self.api_url}/v1/events", params=params, stream=True, timeout=HTTP_TIMEOUT_S) as reply:
            if reply.status_code >= 400:
                raise api_error(reply.status_code, reply.text)
            decoder = SseDecoder()
            for line in reply.iter_lines(decode_unicode=True):
                event = decoder.feed(line)
                if event is not None:
                    yield event
