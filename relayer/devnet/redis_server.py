"""Redis for the devnet: use the one at the configured URL, or start a throwaway one if it is local."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import redis

from relayer.devnet._proc import DevnetError, Managed, poll, spawn
from relayer.devnet.layout import DevnetLayout

READY_TIMEOUT_S = 10.0
DEVNET_KEY_PATTERNS = ("xmargin:*",)
"""Keys of the relayer's store: cleared when a devnet starts on fresh chains (a cache of old chains)."""


def redis_answers(url: str) -> bool:
    """Whether a Redis answers PING at `url`."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def ensure_redis(layout: DevnetLayout) -> Managed | None:
    """Use the Redis at the layout's URL; if none answers and the URL is local, start one (no persistence)."""
    url = layout.redis_url
    if redis_answers(url):
        return None
    parts = urlsplit(url)
    if not layout.redis_is_local:
        raise DevnetError(f"no Redis answers at {url} and it is not local: start it or set XMARGIN_REDIS_URL")
    binary = shutil.which("redis-server")
    if binary is None:
        raise DevnetError(
            f"no Redis answers at {url} and redis-server is not installed (Debian: apt-get install redis-server)"
        )
    port = parts.port or 6379
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    log = layout.log_dir / "redis.log"
    proc = spawn("redis", argv, log)

    def ready() -> bool:
        if not proc.running():
            raise DevnetError(f"redis-server exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return redis_answers(url)

    try:
        poll(ready, f"redis-server on port {port}", READY_TIMEOUT_S)
    except BaseException:
        proc.kill()
        raise
    return proc


def clear_devnet_keys(url: str) -> int:
    """Delete the relayer store's keys in the URL's database (never FLUSHALL: the server may be shared)."""
    client = redis.Redis.from_url(url)
    deleted = 0
    for pattern in DEVNET_KEY_PATTERNS:
        batch = list(client.scan_iter(match=pattern, count=500))
        if batch:
            deleted += int(client.delete(*batch))
    return deleted
