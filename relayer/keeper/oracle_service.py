"""The oracle pusher (devnet): the only writer of the devnet's aggregators.

Each step it pushes, per feed, the next price of a path queued in Redis (`xmargin oracle push`),
or, when nothing is queued and the latest round is `refresh_s` old, the same price again so it
stays fresh under the oracle's heartbeat. One writer per aggregator means queued paths and
refreshes can never interleave out of order. A Redis wipe drops queued paths (the prices already
pushed stay on chain): re-queue them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar, cast

from pydantic import BaseModel
from redis.exceptions import RedisError
from web3.contract import Contract
from web3.exceptions import Web3Exception

from relayer.chain.margin import MarginContracts
from relayer.chain.sender import TxRequest, TxSender
from relayer.errors import ChainError, MarginInputError, StoreError, StoreUnavailableError
from relayer.keeper.pusher import AGGREGATOR_DECIMALS, moves_within, to_answer
from relayer.store.redis_store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

PUSH_GAS = 200_000
READY_LINE = "oracle pusher: serving"
"""Printed once the service runs (the devnet waits for it)."""


class PriceQueue:
    """Price paths waiting for the pusher: one Redis list of aggregator answers per feed symbol."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def key(self, feed: str) -> str:
        """Redis key of a feed's queue."""
        return f"{self.store.prefix}:oracle:queue:{feed}"

    def _redis(self, operation: str, fn: Callable[[], T]) -> T:
        """One Redis call; failures become StoreUnavailableError."""
        try:
            return fn()
        except RedisError as err:
            raise StoreUnavailableError(self.store.where, f"oracle queue {operation}", str(err)) from err

    def enqueue(self, feed: str, answers: list[int]) -> int:
        """Append answers to the feed's queue; returns its new length."""
        return int(self._redis("rpush", lambda: self.store.redis.rpush(self.key(feed), *answers)))

    def pop(self, feed: str) -> int | None:
        """The next queued answer of the feed, or None."""
        raw = self._redis("lpop", lambda: self.store.redis.lpop(self.key(feed)))
        return None if raw is None else int(cast(bytes, raw))

    def last(self, feed: str) -> int | None:
        """The last queued answer of the feed, or None."""
        raw = self._redis("lindex", lambda: self.store.redis.lindex(self.key(feed), -1))
        return None if raw is None else int(raw)

    def put_back(self, feed: str, answer: int) -> None:
        """Return an answer whose push failed to the front of the queue."""
        self._redis("lpush", lambda: self.store.redis.lpush(self.key(feed), answer))

    def pending(self, feed: str) -> int:
        """Answers still queued for the feed."""
        return int(self._redis("llen", lambda: self.store.redis.llen(self.key(feed))))

    def clear(self, feed: str) -> None:
        """Drop the feed's queue."""
        self._redis("delete", lambda: self.store.redis.delete(self.key(feed)))


class Pushed(BaseModel):
    """One round pushed into an aggregator."""

    feed: str
    answer: int
    reason: Literal["path", "refresh"]
    tx_hash: str
    status: int


def queue_path(contracts: MarginContracts, queue: PriceQueue, feed: str, prices: list[float]) -> int:
    """Validate a USD price path against the feed's max move (from its latest on-chain answer,
    or the last one already queued) and queue it; returns the queue length. MarginInputError names
    the first step the oracle would reject as Invalid."""
    if feed not in contracts.aggregators:
        raise MarginInputError(f"no aggregator feed {feed!r}; known: {', '.join(contracts.aggregators)}")
    if not prices:
        raise MarginInputError("empty price path")
    answers = [to_answer(p) for p in prices]
    previous = contracts.aggregators[feed].functions.latestRoundData().call()[1]
    queued = queue.last(feed)
    if queued is not None:
        previous = queued
    max_move = int(contracts.oracle.functions.feedOf(contracts.config.feeds[feed].feed_id).call()[2])
    bad = moves_within(int(previous), answers, max_move)
    if bad is not None:
        before = answers[bad - 1] if bad else int(previous)
        raise MarginInputError(
            f"step {bad + 1} moves {feed} from {before / 10**AGGREGATOR_DECIMALS} to "
            f"{answers[bad] / 10**AGGREGATOR_DECIMALS}, more than the feed's {max_move / 100:g} % bound"
        )
    return queue.enqueue(feed, answers)


class OracleService:
    """Pushes queued paths and refreshes idle feeds, one step at a time (see the module docstring)."""

    def __init__(self, contracts: MarginContracts, sender: TxSender, queue: PriceQueue, refresh_s: float) -> None:
        self.contracts = contracts
        self.sender = sender
        self.queue = queue
        self.refresh_s = refresh_s

    def _push(self, aggregator: Contract, answer: int) -> tuple[str, int]:
        """Send one `push(answer)` and wait for it."""
        sent = self.sender.send(TxRequest.call(aggregator.functions.push(answer), gas=PUSH_GAS))
        return sent.tx_hash, sent.status

    def step(self) -> list[Pushed]:
        """One step over every feed: the next queued price, or a refresh of an old round."""
        now = int(self.contracts.client.w3.eth.get_block("latest")["timestamp"])
        pushed: list[Pushed] = []
        for feed, aggregator in self.contracts.aggregators.items():
            answer = self.queue.pop(feed)
            reason: Literal["path", "refresh"] = "path"
            if answer is None:
                _, latest, _, updated_at, _ = aggregator.functions.latestRoundData().call()
                if now - int(updated_at) < self.refresh_s:
                    continue
                answer, reason = int(latest), "refresh"
            try:
                tx_hash, status = self._push(aggregator, answer)
            except BaseException:
                if reason == "path":
                    self.queue.put_back(feed, answer)
                raise
            pushed.append(Pushed(feed=feed, answer=answer, reason=reason, tx_hash=tx_hash, status=status))
        return pushed

    def serve(self, step_s: float, stop: threading.Event, report: Callable[[str], None] = print) -> None:
        """Step every `step_s` seconds until `stop` is set; chain or Redis trouble is logged and
        the next step tries again (a service must outlive a node or Redis restart)."""
        report(f"{READY_LINE} feeds {', '.join(self.contracts.aggregators)} as {self.sender.account.address}")
        while not stop.is_set():
            started = time.monotonic()
            try:
                for p in self.step():
                    report(f"pushed {p.feed} {p.answer / 10**AGGREGATOR_DECIMALS:g} ({p.reason}) tx {p.tx_hash}")
            except (ChainError, StoreError, OSError, ValueError, Web3Exception) as err:  # Web3Exception: a
                # JSON-RPC error answer (-32603 ...) from raw web3 calls, which are not wrapped in ChainError
                log.warning("oracle pusher step failed: %s", err)
                report(f"step failed: {err}")
            stop.wait(max(0.0, step_s - (time.monotonic() - started)))  # one step per step_s, not per step_s + push
