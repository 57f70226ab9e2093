"""HTTP API: read views for integrators, the validators' signature endpoint, health and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, field_validator

from relayer.api import views
from relayer.api.audit import AuditReport
from relayer.api.audit import audit as run_audit
from relayer.api.margin import AccountWithMargin, MarginView, PriceView, account_with_margin, margin_view, prices_view
from relayer.api.views import Backend, CollateralView, RouteStatus
from relayer.config import Settings, load_settings
from relayer.errors import InvalidRouteError, SignatureError, XmarginError
from relayer.proofs.checkpoint import Checkpoint, recover
from relayer.types import Address, Bytes32, RouteId, checksum

VALIDATOR_SET_TTL_S = 10.0
METRICS_TTL_S = 2.0


class SignatureIn(BaseModel):
    """A validator's signature over a route checkpoint, as it publishes it."""

    route: str
    """Route id, e.g. `deposit:31338->31337`."""
    nonce: int
    head: Bytes32
    validator: Address
    """The signer the validator claims to be; must match the recovered address."""
    signature: str
    """0x-hex, 65 bytes r || s || v."""

    @field_validator("signature")
    @classmethod
    def _hex65(cls, value: str) -> str:
        """0x-prefixed hex of exactly 65 bytes."""
        raw = value[2:] if value.startswith("0x") else value
        try:
            data = bytes.fromhex(raw)
        except ValueError as err:
            raise ValueError("not hex") from err
        if len(data) != 65:
            raise ValueError(f"expected 65 bytes, got {len(data)}")
        return "0x" + raw.lower()


class SignatureAccepted(BaseModel):
    """Reply to an accepted signature."""

    route: str
    nonce: int
    validator: str


class _ValidatorSets:
    """Current validator set of each route's destination, read on chain and cached briefly."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._cache: dict[str, tuple[float, set[str]]] = {}

    def of(self, route: RouteId) -> set[str]:
        """Checksummed addresses allowed to sign checkpoints of `route` at its destination."""
        key = str(route)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < VALIDATOR_SET_TTL_S:
            return hit[1]
        dest = self.backend.ledger() if route.dest_chain_id == self.backend.deployment.hub.chain_id else (
            self.backend.lockbox(route.dest_chain_id)
        )
        members = self.backend.client(route.dest_chain_id).call(dest.functions.validatorsOf(route.source_chain_id))
        current = {checksum(m) for m in members}
        self._cache[key] = (time.monotonic(), current)
        return current


class _RouteCollector:
    """Prometheus collector: route nonces and lag, computed at scrape time (cached briefly)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._cached: tuple[float, list[RouteStatus]] | None = None

    def _statuses(self) -> list[RouteStatus]:
        if self._cached and time.monotonic() - self._cached[0] < METRICS_TTL_S:
            return self._cached[1]
        statuses = views.route_statuses(self.backend)
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
        up = GaugeMetricFamily("xmargin_routes_up", "1 if route state could be read from every chain")
        try:
            statuses = self._statuses()
        except Exception:  # noqa: BLE001 - a scrape reports failure as a metric, it does not crash
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


ValidatorSetOf = Callable[[RouteId], set[str]]


