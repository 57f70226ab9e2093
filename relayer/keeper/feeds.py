"""The keeper's feed step (docs/margin.md "Oracle-failure policy", D18/D31): every round, call
`PriceOracle.syncFeed` on each aggregator feed with rounds after its anchor, so a jump beyond
`maxMoveBps` latches the feed (Invalid until governance `resolveFeed`) instead of falling out of
`getPrice`'s 4-round look-back and healing by itself.

Loads in the brownie environment like the liquidator: web3, pydantic and relayer.chain.abi only."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.abi import decode_error, revert_data

log = logging.getLogger(__name__)

AGGREGATOR_KIND = 1
"""`PriceOracleBase.SourceKind.Aggregator`."""
FEED_KIND, FEED_AGGREGATOR, FEED_LAST_PRICE, FEED_LAST_ROUND, FEED_LATCHED = 0, 4, 7, 9, 10
"""Indexes in the `PriceOracleBase.Feed` tuple `feedOf` returns."""
SYNC_GAS_MARGIN_PCT = 125
SYNC_GAS_MARGIN_FIXED = 50_000
"""A sync's gas limit: its estimate x 1.25 + 50k (as a liquidation's)."""


class FeedRounds(BaseModel):
    """Outcome of one feed-sync pass."""

    synced: list[int] = []
    """Feed ids whose `syncFeed` this keeper got mined."""
    latched: list[int] = []
    """Feed ids the sync latched Invalid (a move beyond `maxMoveBps`): governance must act."""
    reverted: int = 0
    """Sent syncs that reverted on chain."""
    failed: dict[str, str] = {}
    """`feed <id>` -> error of a simulation that reverted."""


def needs_sync(feed: Any, latest_round: int) -> bool:
    """Whether `feedOf`'s tuple is an aggregator feed, not latched, with rounds after its anchor."""
    return int(feed[FEED_KIND]) == AGGREGATOR_KIND and not bool(feed[FEED_LATCHED]) \
        and int(latest_round) > int(feed[FEED_LAST_ROUND])


def sync_gas(estimate: int) -> int:
    """Gas limit of a sync from its estimate."""
    return estimate * SYNC_GAS_MARGIN_PCT // 100 + SYNC_GAS_MARGIN_FIXED


class FeedSyncer:
    """Advances every aggregator feed the risk engine prices, and reports each new latch."""

    def __init__(self, w3: Web3, sender: str, engine: Any, oracle: Any, aggregator_abi: list[dict[str, Any]],
                 send: Any) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.engine = engine
        self.oracle = oracle
        self.aggregator_abi = aggregator_abi
        self._send = send

    def latest_round(self, aggregator: str) -> int:
        """The aggregator's latest round id."""
        agg = self.w3.eth.contract(address=Web3.to_checksum_address(aggregator), abi=self.aggregator_abi)
        return int(agg.functions.latestRoundData().call()[0])

    def run_once(self) -> FeedRounds:
        """Simulates then sends `syncFeed` for each feed `needs_sync`; reads the feed back to log a latch."""
        result = FeedRounds()
        for feed_id in (int(f) for f in self.engine.functions.priceFeeds().call()):
            feed = self.oracle.functions.feedOf(feed_id).call()
            if int(feed[FEED_KIND]) != AGGREGATOR_KIND or bool(feed[FEED_LATCHED]):
                continue
            if not needs_sync(feed, self.latest_round(str(feed[FEED_AGGREGATOR]))):
                continue
            self._sync_one(feed_id, result)
        return result

    def _sync_one(self, feed_id: int, result: FeedRounds) -> None:
        """Simulates, sizes gas from the estimate, sends and records the outcome in `result`."""
        call = self.oracle.functions.syncFeed(feed_id)
        try:
            call.call({"from": self.sender})
            gas = sync_gas(int(call.estimate_gas({"from": self.sender})))
        except (ContractCustomError, ContractLogicError, ValueError) as err:
            error = decode_error(revert_data(err), [self.oracle.abi])
            result.failed[f"feed {feed_id}"] = error.name if error is not None else str(err)
            return
        tx_hash, status = self._send(call, gas)
        fields = {"feed": feed_id, "tx_hash": tx_hash, "sender": self.sender, "gas": gas}
        if status != 1:
            result.reverted += 1
            log.warning("sync of feed %d reverted on chain in tx %s", feed_id, tx_hash, extra=fields)
            return
        result.synced.append(feed_id)
        after = self.oracle.functions.feedOf(feed_id).call()
        log.info("synced feed %d to round %d in tx %s", feed_id, int(after[FEED_LAST_ROUND]), tx_hash, extra=fields)
        if bool(after[FEED_LATCHED]):
            result.latched.append(feed_id)
            log.error("feed %d LATCHED Invalid in tx %s: a round moved beyond maxMoveBps from %d (anchor round %d); "
                      "it refuses every price until governance calls resolveFeed(%d)", feed_id, tx_hash,
                      int(after[FEED_LAST_PRICE]), int(after[FEED_LAST_ROUND]), feed_id, extra=fields)
