"""HTTP API: read views for integrators, the validators' signature endpoint, health and metrics.
Routes only: what they serve comes from relayer.services over one relayer.context.Context."""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from relayer.api.schemas import (
    AccountWithMargin,
    AuditReport,
    CollateralView,
    HaltIn,
    MarginView,
    PriceView,
    RouteStatus,
    SignatureAccepted,
    SignatureIn,
)
from relayer.api.openapi import WEB_DIR, v1_spec
from relayer.api.v1 import ApiError, error_response, v1_router
from relayer.config import Settings, load_settings
from relayer.context import Context
from relayer.errors import ActionError, SignatureRejectedError, XmarginError
from relayer.services import accounts, audit, margin, routes
from relayer.services.signatures import ValidatorSetOf, ValidatorSets, accept_halt, accept_signature
from relayer.services.units import parse_address
from relayer.store.redis_store import KickHook
from relayer.worker.kick import SubmitKicker

METRICS_TTL_S = 2.0


class _RouteCollector:
    """Prometheus collector: route nonces and lag, computed at scrape time (cached briefly)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cached: tuple[float, list[RouteStatus]] | None = None

    def _statuses(self) -> list[RouteStatus]:
        if self._cached and time.monotonic() - self._cached[0] < METRICS_TTL_S:
            return self._cached[1]
        statuses = routes.route_statuses(self.ctx)
        self._cached = (time.monotonic(), statuses)
        return statuses

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["route"]
        families = {
            "source_nonce": GaugeMetricFamily("xmargin_route_source_nonce", "Messages appended at the source", labels=labels),
            "attested_nonce": GaugeMetricFamily(
                "xmargin_route_attested_nonce", "Highest checkpoint nonce with a quorum of signatures", labels=labels
            ),
            "processed_nonce": GaugeMetricFamily(
                "xmargin_route_processed_nonce", "Messages applied at the destination", labels=labels
            ),
            "lag_blocks": GaugeMetricFamily("xmargin_route_lag_blocks", "Source blocks since the oldest pending message", labels=labels),
            "lag_seconds": GaugeMetricFamily("xmargin_route_lag_seconds", "Age of the oldest pending message", labels=labels),
        }
        halted = GaugeMetricFamily(
            "xmargin_validator_halted", "1 for each validator that reported the route halted (reorg past what it signed)",
            labels=["route", "validator"],
        )
        up = GaugeMetricFamily("xmargin_routes_up", "1 if route state could be read from every chain")
        try:  # from the store alone: a halt shows even while a chain is unreachable
            for route in self.ctx.deployment.routes():
                for validator in self.ctx.store.halts(route):
                    halted.add_metric([str(route), validator], 1.0)
        except XmarginError:
            pass  # the store is down: xmargin_routes_up and /health say so
        yield halted
        try:
            statuses = self._statuses()
        except XmarginError:  # a scrape reports failure as a metric, it does not crash
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for status in statuses:
            for field, family in families.items():
                value = getattr(status, field)
                if value is not None:
                    family.add_metric([status.route], float(value))
        yield up
        yield from families.values()


class _KeeperCollector:
    """Prometheus collector: each keeper's last round and totals, as its worker recorded them in Redis."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["keeper"]
        liquidatable = GaugeMetricFamily("xmargin_keeper_liquidatable_accounts",
                                         "Accounts the keeper's last round found liquidatable", labels=labels)
        last = GaugeMetricFamily("xmargin_keeper_last_round_timestamp_seconds", "When the keeper's last round ended",
                                 labels=labels)
        liquidations = CounterMetricFamily("xmargin_keeper_liquidations", "Liquidations the keeper got mined",
                                           labels=labels)
        deleverages = CounterMetricFamily("xmargin_keeper_deleverages",
                                          "Profitable positions the keeper auto-deleveraged for the LP vault",
                                          labels=labels)
        latches = CounterMetricFamily("xmargin_keeper_feed_latches",
                                      "Aggregator feeds the keeper's syncFeed latched Invalid (governance must resolve)",
                                      labels=labels)
        try:
            stats = self.ctx.store.keeper_stats()
        except XmarginError:
            stats = []  # the store is down: /health says so
        for s in stats:
            liquidatable.add_metric([s.keeper], s.liquidatable)
            last.add_metric([s.keeper], s.last_round)
            liquidations.add_metric([s.keeper], s.liquidations)
            deleverages.add_metric([s.keeper], s.deleverages)
            latches.add_metric([s.keeper], s.feed_latches)
        yield from (liquidatable, last, liquidations, deleverages, latches)


