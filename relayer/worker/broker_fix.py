"""A worker survives its Redis broker restarting (kombu 5.7's Redis transport, found by the soak).

When the broker connection drops, kombu disconnects the channel's pools and the transport forgets
its connection; anything that then touches the unacknowledged-message bookkeeping builds a NEW pool
from that forgotten connection and raises `AttributeError` (`'NoneType' object has no attribute
'hostname'` / `'client'`), an "Unrecoverable error" that ends the worker process. Two paths do it:
closing the channel restores the unacked messages (acks_late), and a task that finishes after the
drop acks its message on the old channel. In that state the fix skips the bookkeeping: the
messages stay in the transport's unacked hash in Redis and any consumer's `restore_visible`
redelivers them after the visibility timeout (our tasks are idempotent ticks: a second run does
nothing new). With a live connection kombu's own code runs unchanged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_ORIGINAL: dict[str, Callable[..., Any]] = {
    name: getattr(kombu_redis.QoS, name) for name in ("restore_unacked", "ack", "reject")
}


def _disconnected(qos: Any) -> bool:
    """The channel's transport has forgotten its broker connection (kombu cannot build a pool)."""
    transport = getattr(qos.channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _restore_unacked(self: Any, client: Any = None) -> Any:
    """kombu's restore, or (connection gone) leave the messages to the visibility timeout."""
    if client is None and _disconnected(self):
        log.warning(
            "broker connection lost while closing a channel: %d unacknowledged message(s) stay in Redis "
            "and are redelivered after the visibility timeout", len(self._delivered),
        )
        self._delivered.clear()
        return None
    return _ORIGINAL["restore_unacked"](self, client)


def _settling(name: str) -> Callable[..., Any]:
    """kombu's ack / reject, or (connection gone) leave the message for redelivery."""
    original = _ORIGINAL[name]

    @wraps(original)
    def settle(self: Any, delivery_tag: Any, *args: Any, **kwargs: Any) -> Any:
        if _disconnected(self):
            log.warning(
                "broker connection lost before a finished task's %s: its message stays in Redis and is "
                "redelivered after the visibility timeout (the tick runs again, idempotently)", name,
            )
            return None
        return original(self, delivery_tag, *args, **kwargs)

    return settle


def install() -> None:
    """Patch kombu's Redis QoS (idempotent)."""
    kombu_redis.QoS.restore_unacked = _restore_unacked  # type: ignore[method-assign]
    kombu_redis.QoS.ack = _settling("ack")  # type: ignore[method-assign]
    kombu_redis.QoS.reject = _settling("reject")  # type: ignore[method-assign]


def uninstall() -> None:
    """kombu's own methods back (tests)."""
    for name, method in _ORIGINAL.items():
        setattr(kombu_redis.QoS, name, method)
