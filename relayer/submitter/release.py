"""Deferred deposits: the hub's inflow limit queues deposits beyond its bucket; a deposit route's
submitter ticks credit them (`releaseDeferred`) when the bucket allows. Permissionless: any
submitter may do it, and competing ones are harmless (a release with nothing left to credit is
refused by simulation and skipped). Runs under the route's lease, after its delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.chain.client import ChainClient
from relayer.chain.deferred import spoke_queues
from relayer.chain.sender import TxRequest, TxSender
from relayer.deployment import Deployment
from relayer.errors import CallRevertedError
from relayer.submitter.reverts import describe_revert
from relayer.types import ChainId, RouteId

log = logging.getLogger(__name__)

RELEASE_CHECK_S = 3.0
"""How often a deposit route's tick looks for deferred deposits to release (a few hub calls)."""
RELEASE_MAX_ENTRIES = 100
"""Most queued deposits one `releaseDeferred` credits (at most ~65k gas each: well inside a hub block)."""


class DeferredReleases:
    """Releases a spoke's deferred deposits on the hub, at most every RELEASE_CHECK_S per route."""

    def __init__(
        self,
        deployment: Deployment,
        clients: Mapping[int, ChainClient],
        sender: Callable[[ChainId], TxSender],
        dest_contract: Callable[[RouteId], Contract],
    ) -> None:
        self.deployment = deployment
        self.clients = clients
        self.sender = sender
        self.dest_contract = dest_contract
        self._checked: dict[RouteId, float] = {}

    def due(self, route: RouteId) -> bool:
        """Whether to look at the route's deferred deposits now (at most every RELEASE_CHECK_S)."""
        now = time.monotonic()
        if now - self._checked.get(route, float("-inf")) < RELEASE_CHECK_S:
            return False
        self._checked[route] = now
        return True

    def release(self, route: RouteId) -> dict[str, str]:
        """Credit the deposits the hub queued from this route's spoke, per asset, when the bucket
        allows; returns asset -> tx hash of each `releaseDeferred` sent."""
        hub = self.clients[route.dest_chain_id]
        dest = self.dest_contract(route)
        out: dict[str, str] = {}
        for queue in spoke_queues(hub, self.deployment, route.source_chain_id, waiting_only=True):
            if not queue.releasable:
                continue
            fn = dest.functions.releaseDeferred(route.source_chain_id, queue.asset_id, RELEASE_MAX_ENTRIES)
            sender = self.sender(ChainId(route.dest_chain_id))
            request = TxRequest.call(fn)
            try:
                fn.call({"from": sender.address})
                request = replace(request, gas=sender.estimate_gas(request))
            except (ContractCustomError, ContractLogicError, CallRevertedError) as err:
                log.info("route %s: release of deferred %s skipped: %s", route, queue.asset, describe_revert(err))
                continue
            sent = sender.send(request)
            if sent.status != 1:  # raced by another releaser: the next check sees the new state
                log.warning("route %s: release of deferred %s reverted in %s", route, queue.asset, sent.tx_hash)
                continue
            log.info("route %s: released deferred %s deposits in %s", route, queue.asset, sent.tx_hash,
                     extra={"route": str(route), "tx_hash": sent.tx_hash})
            out[queue.asset] = sent.tx_hash
        return out