def create_app(
    settings: Settings | None = None, context: Context | None = None, validator_set: ValidatorSetOf | None = None,
    on_quorum: KickHook | None = None,
) -> FastAPI:
    """The API for one deployment (settings from $XMARGIN_CONFIG unless given).

    `validator_set` gives a route's current validators; by default it is read from the route's
    destination contract (`validatorsOf`), the same set that verifies the checkpoint on chain.
    `on_quorum` is called when a posted signature completes a quorum the submitter has not sent;
    by default it kicks a submitter tick through the broker (relayer.worker.kick).
    """
    ctx = context or Context(settings or load_settings(), quick=True)
    validator_set = validator_set or ValidatorSets(ctx).of
    kick = on_quorum if on_quorum is not None else SubmitKicker(ctx.settings)
    registry = CollectorRegistry()
    registry.register(_RouteCollector(ctx))
    registry.register(_KeeperCollector(ctx))
    accepted = Counter("xmargin_signatures_accepted", "Signatures accepted", ["route"], registry=registry)
    rejected = Counter("xmargin_signatures_rejected", "Signatures rejected", ["reason"], registry=registry)

    app = FastAPI(title="xmargin relayer API", version="1")

    @app.exception_handler(XmarginError)
    async def _xmargin_error(request: Request, err: XmarginError) -> JSONResponse:
        """Chain or store trouble: 503 with the reason (never a stack trace); v1's error shape under /v1."""
        if request.url.path.startswith("/v1/"):
            return error_response(err)
        return JSONResponse(status_code=503, content={"detail": str(err)})

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        """A v1 error: its status, code and message."""
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        """Under /v1, a malformed request names the fields that are wrong (code invalid_input)."""
        if not request.url.path.startswith("/v1/"):
            return await request_validation_exception_handler(request, err)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in err.errors()
        )
        return ApiError(400, "invalid_input", problems).response()

    app.state.v1 = v1_router(ctx)
    app.include_router(app.state.v1)

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi_v1() -> JSONResponse:
        """The OpenAPI document of /v1 (docs/api/openapi-v1.json is this, generated)."""
        return JSONResponse(v1_spec(app))

    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="app")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """The web app."""
        return RedirectResponse("/app/")

    @app.get("/health")
    def health() -> JSONResponse:
        """200 if every chain and Redis answer, else 503 with what failed."""
        body = routes.health(ctx)
        body["redis"] = {"ok": ctx.store.ping()}
        body["ok"] = body["ok"] and body["redis"]["ok"]
        return JSONResponse(status_code=200 if body["ok"] else 503, content=body)

    @app.get("/routes", response_model=list[RouteStatus])
    def route_statuses() -> list[RouteStatus]:
        """Every route's source, attested and processed nonce and lag."""
        return routes.route_statuses(ctx)

    @app.get("/audit", response_model=AuditReport)
    def solvency_audit() -> AuditReport:
        """Solvency audit: per (spoke, token) and per asset, with any invariant breach."""
        return audit.audit(ctx)

    @app.get("/accounts/{address}", response_model=AccountWithMargin)
    def account(address: str) -> AccountWithMargin:
        """Balances per asset, claims, USD balance and margin (positions, equity, IM, MM, health)."""
        return accounts.account_with_margin(ctx, _address(address))

    @app.get("/accounts/{address}/margin", response_model=MarginView)
    def account_margin(address: str) -> MarginView:
        """Positions, equity, initial and maintenance margin and health of an account."""
        _require_margin(ctx)
        return margin.margin_view(ctx, _address(address))

    @app.get("/prices", response_model=list[PriceView])
    def prices() -> list[PriceView]:
        """Every oracle feed's price, time and status."""
        _require_margin(ctx)
        return margin.prices_view(ctx)

    @app.get("/accounts/{address}/collateral", response_model=CollateralView)
    def collateral(address: str) -> CollateralView:
        """Collateral by asset and, per spoke, what can be withdrawn there."""
        return accounts.collateral_view(ctx, _address(address))

    @app.post("/signatures", status_code=201, response_model=SignatureAccepted)
    def publish_signature(body: SignatureIn) -> SignatureAccepted:
        """Store a validator's checkpoint signature after checking it recovers to a current validator."""
        signature = bytes.fromhex(body.signature[2:])
        try:
            route, signer = accept_signature(ctx, validator_set, body.route, body.nonce, body.head, body.validator,
                                             signature, kick)
        except SignatureRejectedError as err:
            rejected.labels(err.reason).inc()
            raise HTTPException(status_code=err.status, detail=str(err)) from err
        accepted.labels(str(route)).inc()
        return SignatureAccepted(route=str(route), nonce=body.nonce, validator=signer)

    @app.post("/halts", status_code=201)
    def report_halt(body: HaltIn) -> dict[str, str]:
        """A validator reports a route it halted (shown by /routes, `status` and the metric)."""
        try:
            route = accept_halt(ctx, validator_set, body.route, body.validator, body.reason, body.issued_at_ms,
                                bytes.fromhex(body.signature[2:]))
        except SignatureRejectedError as err:
            rejected.labels(err.reason).inc()
            raise HTTPException(status_code=err.status, detail=str(err)) from err
        return {"route": str(route), "validator": body.validator}

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _address(text: str) -> str:
    """Checksummed address from a path parameter, or 422."""
    try:
        return parse_address(text)
    except ActionError as err:
        raise HTTPException(status_code=422, detail=str(err)) from err


def _require_margin(ctx: Context) -> None:
    """404 when the deployment has no margin engine."""
    if ctx.deployment.margin is None:
        raise HTTPException(status_code=404, detail="no margin engine in this deployment")
