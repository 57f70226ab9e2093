"""Shared helpers of the margin contract tests: revert matching, signed price reports, units."""

from contextlib import contextmanager

import pytest
from brownie.exceptions import VirtualMachineError
from eth_account import Account
from eth_utils import keccak

from relayer.proofs.price_report import sign_report

E18 = 10**18
ORACLE_SIGNER_KEYS = [keccak(text=f"xmargin-test-oracle-signer-{i}") for i in range(5)]
MARGIN_ROLE = keccak(text="MARGIN_ROLE")
GOVERNOR_ROLE = keccak(text="GOVERNOR_ROLE")


@contextmanager
def reverts_with(error: str):
    """Expect a revert whose decoded custom error (``Name: args``) starts with `error`."""
    with pytest.raises(VirtualMachineError) as exc:
        yield exc
    msg = exc.value.revert_msg or ""
    assert msg == error or msg.startswith(error + ":"), f"reverted with {msg!r}, expected {error!r}"


def sorted_signers(keys):
    """(address, key) pairs in ascending address order, as the oracle requires."""
    pairs = [(Account.from_key(k).address, k) for k in keys]
    return sorted(pairs, key=lambda p: int(p[0], 16))


def quorum_report(pairs, chain_id: int, oracle: str, feed_id: int, round_id: int, price: int, timestamp: int):
    """submitReport arguments: one (feed, round, price, timestamp) signed by every (address, key) pair
    (pass them in ascending address order)."""
    sigs = [sign_report(k, chain_id, oracle, feed_id, round_id, price, timestamp) for _, k in pairs]
    return (feed_id, round_id, price, timestamp, sigs)


MAX_UINT = 2**256 - 1


def _system_of(market):
    """The parts `margin_support.settle_pending` needs (the market's oracle and feed aggregator),
    found from the market itself, so tests holding only a market can trade."""
    from brownie import MockAggregatorV3, PriceOracle  # project containers, loaded at test time

    oracle = PriceOracle.at(market.oracle())
    feed_id = market.feedId()
    agg = MockAggregatorV3.at(oracle.feedOf(feed_id)[4])
    return type("MarketSystem", (), {"oracle": oracle, "aggs": {feed_id: agg}})


def open_position(market, account, size_delta: int):
    """Changes `account`'s position in `market` by `size_delta` (base units) at any price, through a
    delayed order: commit, then settle at the next aggregator round (the trader settles it himself,
    so the keeper reward nets to 0). A fill refused by a cap or margin rule raises its error.

    Every settlement / vault / liquidation-economics test opens and changes positions through
    this one function."""
    from margin_support import settle_pending

    limit = MAX_UINT if size_delta > 0 else 0
    market.commitOrder(size_delta, limit, {"from": account})
    return settle_pending(_system_of(market), market, account)


def close_position(market, account):
    """Closes `account`'s whole position in `market` (a delayed order, see `open_position`)."""
    size = market.positions(account)[0]
    return open_position(market, account, -size)
