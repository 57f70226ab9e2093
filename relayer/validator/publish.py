"""Where a validator's signatures and halt reports go: straight into the relayer's Redis (one
operator running everything), or over HTTP to one or more relayer APIs (`validator.publish_to`), so
a validator run by another operator needs nobody's Redis. Alarms are always logged here first."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import SecretStr

from relayer.chain.client import rpc_session
from relayer.errors import PublishError
from relayer.store.redis_store import KickHook, Store
from relayer.types import RouteId

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MAX_REASON = 500


def halt_message(route: str, validator: str, reason: str, issued_at_ms: int) -> str:
    """The text a validator signs (EIP-191) to report a halted route; the API recovers it. The
    stamp binds the report to when it was made: an API accepts it only shortly after that, and
    only above the last stamp it accepted from the validator for the route (no replay)."""
    return (f"xmargin validator halted\nroute: {route}\nvalidator: {validator}\nissued_at_ms: {int(issued_at_ms)}\n"
            f"reason: {reason[:MAX_REASON]}")


class HaltStamps:
    """Strictly increasing halt-report stamps: the wall clock in milliseconds, or one above the
    last stamp if the clock has not moved on (two reports in one millisecond, a clock step back)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next stamp."""
        with self._lock:
            self._last = max(time.time_ns() // 1_000_000, self._last + 1)
            return self._last


class Publisher(Protocol):
    """What a validator sends out."""

    def signature(self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        """Publish one checkpoint signature."""

    def halt(self, route: RouteId, validator: str, reason: str) -> None:
        """Report that this validator halted `route` (repeated every tick while halted)."""

    def alarm(self, route: RouteId, text: str) -> None:
        """Raise an operator alarm."""


class RedisPublisher:
    """Into the relayer's own Redis (the devnet's single operator, or an operator's own validators)."""

    def __init__(self, store: Store, on_quorum: KickHook | None = None) -> None:
        self.store = store
        self.stamps = HaltStamps()
        self.on_quorum = on_quorum

    def signature(self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        """Stored as the API would store it; a signature completing a quorum kicks the submitter."""
        if self.store.publish_signature(route, nonce, head, validator, signature) and self.on_quorum is not None:
            self.on_quorum(route, nonce)

    def halt(self, route: RouteId, validator: str, reason: str) -> None:
        """Recorded for `status` and the metric."""
        self.store.record_halt(route, validator, reason[:MAX_REASON], self.stamps.next())

    def alarm(self, route: RouteId, text: str) -> None:
        """Logged and kept in the alarm list."""
        self.store.raise_alarm(route, text)


class HttpPublisher:
    """POSTs to every API in `urls`: `/signatures` (verified there) and `/halts` (signed with the
    validator key, EIP-191). PublishError only when no API took it: the validator re-publishes
    what the destination still needs every tick, so a missed API catches up."""

    def __init__(self, urls: Sequence[str], key: SecretStr, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self._key = key
        self.timeout_s = timeout_s
        self.sessions = {url: rpc_session(url) for url in self.urls}
        """One session per API, environment settings read once (relayer.chain.client.rpc_session)."""
        self.stamps = HaltStamps()

    def _post(self, path: str, body: dict[str, object]) -> None:
        failures: list[str] = []
        for url in self.urls:
            try:
                reply = self.sessions[url].post(url + path, json=body, timeout=self.timeout_s)
            except requests.RequestException as err:
                failures.append(f"{url}: {type(err).__name__}")
                continue
            if reply.status_code >= 300:
                failures.append(f"{url}: HTTP {reply.status_code} {reply.text[:200]}")
        for failure in failures:
            log.warning("publish %s: %s", path, failure)
        if len(failures) == len(self.urls):
            raise PublishError(path, failures)

    def signature(self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        """POST /signatures to every API."""
        self._post("/signatures", {
            "route": str(route), "nonce": int(nonce), "head": "0x" + bytes(head).hex(),
            "validator": validator, "signature": "0x" + bytes(signature).hex(),
        })

    def halt(self, route: RouteId, validator: str, reason: str) -> None:
        """POST /halts, signed over a fresh stamp, to every API."""
        stamp = self.stamps.next()
        text = halt_message(str(route), validator, reason, stamp)
        signed = Account.sign_message(encode_defunct(text=text), self._key.get_secret_value())
        self._post("/halts", {
            "route": str(route), "validator": validator, "reason": reason[:MAX_REASON], "issued_at_ms": stamp,
            "signature": "0x" + bytes(signed.signature).hex(),
        })

    def alarm(self, route: RouteId, text: str) -> None:
        """In this validator's own logs (its operator's alerting reads them)."""
        log.error("ALARM route %s: %s", route, text)
