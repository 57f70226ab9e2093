"""The asynchronous client, native asyncio: chain calls through web3's AsyncWeb3 (AsyncHTTPProvider),
the API through an aiohttp session, no threads. The same calls and pydantic results as Client; the
argument checks, route lookup, receipt and event decoding are the ones Client uses (relayer.sdk.shared
and the services' plans), only the I/O differs.

Use it as `async with AsyncClient(...) as client:` (or `await client.aclose()`) so its HTTP sessions close.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.chain.margin import margin_deployment
from relayer.chain.orders import EARLIER, MAX_ROUNDS_BACK, PendingOrder, judge_round, order_of, signed_latest_round
from relayer.context import Context
from relayer.errors import ActionError, ConfigError, TradeRejectedError
from relayer.sdk.async_chain import AsyncChains
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
    offline,
    require_key,
    transfer,
    validate,
)
from relayer.services.trading import ORDER_POLL_S, CatalogTradeRefusal, close_args, order_args, settled
from relayer.services.transfers import Explainer, WithdrawalRefusal, appended, plan_deposit, plan_withdrawal
from relayer.services.units import to_units
from relayer.services.vault import VaultRefusal, all_shares, parse_shares, vault_tx
from relayer.types import RouteKind


class AsyncClient:
    """`await client.deposit(...)`, `async for event in client.events(...)`; see Client. `config` is
    the operator config (chains' RPCs and the deployment record); `key` signs transactions. A refused
    trade is explained from the error catalog (Client also reads the account's figures for it)."""

    def __init__(self, api_url: str, config: str | Path | None = None, key: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._config = Path(config) if config is not None else None
        self._key = key
        self._ctx: Context | None = None
        self._chains: AsyncChains | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the API session and the chains' HTTP sessions."""
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._chains is not None:
            await self._chains.close()

    # plumbing ----------------------------------------------------------------------------

    @property
    def context(self) -> Context:
        """The config and deployment record (read on first use; its chain clients are never used here)."""
        if self._ctx is None:
            self._ctx = Context.from_file(self._config)
        return self._ctx

    @property
    def chains(self) -> AsyncChains:
        """An AsyncWeb3 per chain of the config."""
        if self._chains is None:
            self._chains = AsyncChains(self.context)
        return self._chains

    @property
    def address(self) -> str:
        """The address of the signing key."""
        return str(self._account().address)

    def _account(self) -> LocalAccount:
        return Account.from_key(require_key(self._key))

    @property
    def _hub(self) -> int:
        return self.context.deployment.hub.chain_id

    async def _get(self, path: str, model: Any, **params: Any) -> Any:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))
        try:
            async with self._http.get(f"{self.api_url}/v1{path}", params=params or None) as reply:
                body = await reply.text()
                if reply.status >= 400:
                    raise api_error(reply.status, body)
                data = await reply.json(content_type=None)
        except aiohttp.ClientError as err:
            raise ApiRequestError(0, "unreachable", str(err)) from err
        return validate(model, data)

    # transfers ---------------------------------------------------------------------------

    async def deposit(self, chain: str, token: str, amount: str | int | float, account: str | None = None) -> Transfer:
        """Lock `amount` (whole tokens) of `token` on spoke `chain` for hub `account` (default: yours);
        approves the lockbox first for an ERC20. ActionError with the reason if it would revert."""
        plan = plan_deposit(self.context, chain, token, str(amount), account or self.address)
        lockbox, signer, explainer = offline("Lockbox", plan.lockbox), self._account(), plan.explainer()
        if plan.native:
            receipt = await self.chains.transact(plan.chain_id, signer, lockbox, "depositNative", plan.beneficiary,
                                                 explainer=explainer, value=plan.units)
        else:
            erc20 = offline("ERC20", plan.token.address)
            await self.chains.transact(plan.chain_id, signer, erc20, "approve", lockbox.address, plan.units,
                                       explainer=explainer)
            receipt = await self.chains.transact(plan.chain_id, signer, lockbox, "deposit", plan.token.address,
                                                 plan.units, plan.beneficiary, explainer=explainer)
        return transfer(self.context, RouteKind.DEPOSIT, plan.chain_id, appended(receipt, lockbox, "Deposited"))

    async def withdraw(
        self, asset: str, amount: str | int | float, to_chain: str, recipient: str | None = None
    ) -> Transfer:
        """Withdraw `amount` of ledger asset `asset` to `recipient` (default: you) on spoke `to_chain`."""
        plan = plan_withdrawal(self.context, asset, str(amount), to_chain, recipient or self.address)
        address = self.context.deployment.hub.ledger
        _, decimals, *_ = await self.chains.call(self._hub, "MarginLedger", address, "assetInfo", plan.asset_id)
        ledger = offline("MarginLedger", address)
        units = to_units(str(amount), int(decimals))
        receipt = await self.chains.transact(
            self._hub, self._account(), ledger, "requestWithdrawal", plan.asset_id, units, plan.dest_chain_id,
            plan.recipient, explainer=WithdrawalRefusal(None, asset, int(decimals), to_chain),
        )
        return transfer(self.context, RouteKind.WITHDRAWAL, plan.dest_chain_id,
                        appended(receipt, ledger, "WithdrawalQueued"))

    async def status(self, sent: Transfer) -> MessageView | None:
        """Where a transfer stands now (None until the explorer sees it)."""
        found = (await self.lookup(str(sent.nonce), route=sent.route)).messages
        return found[0] if found else None

    async def _wait(
        self, sent: Transfer, awaited: tuple[str, Callable[[MessageView], bool]], timeout_s: float
    ) -> MessageView:
        wanted, done = awaited
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            last = await self.status(sent)
            if last is not None and done(last):
                return last
            await asyncio.sleep(POLL_S)
        raise TransferTimeoutError(sent, wanted, last)

    async def wait_credited(self, deposit: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Poll until the deposit is credited on the hub; TransferTimeoutError saying where it stands."""
        return await self._wait(deposit, CREDITED, timeout_s)

    async def wait_released(self, withdrawal: Transfer, timeout_s: float = 120.0) -> MessageView:
        """Poll until the withdrawal is paid on the spoke, or parked there (see `park_reason`)."""
        return await self._wait(withdrawal, RELEASED, timeout_s)

    # trading -----------------------------------------------------------------------------

    def _market(self, name: str) -> tuple[str, str]:
        """(canonical name, address) of a market; ConfigError listing the known ones."""
        markets = margin_deployment(self.context.deployment).markets
        for known, market in markets.items():
            if known.lower() == name.lower():
                return known, market.address
        raise ConfigError([("market", f"no market {name!r}; known: {', '.join(markets)}")])

    async def trade(self, market: str, size: str | int | float, limit_price: str | None = None) -> TradeResult:
        """Buy (size > 0) or sell `size` of `market` through a delayed order; waits for its settlement
        (by a keeper, or by this client at the first oracle round after the delay)."""
        name, address = self._market(market)
        delta, limit = order_args(str(size), limit_price)
        return await self._commit_and_settle(name, address, delta, limit)

    async def close(self, market: str) -> TradeResult:
        """Close your whole `market` position (`aclose()` closes this client's sessions)."""
        name, address = self._market(market)
        size, *_ = await self.chains.call(self._hub, "PerpMarket", address, "positions", self.address)
        if int(size) == 0:
            raise TradeRejectedError("MarketSizeDeltaZero", f"no {name} position to close")
        return await self._commit_and_settle(name, address, *close_args(int(size)))

    async def _commit_and_settle(self, name: str, address: str, delta: int, limit: int) -> TradeResult:
        market, refusal = offline("PerpMarket", address), CatalogTradeRefusal(name)
        receipt = await self.chains.transact(self._hub, self._account(), market, "commitOrder", delta, limit,
                                             explainer=refusal)
        from_block = int(receipt["blockNumber"])
        feed_id = int(await self.chains.call(self._hub, "PerpMarket", address, "feedId"))
        while True:
            order = await self._pending_order(address)
            if order is None:
                return await self._find_settlement(name, address, from_block)
            now = int((await self.chains.w3(self._hub).eth.get_block("latest"))["timestamp"])
            if now > order.expires_at:
                await self.chains.transact(self._hub, self._account(), market, "cancelExpiredOrder", self.address,
                                           explainer=Explainer())
                raise TradeRejectedError("OrderExpired", f"the {name} order expired unsettled: nothing was traded "
                                                         "(the escrowed keeper reward was returned)")
            round_id = await self._settlement_round(feed_id, order)
            if round_id is not None:
                try:
                    receipt = await self.chains.transact(self._hub, self._account(), market, "settleOrder",
                                                         self.address, round_id, explainer=refusal)
                except ActionError:
                    if await self._pending_order(address) is not None:
                        raise
                    continue  # a keeper settled it first: read its settlement
                return settled(market, name, receipt, refusal)
            await asyncio.sleep(ORDER_POLL_S)

    async def _pending_order(self, address: str) -> PendingOrder | None:
        return order_of(self.address, await self.chains.call(self._hub, "PerpMarket", address, "orders", self.address))

    async def _settlement_round(self, feed_id: int, order: PendingOrder) -> int | None:
        """relayer.chain.orders.settlement_round, awaited."""
        oracle = margin_deployment(self.context.deployment).oracle
        feed = await self.chains.call(self._hub, "PriceOracle", oracle, "feedOf", feed_id)
        r = signed_latest_round(feed)
        if r is None:
            r = int((await self.chains.call(self._hub, "MockAggregatorV3", feed[4], "latestRoundData"))[0])
        for _ in range(MAX_ROUNDS_BACK):
            if r < 1:
                return None
            verdict = judge_round(order, r, await self.chains.call(self._hub, "PriceOracle", oracle, "roundPrice",
                                                                   feed_id, r))
            if verdict != EARLIER:
                return verdict
            r -= 1
        return None

    async def _find_settlement(self, name: str, address: str, from_block: int) -> TradeResult:
        """The settlement (or cancellation) of this account's order mined since `from_block` by a keeper."""
        for event in ("OrderSettled", "OrderCanceled"):
            logs = await self.chains.logs(self._hub, "PerpMarket", address, event, from_block, account=self.address)
            if logs:
                receipt = await self.chains.receipt(self._hub, bytes(logs[-1]["transactionHash"]))
                return settled(offline("PerpMarket", address), name, receipt, CatalogTradeRefusal(name))
        raise TradeRejectedError("OrderNotFound",
                                 f"the {name} order of {self.address} disappeared without a settlement")

    # the LP vault ------------------------------------------------------------------------

    def _vault(self) -> str:
        address = margin_deployment(self.context.deployment).vault
        if address is None:
            raise ConfigError([("margin.vault", "this deployment has no LP vault (redeploy the devnet)")])
        return address

    async def _vault_send(self, action: str, fn: str, *args: Any) -> VaultTx:
        address = self._vault()
        now = int((await self.chains.w3(self._hub).eth.get_block("latest"))["timestamp"])
        vault = offline("LPVault", address)
        receipt = await self.chains.transact(self._hub, self._account(), vault, fn, *args,
                                             explainer=VaultRefusal(None, now))
        return vault_tx(action, vault, receipt)

    async def vault_deposit(self, amount: str | int | float) -> VaultTx:
        """Deposit `amount` whole USDC of your hub balance into the LP vault for shares."""
        return await self._vault_send("deposit", "deposit", to_units(str(amount), 18))

    async def vault_redeem(self, shares: str | int | float = "all") -> VaultTx:
        """Queue `shares` (default: all you hold) for redemption after the vault's delay."""
        if str(shares).strip().lower() == "all":
            held = await self.chains.call(self._hub, "LPVault", self._vault(), "sharesOf", self.address)
            units = all_shares(self.address, int(held))
        else:
            units = parse_shares(str(shares))
        return await self._vault_send("redeem_requested", "requestRedeem", units)

    async def vault_execute(self, redemption_id: int) -> VaultTx:
        """Execute a queued redemption whose delay has passed (its owner is paid USDC on the hub)."""
        return await self._vault_send("redeemed", "executeRedeem", redemption_id)

    async def vault_cancel(self, redemption_id: int) -> VaultTx:
        """Cancel your queued redemption; the shares come back."""
        return await self._vault_send("redeem_cancelled", "cancelRedeem", redemption_id)

    # API reads ---------------------------------------------------------------------------

    async def account(self, address: str | None = None) -> AccountWithMargin:
        """Balances, claims, USD balance and margin of `address` (default: yours)."""
        result: AccountWithMargin = await self._get(f"/accounts/{address or self.address}", AccountWithMargin)
        return result

    async def collateral(self, address: str | None = None) -> CollateralView:
        """Collateral by asset and what each spoke can pay of it."""
        result: CollateralView = await self._get(f"/accounts/{address or self.address}/collateral", CollateralView)
        return result

    async def pending(self, address: str | None = None) -> PendingView:
        """Deposits not yet credited and recent withdrawals, with their state."""
        result: PendingView = await self._get(f"/accounts/{address or self.address}/pending", PendingView)
        return result

    async def routes(self) -> list[RouteStatus]:
        """Every route's status."""
        result: list[RouteStatus] = await self._get("/routes", list[RouteStatus])
        return result

    async def history(self, route: str, offset: int = 0, limit: int = 20) -> RouteHistory:
        """A page of a route's messages, newest first."""
        result: RouteHistory = await self._get("/routes/history", RouteHistory, route=route, offset=offset,
                                               limit=limit)
        return result

    async def prices(self) -> list[PriceView]:
        """Every oracle feed."""
        result: list[PriceView] = await self._get("/prices", list[PriceView])
        return result

    async def lookup(self, query: str, route: str | None = None) -> LookupResult:
        """The message explorer: by account, transaction hash, or nonce (with `route`)."""
        params = {"q": query, **({"route": route} if route else {})}
        result: LookupResult = await self._get("/explorer", LookupResult, **params)
        return result

    async def vault(self, owner: str | None = None) -> VaultView:
        """The LP vault's state, with `owner`'s shares and queued redemptions when given."""
        result: VaultView = await self._get("/vault", VaultView, **({"owner": owner} if owner else {}))
        return result

    async def vault_shares(self, owner: str | None = None) -> VaultShares:
        """An LP's (default: your) shares, their value now and its queued redemptions."""
        result: VaultShares = await self._get(f"/vault/{owner or self.address}", VaultShares)
        return result

    async def events(self, account: str | None = None, limit: int | None = None) -> AsyncIterator[Event]:
        """Typed server-sent events: RoutesEvent always, AccountEvent and PendingEvent for `account`."""
        params: dict[str, Any] = {}
        if account:
            params["account"] = account
        if limit:
            params["limit"] = limit
        timeout = aiohttp.ClientTimeout(total=None, sock_read=HTTP_TIMEOUT_S)  # a stream: no overall limit
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(f"{self.api_url}/v1/events", params=params) as reply:
            if reply.status >= 400:
                raise api_error(reply.status, await reply.text())
            decoder = SseDecoder()
            async for raw in reply.content:
                event = decoder.feed(raw.decode().rstrip("\r\n"))
                if event is not None:
                    yield event