def create_app(
    settings: Settings | None = None, backend: Backend | None = None, validator_set: ValidatorSetOf | None = None
) -> FastAPI:
    """The API for one deployment (settings from $XMARGIN_CONFIG unless given).

    `validator_set` gives a route's current validators; by default it is read from the route's
    destination contract (`validatorsOf`), the same set that verifies the checkpoint on chain.
    """
    backend = backend or Backend(settings or load_settings(), quick=True)
    validator_set = validator_set or _ValidatorSets(backend).of
    registry = CollectorRegistry()
    registry.register(_RouteCollector(backend))  # type: ignore[arg-type]
    accepted = Counter("xmargin_signatures_accepted", "Signatures accepted", ["route"], registry=registry)
    rejected = Counter("xmargin_signatures_rejected", "Signatures rejected", ["reason"], registry=registry)

    app = FastAPI(title="xmargin relayer API", version="1")

    @app.exception_handler(XmarginError)
    async def _xmargin_error(_: Any, err: XmarginError) -> JSONResponse:
        """Chain or store trouble: 503 with the reason (never a stack trace)."""
        return JSONResponse(status_code=503, content={"detail": str(err)})

    @app.get("/health")
    def health() -> JSONResponse:
        """200 if every chain and Redis answer, else 503 with what failed."""
        body = views.health(backend)
        try:
            body["redis"] = {"ok": bool(_redis_ping(backend))}
        except Exception as err:  # noqa: BLE001 - reported in the body
            body["redis"] = {"ok": False, "error": type(err).__name__}
        body["ok"] = body["ok"] and body["redis"]["ok"]
        return JSONResponse(status_code=200 if body["ok"] else 503, content=body)

    @app.get("/routes", response_model=list[RouteStatus])
    def routes() -> list[RouteStatus]:
        """Every route's source, attested and processed nonce and lag."""
        return views.route_statuses(backend)

    @app.get("/audit", response_model=AuditReport)
    def solvency_audit() -> AuditReport:
        """Solvency audit: per (spoke, token) and per asset, with any invariant breach."""
        return run_audit(backend)

    @app.get("/accounts/{address}", response_model=AccountWithMargin)
    def account(address: str) -> AccountWithMargin:
        """Balances per asset, claims, USD balance and margin (positions, equity, IM, MM, health)."""
        return account_with_margin(backend, _address(address))

    @app.get("/accounts/{address}/margin", response_model=MarginView)
    def margin(address: str) -> MarginView:
        """Positions, equity, initial and maintenance margin and health of an account."""
        _require_margin(backend)
        return margin_view(backend, _address(address))

    @app.get("/prices", response_model=list[PriceView])
    def prices() -> list[PriceView]:
        """Every oracle feed's price, time and status."""
        _require_margin(backend)
        return prices_view(backend)

    @app.get("/accounts/{address}/collateral", response_model=CollateralView)
    def collateral(address: str) -> CollateralView:
        """Collateral by asset and, per spoke, what can be withdrawn there."""
        return views.collateral_view(backend, _address(address))

    @app.post("/signatures", status_code=201, response_model=SignatureAccepted)
    def publish_signature(body: SignatureIn) -> SignatureAccepted:
        """Store a validator's checkpoint signature after checking it recovers to a current validator."""
        try:
            route = RouteId.parse(body.route)
            if route not in backend.deployment.routes():
                raise InvalidRouteError(body.route, "not a route of this deployment")
        except InvalidRouteError as err:
            rejected.labels("route").inc()
            raise HTTPException(status_code=404, detail=str(err)) from err
        checkpoint = Checkpoint(
            source_chain_id=route.source_chain_id,
            source=backend.deployment.source_contract(route),
            nonce=body.nonce,
            head=body.head,
        )
        signature = bytes.fromhex(body.signature[2:])
        try:
            signer = recover(checkpoint, route.dest_chain_id, backend.deployment.dest_contract(route), signature)
        except SignatureError as err:
            rejected.labels("malformed").inc()
            raise HTTPException(status_code=400, detail=str(err)) from err
        if signer != body.validator:
            rejected.labels("wrong_signer").inc()
            raise HTTPException(status_code=400, detail=f"signature recovers to {signer}, not {body.validator}")
        if signer not in validator_set(route):
            rejected.labels("not_validator").inc()
            raise HTTPException(status_code=403, detail=f"{signer} is not in the validator set of {route}")
        backend.store.publish_signature(route, body.nonce, body.head, signer, signature)  # type: ignore[attr-defined]
        accepted.labels(str(route)).inc()
        return SignatureAccepted(route=str(route), nonce=body.nonce, validator=signer)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _address(text: str) -> str:
    """Checksummed address from a path parameter, or 422."""
    try:
        return checksum(text)
    except ValueError as err:
        raise HTTPException(status_code=422, detail=f"not an address: {text!r}") from err


def _require_margin(backend: Backend) -> None:
    """404 when the deployment has no margin engine."""
    if backend.deployment.margin is None:
        raise HTTPException(status_code=404, detail="no margin engine in this deployment")


def _redis_ping(backend: Backend) -> bool:
    """PING the configured Redis."""
    import redis

    return bool(redis.Redis.from_url(backend.settings.redis_url, socket_timeout=1, socket_connect_timeout=1).ping())
