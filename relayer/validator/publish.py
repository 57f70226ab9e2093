"""Where a validator's signatures and halt reports go: straight into the relayer's Redis (one
operator running everything), or over HTTP to one or more relayer APIs (`validator.publish_to`), so
a validator run by another operator needs nobody's Redis. Alarms are always logged here first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import SecretStr

from relayer.errors import PublishError
from relayer.store.redis_store import Store
from relayer.types import RouteId

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MAX_REASON = 500


def halt_message(route: str, validator: str, reason: str) -> str:
    """The text a validator signs (EIP-191) to report a halted route; the API recovers it."""
    return f"xmargin validator halted\nroute: {route}\nvalidator: {validator}\nreason: {reason[:MAX_REASON]}"


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

    def __init__(self, store: Store) -> None:
        self.store = store

    def signature(self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        """Stored as the API would store it."""
        self.store.publish_signature(route, nonce, head, validator, signature)

    def halt(self, route: RouteId, validator: str, reason: str) -> None:
        """Recorded for `status` and the metric."""
        self.store.record_halt(route, validator, reason[:MAX_REASON])

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
        self.session = requests.Session()

    def _post(self, path: str, body: dict[str, object]) -> None:
        failures: list[str] = []
        for url in self.urls:
            try:
                reply = self.session.post(url + path, json=body, timeout=self.timeout_s)
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
        """POST /halts, signed, to every API."""
        text = halt_message(str(route), validator, reason)
        signed = Account.sign_message(encode_defunct(text=text), self._key.get_secret_value())
        self._post("/halts", {
            "route": str(route), "validator": validator, "reason": reason[:MAX_REASON],
            "signature": "0x" + bytes(signed.signature).hex(),
        })

    def alarm(self, route: RouteId, text: str) -> None:
        """In this validator's own logs (its operator's alerting reads them)."""
        log.error("ALARM route %s: %s", route, text)
