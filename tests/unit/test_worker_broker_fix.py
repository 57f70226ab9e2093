"""A worker's channel closing, or a finished task acking, after its Redis broker connection dropped
(what a Redis restart does to a consumer holding acks_late messages) neither raises nor loses the
unacknowledged message: it stays in kombu's unacked hash in Redis for the visibility timeout to
redeliver. Real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from relayer.worker import broker_fix


@pytest.fixture()
def unacked(private_redis_url: str) -> Iterator[tuple[Connection, object, redis.Redis]]:
    """A channel that received one message without acking it (as an acks_late worker does)."""
    url = private_redis_url.rsplit("/", 1)[0] + "/9"
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    conn = Connection(url)
    channel = conn.channel()
    producer = conn.Producer(channel)
    producer.publish({"tick": 1}, routing_key="broker-fix-test", declare=[conn.SimpleQueue("broker-fix-test").queue])
    message = channel.basic_get("broker-fix-test", no_ack=False)
    assert message is not None and channel.qos._delivered
    qos = channel.qos
    yield conn, channel, raw
    # kombu registers a restore-at-exit for every QoS; the crash tests leave one whose connection is
    # gone, which would raise the very AttributeError again when the interpreter exits
    qos._on_collect.cancel()
    broker_fix.uninstall()
    raw.flushdb()


def _lose_connection(channel: object) -> None:
    """What the transport does when the broker goes away: pools dropped, connection forgotten."""
    channel._disconnect_pools()  # type: ignore[attr-defined]
    channel.connection.client = None  # type: ignore[attr-defined]


def test_without_the_fix_kombu_crashes_on_close(unacked: tuple[Connection, object, redis.Redis]) -> None:
    _, channel, _ = unacked
    broker_fix.uninstall()
    _lose_connection(channel)
    with pytest.raises(AttributeError, match="hostname"):
        channel.close()  # type: ignore[attr-defined]


def test_with_the_fix_close_survives_and_the_message_stays_for_redelivery(
    unacked: tuple[Connection, object, redis.Redis],
) -> None:
    _, channel, raw = unacked
    broker_fix.install()
    _lose_connection(channel)
    channel.close()  # type: ignore[attr-defined]
    assert raw.hlen("unacked") == 1  # still in Redis: restore_visible redelivers it after the timeout
    assert raw.zcard("unacked_index") == 1


def test_with_a_live_connection_kombu_restores_as_before(unacked: tuple[Connection, object, redis.Redis]) -> None:
    conn, channel, raw = unacked
    broker_fix.install()
    channel.close()  # type: ignore[attr-defined]
    assert raw.hlen("unacked") == 0  # restored to the queue by kombu's own code
    assert raw.llen("broker-fix-test") == 1
    conn.release()


def test_without_the_fix_a_late_ack_crashes(unacked: tuple[Connection, object, redis.Redis]) -> None:
    _, channel, _ = unacked
    broker_fix.uninstall()
    (tag,) = list(channel.qos._delivered)  # type: ignore[attr-defined]
    _lose_connection(channel)
    with pytest.raises(AttributeError):
        channel.basic_ack(tag)  # type: ignore[attr-defined]


def test_with_the_fix_a_late_ack_leaves_the_message_for_redelivery(
    unacked: tuple[Connection, object, redis.Redis],
) -> None:
    _, channel, raw = unacked
    broker_fix.install()
    (tag,) = list(channel.qos._delivered)  # type: ignore[attr-defined]
    _lose_connection(channel)
    channel.basic_ack(tag)  # type: ignore[attr-defined]
    assert raw.hlen("unacked") == 1 and raw.zcard("unacked_index") == 1
    channel.close()  # type: ignore[attr-defined]
    assert raw.hlen("unacked") == 1
