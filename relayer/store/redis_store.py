"""Redis keys of the relayer: published signatures and alarms (leases and nonces: relayer.store.lease,
relayer.store.nonces). A cache: wiping it loses nothing."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

import redis
from pydantic import BaseModel, ConfigDict
from redis.exceptions import LockError, RedisError

from relayer.errors import StoreUnavailableError
from relayer.types import RouteId, checksum

log = logging.getLogger(__name__)

SIGNATURE_TTL_S = 7 * 24 * 3600
"""Published signatures expire after a week untouched (validators re-publish what is still needed)."""
MAX_ALARMS = 1000
HALT_TTL_S = 900
"""A validator's halt shows this long after its last report: a halted validator reports again every
tick (its source chain's poll interval), so a halt that is no longer reported was cleared by its
operator (or the validator stopped, which the route's attested nonce shows)."""
HINT_TTL_S = 600
"""Quorum hints (threshold, sent-up-to, quorum mark) expire this long after their last write: a
stopped submitter's hints do not outlive it by much; a running one rewrites them every tick."""
MAX_HEADS_PER_VALIDATOR = 2
"""Distinct heads one validator may have stored for one (route, nonce): an honest validator signs
one; a second is kept as evidence of equivocation (the submitter sees both), a third is refused,
so a validator cannot flood what every submitter run reads back."""
T = TypeVar("T")
KickHook = Callable[[RouteId, int], None]
"""Called with (route, nonce) when a published signature completed a quorum the route's submitter
has not sent yet: it starts a submitter tick at once (relayer.worker.kick) instead of at the next beat."""

PUBLISH = """
local suffix = ':' .. ARGV[2]
local prefix = ARGV[1] .. ':'
local field = ARGV[1] .. suffix
local held = 0
local signers = 0
local known = false
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, -#suffix) == suffix then
    held = held + 1
    if f == field then known = true end
  end
  if string.sub(f, 1, #prefix) == prefix then signers = signers + 1 end
end
local limit = tonumber(ARGV[4])
if limit > 0 and not known and held >= limit then
  return {0, held, 0}
end
redis.call('HSET', KEYS[1], field, ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
local kick = 0
local threshold = tonumber(redis.call('GET', KEYS[3]) or '0')
local nonce = tonumber(ARGV[5])
if not known and threshold > 0 and signers + 1 == threshold then
  if nonce > tonumber(redis.call('GET', KEYS[5]) or '-1') then
    redis.call('SET', KEYS[5], ARGV[5], 'EX', ARGV[7])
  end
  if nonce > tonumber(redis.call('GET', KEYS[4]) or '-1') then kick = 1 end
end
return {1, held, kick}
"""
"""KEYS: the nonce's signature hash, the route's signed-nonce set, the route's threshold hint, its
sent-up-to hint, its quorum mark. ARGV: head hex, validator, signature, max heads (0: no limit),
nonce, signature TTL, hint TTL. Counts the validator's distinct heads and stores in one step (Redis
runs a script atomically), so concurrent posts cannot pass the check together; a new signature
that brings its head's signers to exactly the route's threshold (as the submitter last read it)
raises the quorum mark and, if the nonce is above what the submitter has sent, asks for a kick.
Exactly one publisher sees that transition. Returns {stored 1/0, heads the validator held before,
kick 1/0}."""

RECORD_HALT = """
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= last then
  return last
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return -1
"""
"""KEYS: the route's halts (validator -> reason), their last accepted stamps (validator -> issued_at_ms),
when each was received (validator -> unix s). ARGV: validator, issued_at_ms, reason, now. Records
the report only if its stamp is above the validator's last one (compare and write in one atomic
step); returns -1 if recorded, else the last stamp."""


class Published(NamedTuple):
    """What publishing one signature did."""

    stored: bool
    held: int
    """Distinct heads the validator held for the nonce before."""
    kick: bool
    """This signature completed a quorum above what the route's submitter has sent: kick it."""


class Alarm(BaseModel):
    """An operator-visible alarm (e.g. a route halted on a signing conflict)."""

    model_config = ConfigDict(frozen=True)

    route: str
    text: str
    at: float
    """Unix time it was raised."""


class KeeperStats(BaseModel):
    """What one keeper's rounds reported (for /metrics: workers expose no HTTP port)."""

    model_config = ConfigDict(frozen=True)

    keeper: str
    """The keeper's address."""
    liquidatable: int
    """Accounts its last round found liquidatable."""
    liquidations: int
    """Liquidations it got mined, in total."""
    deleverages: int
    """Positions it auto-deleveraged for the LP vault, in total."""
    feed_latches: int = 0
    """Aggregator feeds its syncs latched Invalid (governance must `resolveFeed`), in total."""
    last_round: float
    """Unix time its last round ended."""


def _where(url: str) -> str:
    """host:port/db of a Redis URL, without credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"


def _reply_bytes(item: object) -> bytes:
    """One item of a Redis reply as bytes (this client never sets decode_responses, so replies are bytes)."""
    if isinstance(item, str):
        return item.encode()
    if not isinstance(item, bytes):
        raise TypeError(f"unexpected Redis reply item {item!r}")
    return item


class Store:
    """Typed access to the relayer's Redis keys (all under `prefix`)."""

    def __init__(self, redis_url: str, prefix: str = "xmargin", signature_ttl_s: int = SIGNATURE_TTL_S) -> None:
        self.where = _where(redis_url)
        self.prefix = prefix
        self.signature_ttl_s = signature_ttl_s
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self._publish = self.redis.register_script(PUBLISH)
        self._record_halt = self.redis.register_script(RECORD_HALT)

    def _guard(self, operation: str, fn: Callable[[], T]) -> T:
        """Run one Redis operation; Redis failures become StoreUnavailableError."""
        try:
            return fn()
        except LockError:
            raise
        except RedisError as err:
            raise StoreUnavailableError(self.where, operation, f"{type(err).__name__}: {err}") from err

    def _sig_key(self, route: RouteId, nonce: int) -> str:
        return f"{self.prefix}:sig:{route}:{nonce}"

    def _signed_key(self, route: RouteId) -> str:
        return f"{self.prefix}:signed:{route}"

    def ping(self) -> bool:
        """True if Redis answers."""
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def heads_of(self, route: RouteId, nonce: int, validator: str) -> set[bytes]:
        """Distinct heads `validator` has stored for (route, nonce)."""
        who = checksum(validator)
        return {head for head, sigs in self.signatures_for(route, nonce).items() if who in sigs}

    def _publish_keys(self, route: RouteId, nonce: int) -> list[str]:
        return [self._sig_key(route, nonce), self._signed_key(route), f"{self.prefix}:threshold:{route}",
                f"{self.prefix}:sent:{route}", f"{self.prefix}:quorum:{route}"]

    def publish_signature_within(
        self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes,
        max_heads: int = MAX_HEADS_PER_VALIDATOR,
    ) -> Published:
        """Record `validator`'s signature of (route, nonce, head) unless it would hold more than
        `max_heads` distinct heads for the nonce; check and write are one atomic step (a Lua script),
        so concurrent posts keep the limit exactly. Idempotent for a head already held. `kick` is
        True for the one post that completed a quorum above what the route's submitter has sent
        (see PUBLISH). The caller verifies the signature first."""
        keys = self._publish_keys(route, nonce)
        args: list[bytes | str | int] = [bytes(head).hex(), checksum(validator), bytes(signature), max_heads, nonce,
                                         self.signature_ttl_s, HINT_TTL_S]
        stored, held, kick = self._guard("publish_signature", lambda: self._publish(keys=keys, args=args))
        return Published(bool(stored), int(held), bool(kick))

    def publish_signature(self, route: RouteId, nonce: int, head: bytes, validator: str, signature: bytes) -> bool:
        """Record `validator`'s signature of (route, nonce, head); idempotent, no head limit (a
        validator writing into its own operator's Redis; the API uses `publish_signature_within`).
        True if it completed a quorum the submitter should be kicked for."""
        return self.publish_signature_within(route, nonce, head, validator, signature, max_heads=0).kick

    # quorum hints: what lets a completed quorum start a delivery at once (never trusted for safety)

    def note_threshold(self, route: RouteId, threshold: int) -> None:
        """The route's signature threshold, as the submitter just read it on chain."""
        self._guard("note_threshold", lambda: self.redis.set(f"{self.prefix}:threshold:{route}", threshold,
                                                             ex=HINT_TTL_S))

    def note_sent(self, route: RouteId, nonce: int) -> None:
        """The highest nonce the route's submitter has sent (or, between ticks, seen delivered):
        a quorum at or below it needs no kick."""
        self._guard("note_sent", lambda: self.redis.set(f"{self.prefix}:sent:{route}", nonce, ex=HINT_TTL_S))

    def quorum_mark(self, route: RouteId) -> int:
        """The highest nonce whose head reached the threshold in Redis (-1: none known)."""
        raw = self._guard("quorum_mark", lambda: self.redis.get(f"{self.prefix}:quorum:{route}"))
        return -1 if raw is None else int(_reply_bytes(raw))

    def signatures_for(self, route: RouteId, nonce: int) -> dict[bytes, dict[str, bytes]]:
        """{head: {validator: signature}} published for (route, nonce); empty if none."""
        raw = self._guard("signatures_for", lambda: self.redis.hgetall(self._sig_key(route, nonce)))
        out: dict[bytes, dict[str, bytes]] = {}
        for field, sig in raw.items():
            head_hex, validator = _reply_bytes(field).decode().split(":")
            out.setdefault(bytes.fromhex(head_hex), {})[validator] = _reply_bytes(sig)
        return out

    def signatures_for_many(self, route: RouteId, nonces: Sequence[int]) -> dict[int, dict[bytes, dict[str, bytes]]]:
        """`signatures_for` of several nonces in one round trip (a pipeline)."""
        if not nonces:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for nonce in nonces:
            pipe.hgetall(self._sig_key(route, nonce))
        replies = self._guard("signatures_for_many", pipe.execute)
        out: dict[int, dict[bytes, dict[str, bytes]]] = {}
        for nonce, raw in zip(nonces, replies, strict=True):
            book: dict[bytes, dict[str, bytes]] = {}
            for field, sig in raw.items():
                head_hex, validator = _reply_bytes(field).decode().split(":")
                book.setdefault(bytes.fromhex(head_hex), {})[validator] = _reply_bytes(sig)
            out[nonce] = book
        return out

    def signed_nonces(self, route: RouteId) -> list[int]:
        """Nonces of `route` with at least one published signature, ascending."""
        raw = self._guard("signed_nonces", lambda: self.redis.zrange(self._signed_key(route), 0, -1))
        return sorted(int(_reply_bytes(n)) for n in raw)

    def forget_below(self, route: RouteId, nonce: int) -> int:
        """Drop signatures for nonces < `nonce` (already processed); returns how many nonces went."""
        old = [n for n in self.signed_nonces(route) if n < nonce]
        if old:
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(*(self._sig_key(route, n) for n in old))
            pipe.zrem(self._signed_key(route), *(str(n) for n in old))
            self._guard("forget_below", pipe.execute)
        return len(old)

    def raise_alarm(self, route: RouteId | str, text: str) -> None:
        """Record an alarm for operators (newest first, the last MAX_ALARMS kept)."""
        alarm = Alarm(route=str(route), text=text, at=time.time())
        log.error("ALARM route %s: %s", route, text)
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(f"{self.prefix}:alarms", alarm.model_dump_json())
        pipe.ltrim(f"{self.prefix}:alarms", 0, MAX_ALARMS - 1)
        self._guard("raise_alarm", pipe.execute)

    def _halts_key(self, route: RouteId | str) -> str:
        return f"{self.prefix}:halted:{route}"

    def record_halt(self, route: RouteId | str, validator: str, reason: str, issued_at_ms: int) -> int | None:
        """Note that `validator` halted `route` (from its own report; its disk holds the real halt),
        unless `issued_at_ms` is not above the last report recorded from it for the route (a replay
        or a reordered report): then nothing changes and the last stamp is returned. None if recorded."""
        keys = [self._halts_key(route), f"{self.prefix}:halt-stamp:{route}", f"{self.prefix}:halt-seen:{route}"]
        args: list[str | int] = [checksum(validator), int(issued_at_ms), reason, int(time.time())]
        last = int(self._guard("record_halt", lambda: self._record_halt(keys=keys, args=args)))
        return None if last < 0 else last

    def halts(self, route: RouteId | str, now: float | None = None) -> dict[str, str]:
        """{validator: reason} of the validators that reported `route` halted within the last HALT_TTL_S."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._halts_key(route))
        pipe.hgetall(f"{self.prefix}:halt-seen:{route}")
        reasons, seen = self._guard("halts", pipe.execute)
        since = (time.time() if now is None else now) - HALT_TTL_S
        fresh = {_reply_bytes(k).decode() for k, v in seen.items() if float(_reply_bytes(v)) >= since}
        return {who: _reply_bytes(v).decode() for k, v in reasons.items() if (who := _reply_bytes(k).decode()) in fresh}

    def record_keeper_round(self, keeper: str, liquidatable: int, liquidated: int, deleveraged: int,
                            feeds_latched: int = 0) -> None:
        """Add one keeper round's figures to the keeper's counters (read by the API's /metrics)."""
        who = checksum(keeper)
        key = f"{self.prefix}:keeper:{who}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(f"{self.prefix}:keepers", who)
        pipe.hset(key, mapping={"liquidatable": liquidatable, "last_round": time.time()})
        pipe.hincrby(key, "liquidations", liquidated)
        pipe.hincrby(key, "deleverages", deleveraged)
        pipe.hincrby(key, "feed_latches", feeds_latched)
        self._guard("record_keeper_round", pipe.execute)

    def keeper_stats(self) -> list[KeeperStats]:
        """Every keeper that recorded a round, by address."""
        members = self._guard("keeper_stats", lambda: self.redis.smembers(f"{self.prefix}:keepers"))
        out = []
        for who in sorted(_reply_bytes(m).decode() for m in members):
            key = f"{self.prefix}:keeper:{who}"
            raw = self._guard("keeper_stats", partial(self.redis.hgetall, key))
            fields = {_reply_bytes(k).decode(): _reply_bytes(v).decode() for k, v in raw.items()}
            out.append(KeeperStats(keeper=who, liquidatable=int(fields.get("liquidatable", 0)),
                                   liquidations=int(fields.get("liquidations", 0)),
                                   deleverages=int(fields.get("deleverages", 0)),
                                   feed_latches=int(fields.get("feed_latches", 0)),
                                   last_round=float(fields.get("last_round", 0.0))))
        return out

    def alarms(self) -> list[Alarm]:
        """Recorded alarms, newest first."""
        raw = self._guard("alarms", lambda: self.redis.lrange(f"{self.prefix}:alarms", 0, -1))
        return [Alarm.model_validate(json.loads(item)) for item in raw]
