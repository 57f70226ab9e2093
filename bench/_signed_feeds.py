"""Signed-report feeds for the gas benches (issue 10): the oracle's other source kind, where a quorum
of oracle signers pushes each price into the oracle's storage (`PriceOracle.submitReport`) and a read
is two storage slots, against an aggregator feed whose every read asks the aggregator for its latest
round. Switches a bench chain's feeds to signed ones and publishes rounds as reports."""

from __future__ import annotations

from eth_account import Account
from eth_utils import keccak

from relayer.proofs.price_report import sign_report

from _stress_chain import Chain

SIGNER_KEYS = ["0x" + keccak(text=f"xmargin-bench-oracle-signer-{i}").hex() for i in range(3)]
"""Throwaway keys of the bench oracle's 2-of-3 signer set (derived from a public label: not secrets)."""
THRESHOLD = 2
PRICE_SCALE = 10**18


class SignedFeeds:
    """The chain's oracle feeds `feeds` turned into signed feeds with the same heartbeat, bounds and
    move bound as their aggregator configuration; `push` publishes one report per feed."""

    def __init__(self, ch: Chain, feeds: list[int]) -> None:
        self.ch = ch
        self.oracle = ch.c["oracle"]
        self.chain_id = int(ch.w3.eth.chain_id)
        self.rounds = dict.fromkeys(feeds, 0)
        signers = sorted(((Account.from_key(k).address, k) for k in SIGNER_KEYS), key=lambda p: int(p[0], 16))
        self.keys = [k for _, k in signers]
        admin = str(ch.admin)
        ch.send(self.oracle.functions.setSigners([a for a, _ in signers], THRESHOLD), admin)
        for feed in feeds:
            f = self.oracle.functions.feedOf(feed).call()
            heartbeat, min_price, max_price, max_move = int(f[3]), int(f[5]), int(f[6]), int(f[2])
            ch.send(self.oracle.functions.setSignedFeed(feed, heartbeat, min_price, max_price, max_move), admin)

    def push(self, prices: dict[int, float]) -> None:
        """One report per feed at `prices` (feed id -> USD), stamped one second after the last block
        (the chain's clock moves a second first, so every report is newer than the last)."""
        self.ch.advance(1)
        ts = int(self.ch.w3.eth.get_block("latest")["timestamp"])
        oracle = str(self.oracle.address)
        calls = []
        for feed, usd in prices.items():
            self.rounds[feed] += 1
            price, rnd = round(usd * PRICE_SCALE), self.rounds[feed]
            sigs = [sign_report(k, self.chain_id, oracle, feed, rnd, price, ts) for k in self.keys[:THRESHOLD]]
            calls.append((self.oracle.functions.submitReport(feed, rnd, price, ts, sigs), str(self.ch.admin)))
        self.ch.send_all(calls)

    def latest_round(self, feed: int) -> int:
        """The feed's last report's round (what a delayed order settles at)."""
        return self.rounds[feed]
