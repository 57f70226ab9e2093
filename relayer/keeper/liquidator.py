"""Find unhealthy accounts with paged lens eth_calls and liquidate the largest shortfall first, each
with gas sized from an estimate, many in flight at once (relayer.keeper.inflight); tolerate
competing keepers; an out-of-gas revert is its own error.

Loads in the brownie environment (the stress bench and the contract tests use it): it imports
web3, pydantic and relayer.chain.abi only, never the settings or the store."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from relayer.chain.abi import decode_error, revert_data
from relayer.errors import (
    KeeperError,
    LockUnavailableError,
    NonceTakenError,
    TransactionError,
    TransactionStuckError,
)
from relayer.keeper.deleverager import Deleverager
from relayer.keeper.feeds import FeedSyncer
from relayer.keeper.inflight import BlockBudget, FlightCaps, Landed, Pipeline, SendPipeline
from relayer.keeper.outcome import KeeperRound
from relayer.keeper.settler import OrderSettler
from relayer.keeper.tracker import AccountTracker

log = logging.getLogger(__name__)

# Reverts that mean "someone else got there first" (or prices moved): skip, never retry blindly.
BENIGN_ERRORS = frozenset({"LiquidationAccountHealthy", "LiquidationPricesNotFresh"})
LIQUIDATOR_SHORT = "LiquidatorBelowInitialMargin"
"""The keeper's own ledger balance cannot pay for the collateral: it still closes positions."""
LENS_PAGE = 100
"""Accounts per `MarginLens.scan` eth_call: ~120k gas each with two markets (bench/margin_gas.py),
so a page stays far below the common 50M eth_call cap even for accounts holding many markets."""
LIQUIDATION_GAS = 3_000_000
"""Default gas of a `send` given no limit (order settlements); liquidations size theirs."""
GAS_MARGIN_PCT = 125
GAS_MARGIN_FIXED = 50_000
"""A liquidation's gas limit: its eth_estimateGas x 1.25 + 50k (state may move before it lands)."""
MAX_LIQUIDATION_GAS = 25_000_000
"""Never above this (a 30M hub block must still take it)."""
OUT_OF_GAS_SHARE = 0.9
"""A reverted liquidation that used this share of its limit or more ran out of gas (the 1/64 kept
back at each nested call leaves a few % unused); a competitor's revert uses at most 1/1.25 of a
limit sized from the estimate."""


class Send(Protocol):
    """Sends a bound contract call with a gas limit (None: the sender's default) and waits for it:
    (tx hash, receipt status). The relayer's keeper signs with its key through
    relayer.chain.sender (relayer.context builds it); the stress bench uses an unlocked node
    account (bench/_unlocked.py)."""

    def __call__(self, call: Any, gas: int | None = None, /) -> tuple[str, int]: ...


Claim = Callable[[str], AbstractContextManager[object]]
"""Holds one account's liquidation for this keeper while it simulates and sends; raises
LockUnavailableError when another keeper holds it (relayer.context: a Redis lease per account),
so keepers sharing a store never send the same liquidation twice."""


def _no_claim(account: str) -> AbstractContextManager[object]:
    """A lone keeper claims nothing."""
    return nullcontext(account)


@dataclass
class _Prepared:
    """One account claimed and simulated: its call and gas, or why not (claim None: another keeper's)."""

    account: str
    claim: ExitStack | None
    call: Any
    gas: int
    estimate: int
    error: str


@dataclass
class _Flight:
    """One account's liquidation from its claim to its receipt."""

    account: str
    call: Any
    gas: int
    estimate: int
    """The simulation's gas: what the transaction takes of its block (a node returns the rest)."""
    claim: ExitStack
    """Holds the account's lease until the receipt is in."""
    handle: Any = None


