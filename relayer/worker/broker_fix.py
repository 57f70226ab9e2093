"""A worker survives its Redis broker restarting (kombu 5.7's Redis transport, found by the soak).

When the broker connection drops, Celery closes the consumer's channel; kombu first disconnects
the channel's pools and the transport forgets its connection, then restores the unacknowledged
messages (acks_late) through a NEW pool built from that forgotten connection:
`'NoneType' object has no attribute 'hostname'`, an "Unrecoverable error", and the worker process
exits. Skipping that restore loses nothing: the messages stay in the transport's unacked hash in
Redis and any consumer's `restore_visible` redelivers them after the visibility timeout (our
tasks are idempotent ticks). The fix applies only in that state; otherwise kombu's own restore
runs unchanged."""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_original_restore_unacked = kombu_redis.QoS.restore_unacked


def _restore_unacked(self: Any, client: Any = None) -> Any:
    """kombu's restore, or (connection already gone) leave the messages to the visibility timeout."""
    transport = getattr(self.channel, "connection", None)
    if client is None and (transport is None or getattr(transport, "client", None) is None):
        log.warning(
            "broker connection lost while closing a channel: %d unacknowledged message(s) stay in Redis "
            "and are redelivered after the visibility timeout", len(self._delivered),
        )
        self._delivered.clear()
        return None
    return _original_restore_unacked(self, client)


def install() -> None:
    """Patch kombu's Redis QoS once (idempotent)."""
    kombu_redis.QoS.restore_unacked = _restore_unacked  # type: ignore[method-assign]