class Keeper:
    """One keeper: `run_once` = refresh accounts, batch health check, simulate, send."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, lens: Any, module: Any,
                 send: Send | None = None, max_repay: int = 2**256 - 1, settler: OrderSettler | None = None,
                 deleverager: Deleverager | None = None, claim: Claim = _no_claim,
                 feeds: FeedSyncer | None = None, pipeline: Pipeline | None = None,
                 caps: FlightCaps | None = None) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.lens = lens
        self.module = module
        self.max_repay = max_repay
        if pipeline is None:
            if send is None:
                raise ValueError("a keeper needs a pipeline or a send")
            pipeline = SendPipeline(w3, send)
        self._pipeline: Pipeline = pipeline
        """Liquidations go through it; without one, `send` (blocking) sends them one at a time."""
        self.caps = caps or FlightCaps()
        self.settler = settler
        self.deleverager = deleverager
        self.feeds = feeds
        self._claim = claim

    def unhealthy_accounts(self) -> tuple[int, list[str]]:
        """(accounts checked, liquidatable accounts, largest shortfall first): one `MarginLens.scan`
        eth_call per LENS_PAGE accounts, each given only its page (calldata stays a page long, not
        the whole book's: 320 KB of addresses per call at 10,000 accounts). Pages go one after another:
        scanning them on several threads did not shorten the scan (anvil, 10,000 accounts: 2.07 s
        against 1.9 s)."""
        self.tracker.refresh()
        accounts = sorted(self.tracker.accounts)
        found: list[tuple[int, str]] = []
        for start in range(0, len(accounts), LENS_PAGE):
            page, shortfalls, _ = self.lens.functions.scan(accounts[start:start + LENS_PAGE], 0, LENS_PAGE).call()
            found += [(int(gap), str(a)) for a, gap in zip(page, shortfalls, strict=True)]
        found.sort(key=lambda f: (-f[0], f[1]))
        return len(accounts), [a for _, a in found]

    def gas_limit(self, call: Any) -> int:
        """The estimate with its margin, capped at MAX_LIQUIDATION_GAS."""
        return self._sized(call)[1]

    def _sized(self, call: Any) -> tuple[int, int]:
        """(eth_estimateGas, the gas limit from it: with its margin, capped at MAX_LIQUIDATION_GAS)."""
        estimate = int(call.estimate_gas({"from": self.sender}))
        return estimate, min(estimate * GAS_MARGIN_PCT // 100 + GAS_MARGIN_FIXED, MAX_LIQUIDATION_GAS)

    def _revert_name(self, err: Exception) -> str:
        """Custom error name of a simulated revert, by the liquidation module's ABI ('' if unknown)."""
        error = decode_error(revert_data(err), [self.module.abi])
        return error.name if error is not None else ""

    def _prepare(self, account: str) -> tuple[Any, int, int, str]:
        """(call to send or None, its gas limit, its estimate, revert name): the liquidation with
        max_repay, or positions only when the keeper cannot afford the collateral but the account
        still has positions. The estimate is the simulation (it reverts exactly as the call would)."""
        call = self.module.functions.liquidate(account, self.max_repay)
        try:
            estimate, limit = self._sized(call)
            return call, limit, estimate, ""
        except (ContractCustomError, ContractLogicError, Web3RPCError, ValueError) as err:
            name = self._revert_name(err) or str(err)
        if name != LIQUIDATOR_SHORT or not self.lens.functions.healthOf([account]).call()[0][5]:
            return None, 0, 0, name
        positions_only = self.module.functions.liquidate(account, 0)
        try:
            estimate, limit = self._sized(positions_only)
            return positions_only, limit, estimate, ""
        except (ContractCustomError, ContractLogicError, Web3RPCError, ValueError) as err:
            return None, 0, 0, self._revert_name(err) or str(err)

    def liquidate(self, checked: int, unhealthy: list[str]) -> KeeperRound:
        """Liquidates `unhealthy` in order with up to `caps.max_in_flight` transactions in flight and
        at most `caps.block_gas_share` of a hub block's gas sent per block: claim the account (its
        lease stays held until the receipt, so another keeper never sends it too), simulate and size
        the gas (`caps.prepare_ahead` accounts at once on worker threads), broadcast in order without
        waiting; collect receipts oldest first (one sender's transactions are mined in nonce order).
        A simulation that reverts benignly (a competitor first) is skipped, another revert recorded
        in `failed`; a mined revert is classified (out of gas, or replayed for its reason) and never
        retried in this round; a lost transaction re-syncs the nonce from the chain."""
        result = KeeperRound(checked=checked, unhealthy=len(unhealthy))
        queue = deque(unhealthy)
        flight: deque[_Flight] = deque()
        preparing: deque[Future[_Prepared]] = deque()
        ready: _Flight | None = None
        budget = BlockBudget(self.w3, self.caps.block_gas_share)
        caps = self.caps
        collected = 0.0
        workers = ThreadPoolExecutor(max_workers=caps.prepare_ahead, thread_name_prefix="keeper-prepare")
        try:
            while queue or preparing or flight or ready is not None:
                progressed = False
                # every claim is held from here to its receipt: together they stay within max_in_flight
                while (queue and len(preparing) < caps.prepare_ahead
                       and len(flight) + len(preparing) < caps.max_in_flight):
                    preparing.append(self._prepare_async(workers, queue.popleft()))
                can_send = (ready is not None or bool(preparing)) and len(flight) < caps.max_in_flight
                if not can_send or time.monotonic() - collected >= caps.poll_s:
                    # one receipt look per poll_s while sending: each look is a node round trip
                    progressed = self._collect(flight, result)
                    collected = time.monotonic()
                if ready is None and preparing and preparing[0].done():
                    ready = self._take(preparing.popleft().result(), result)
                    progressed = True
                if ready is not None and len(flight) < caps.max_in_flight and budget.fits(ready.estimate):
                    if self._submit(ready, result):
                        budget.spend(ready.estimate)
                        flight.append(ready)
                        result.peak_in_flight = max(result.peak_in_flight, len(flight))
                    ready = None
                    progressed = True
                if not progressed:
                    if ready is None and preparing:
                        wait([preparing[0]], timeout=caps.poll_s)
                    else:
                        time.sleep(caps.poll_s)
        finally:  # on an error: what is in flight may still land; its leases expire or go now
            workers.shutdown(wait=True, cancel_futures=True)
            for future in preparing:
                claim = None if future.cancelled() or future.exception() else future.result().claim
                if claim is not None:
                    claim.close()
            for item in (*flight, *([ready] if ready is not None else [])):
                item.claim.close()
        return result

    def _prepare_async(self, workers: ThreadPoolExecutor, account: str) -> Future[_Prepared]:
        """`_claim_and_prepare` on a worker thread, or at once on this one when one at a time (an
        error is then raised here, as from a worker's future when it is taken)."""
        if self.caps.prepare_ahead > 1:
            return workers.submit(self._claim_and_prepare, account)
        done: Future[_Prepared] = Future()
        done.set_result(self._claim_and_prepare(account))
        return done

    def _claim_and_prepare(self, account: str) -> _Prepared:
        """Claims one account and prepares its liquidation (any thread: it records nothing); an error
        other than another keeper's claim releases the claim and is raised."""
        claim = ExitStack()
        try:
            claim.enter_context(self._claim(account))
        except LockUnavailableError:
            return _Prepared(account, None, None, 0, 0, "")
        try:
            call, gas, estimate, error = self._prepare(account)
        except BaseException:
            claim.close()
            raise
        return _Prepared(account, claim, call, gas, estimate, error)

    def _take(self, prepared: _Prepared, result: KeeperRound) -> _Flight | None:
        """Records a prepared account in `result`; its flight, or None if another keeper's or not to send."""
        account = prepared.account
        if prepared.claim is None:
            result.skipped_claimed += 1
            log.info("liquidation of %s left to another keeper (its lease is held)", account,
                     extra={"account": account, "sender": self.sender})
            return None
        if prepared.call is None:
            prepared.claim.close()
            if prepared.error in BENIGN_ERRORS:
                result.skipped_benign += 1
            else:
                result.failed[account] = prepared.error
            return None
        return _Flight(account, prepared.call, prepared.gas, prepared.estimate, prepared.claim)

    def _submit(self, item: _Flight, result: KeeperRound) -> bool:
        """Broadcasts a prepared liquidation; a refused broadcast is a failure and re-syncs the nonce."""
        try:
            item.handle = self._pipeline.submit(item.call, item.gas)
        except (TransactionError, Web3RPCError, ValueError) as err:
            item.claim.close()
            result.failed[item.account] = f"send refused: {err}"
            log.warning("liquidation of %s not sent (%s); nonce re-synced from the chain", item.account, err,
                        extra={"account": item.account, "sender": self.sender})
            self._pipeline.resync()
            return False
        result.sent.append(self._pipeline.hash_of(item.handle))
        return True

    def _collect(self, flight: deque[_Flight], result: KeeperRound) -> bool:
        """Records every mined transaction at the front of `flight`; True if any."""
        progressed = False
        while flight:
            item = flight[0]
            try:
                landed = self._pipeline.poll(item.handle)
            except (NonceTakenError, TransactionStuckError) as err:
                flight.popleft().claim.close()
                result.lost.append(item.account)
                log.warning("liquidation of %s lost (%s); nonce re-synced from the chain", item.account, err,
                            extra={"account": item.account, "sender": self.sender})
                self._pipeline.resync()
                progressed = True
                continue
            if landed is None:
                return progressed
            flight.popleft()
            try:
                self._record(item.account, landed, result)
            finally:
                item.claim.close()
            progressed = True
        return progressed

    def _record(self, account: str, landed: Landed, result: KeeperRound) -> None:
        """Classifies one mined liquidation into `result` and logs it."""
        fields = {"account": account, "tx_hash": landed.tx_hash, "sender": self.sender, "gas": landed.gas_limit,
                  "gas_used": landed.gas_used}
        result.gas_used += landed.gas_used
        if landed.status == 1:
            result.liquidated.append(account)
            log.info("liquidated %s in tx %s", account, landed.tx_hash, extra=fields)
        elif landed.gas_used >= landed.gas_limit * OUT_OF_GAS_SHARE:
            result.out_of_gas.append(account)
            log.error("liquidation of %s ran out of gas in tx %s", account, landed.tx_hash, extra=fields)
        else:
            result.reverted += 1
            why = self._prepare(account)[3]
            why = why or "applies now (a state it depended on moved while in flight)"
            result.reverted_by[account] = why
            level = logging.INFO if why in BENIGN_ERRORS else logging.WARNING
            log.log(level, "liquidation of %s reverted on chain in tx %s: %s (not retried this round)", account,
                    landed.tx_hash, why, extra=fields)

    def run_once(self, strict: bool = True) -> KeeperRound:
        """One pass: sync the aggregator feeds (with a feed syncer: a jump latches before anything
        prices at it), settle pending delayed orders (with a settler), refresh accounts, batch health
        check, liquidate every unhealthy account, then (with a deleverager) auto-deleverage while the
        LP vault needs it.
        `strict`: raise KeeperError after the pass if any liquidation or deleverage failed for a
        non-benign reason."""
        feeds = self.feeds.run_once() if self.feeds is not None else None
        orders = self.settler.run_once() if self.settler is not None else None
        result = self.liquidate(*self.unhealthy_accounts())
        if feeds is not None:
            result.feeds_synced, result.feeds_latched = feeds.synced, feeds.latched
            result.reverted += feeds.reverted
            result.failed.update(feeds.failed)
        if orders is not None:
            result.orders_settled, result.orders_cancelled = len(orders.settled), len(orders.cancelled)
        if self.deleverager is not None:
            adl = self.deleverager.run_once()
            result.adl_needed, result.deleveraged = adl.needed, adl.deleveraged
            result.sent += adl.sent
            result.reverted += adl.reverted
            result.failed.update({f"deleverage {k}": v for k, v in adl.failed.items()})
        if strict and result.failed:
            account, reason = next(iter(result.failed.items()))
            raise KeeperError(account, reason)
        return result
