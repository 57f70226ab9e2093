"""PriceOracle: aggregator and signed-report feeds, bounds, staleness and the freshness policy."""

import brownie
import pytest
from brownie import chain
from margin_helpers import E18, ORACLE_SIGNER_KEYS, quorum_report, reverts_with, sorted_signers

ETH = 1
SIGNED = 7
HEARTBEAT = 3600
MIN_P, MAX_P = 1 * E18, 1_000_000 * E18
MAX_MOVE = 2_000  # 20 %
OK, STALE, INVALID, SEQUENCER_DOWN = 0, 1, 2, 3


@pytest.fixture(scope="module")
def agg_feed(oracle, eth_agg, gov):
    oracle.setAggregatorFeed(ETH, eth_agg, HEARTBEAT, MIN_P, MAX_P, MAX_MOVE, {"from": gov})
    return ETH


@pytest.fixture(scope="module")
def signers(oracle, gov):
    pairs = sorted_signers(ORACLE_SIGNER_KEYS[:3])
    oracle.setSigners([a for a, _ in pairs], 2, {"from": gov})
    oracle.setSignedFeed(SIGNED, HEARTBEAT, MIN_P, MAX_P, MAX_MOVE, {"from": gov})
    return pairs


def report(oracle, pairs, price, round_id, ts=None):
    """submitReport arguments for SIGNED, signed by `pairs` (ascending)."""
    ts = ts if ts is not None else chain[-1].timestamp
    return quorum_report(pairs, chain.id, oracle.address, SIGNED, round_id, price, ts)


# ---------------------------------------------------------------- aggregator feeds
def test_aggregator_price_is_normalised_to_1e18(oracle, eth_agg, agg_feed):
    eth_agg.push(2_000 * 10**8)
    price, updated, status = oracle.getPrice(ETH)
    assert price == 2_000 * E18 and status == OK
    assert oracle.freshPrice(ETH) == 2_000 * E18


def test_aggregator_price_turns_stale_after_heartbeat(oracle, eth_agg, agg_feed):
    eth_agg.push(2_000 * 10**8)
    chain.sleep(HEARTBEAT + 1)
    chain.mine()
    price, _, status = oracle.getPrice(ETH)
    assert price == 2_000 * E18 and status == STALE  # last good price is still reported
    with reverts_with("OraclePriceStale"):
        oracle.freshPrice(ETH)


@pytest.mark.parametrize("answer", [0, -5 * 10**8, 10**8 // 2, 2_000_000 * 10**8])
def test_aggregator_answer_outside_bounds_is_invalid(oracle, eth_agg, agg_feed, answer):
    eth_agg.push(answer)
    price, _, status = oracle.getPrice(ETH)
    assert (price, status) == (0, INVALID)
    with reverts_with("OraclePriceInvalid"):
        oracle.freshPrice(ETH)


def test_feed_of_reads_back_the_packed_feed(oracle, eth_agg, agg_feed, gov):
    """Stored in four slots, read back as the 13-field `Feed` tuple the keeper and SDK index."""
    eth_agg.push(2_000 * 10**8)
    oracle.syncFeed(ETH)
    round_id, _, _, updated, _ = eth_agg.latestRoundData()
    assert tuple(oracle.feedOf(ETH)) == (1, 8, MAX_MOVE, HEARTBEAT, eth_agg.address, MIN_P, MAX_P, 2_000 * E18,
                                         updated, round_id, False, 0, 0)
    oracle.setAggregatorFeed(ETH, eth_agg, HEARTBEAT, MIN_P, 2**128 - 1, MAX_MOVE, {"from": gov})  # the largest max
    assert oracle.feedOf(ETH)["maxPrice"] == 2**128 - 1


def test_aggregator_round_from_the_future_is_invalid(oracle, eth_agg, agg_feed):
    eth_agg.pushAt(2_000 * 10**8, chain.time() + 1_000)
    assert tuple(oracle.getPrice(ETH))[2] == INVALID


def test_aggregator_move_beyond_bound_keeps_refusing_until_governance_resolves(oracle, eth_agg, agg_feed, gov):
    eth_agg.push(2_000 * 10**8)
    oracle.syncFeed(ETH)  # anchor: round 1 at 2,000
    eth_agg.push(1_500 * 10**8)  # -25 % > 20 %
    assert tuple(oracle.getPrice(ETH))[0::2] == (2_000 * E18, INVALID)  # last good price, Invalid
    eth_agg.push(1_300 * 10**8)  # -13.3 % from the previous round: the jump still lies behind it
    assert tuple(oracle.getPrice(ETH))[0::2] == (2_000 * E18, INVALID)
    oracle.syncFeed(ETH)  # anyone: the anchor stays before the jump and the feed latches
    assert oracle.feedOf(ETH)["latched"]
    for _ in range(6):  # the latch outlives the pairwise window
        eth_agg.push(1_300 * 10**8)
    assert tuple(oracle.getPrice(ETH))[0::2] == (2_000 * E18, INVALID)
    with reverts_with("OraclePriceInvalid"):
        oracle.freshPrice(ETH)
    with reverts_with("AccessControlUnauthorizedAccount"):
        oracle.resolveFeed(ETH, {"from": brownie.accounts[5]})
    oracle.resolveFeed(ETH, {"from": gov})
    assert tuple(oracle.getPrice(ETH))[0::2] == (1_300 * E18, OK)


def test_aggregator_round_price_marks_a_jump_round_invalid(oracle, eth_agg, agg_feed):
    eth_agg.push(2_000 * 10**8)
    eth_agg.push(2_100 * 10**8)
    eth_agg.push(3_000 * 10**8)
    _, at1, _, _ = oracle.roundPrice(ETH, 1)
    price, at2, prev, valid = oracle.roundPrice(ETH, 2)
    assert (price, prev, valid) == (2_100 * E18, at1, True)
    assert oracle.roundPrice(ETH, 3)[3] is False


def test_aggregator_round_after_an_unlatched_jump_is_not_valid(oracle, eth_agg, agg_feed, gov):
    """A jump nobody latched: the next round at the jumped level passes the pairwise check but not
    the walk from the last good price, so `roundPrice` (delayed-order settlement) agrees with
    `getPrice` (Invalid) until governance resolves the feed."""
    eth_agg.push(2_000 * 10**8)
    oracle.syncFeed(ETH)  # anchor: round 1 at 2,000
    eth_agg.push(1_500 * 10**8)  # -25 % > 20 %, not latched
    eth_agg.push(1_500 * 10**8)  # 0 % from the round before
    assert tuple(oracle.getPrice(ETH))[0::2] == (2_000 * E18, INVALID)
    _, at2, _, _ = oracle.roundPrice(ETH, 2)
    assert tuple(oracle.roundPrice(ETH, 3))[0::2] == (1_500 * E18, at2)  # price and previous time ...
    assert oracle.roundPrice(ETH, 3)[3] is False  # ... but not valid
    assert oracle.roundPrice(ETH, 1)[3] is True  # the anchor itself keeps its rule
    oracle.resolveFeed(ETH, {"from": gov})  # governance takes the latest round as the anchor
    assert oracle.roundPrice(ETH, 3)[3] is True
    assert tuple(oracle.getPrice(ETH))[0::2] == (1_500 * E18, OK)


def test_aggregator_round_price_agrees_with_get_price_round_by_round(oracle, eth_agg, agg_feed):
    """After every push `roundPrice(latest).valid` is `getPrice` not Invalid: small moves far past the
    anchor stay valid (the walk covers the last MAX_WALK rounds), a jump is not valid at its round nor
    while it lies within the walk behind a round (keepers `syncFeed` to latch it for good)."""
    eth_agg.push(2_000 * 10**8)
    oracle.syncFeed(ETH)
    views = []
    for usd in (2_100, 2_200, 2_150, 2_250, 2_300, 2_400, 2_350, 1_800, 1_800, 1_810, 1_820, 1_830, 1_840):
        eth_agg.push(usd * 10**8)
        latest = eth_agg.latestRound()
        valid = oracle.roundPrice(ETH, latest)[3]
        assert valid == (tuple(oracle.getPrice(ETH))[2] == OK)
        views.append(valid)
    assert views == [True] * 7 + [False] * 4 + [True] * 2  # -23 % at 1,800: Invalid for MAX_WALK rounds


def test_sequencer_down_and_grace_period_give_sequencer_down(oracle, eth_agg, agg_feed, gov, MockAggregatorV3):
    seq = MockAggregatorV3.deploy(0, {"from": gov})
    seq.push(0)
    eth_agg.push(2_000 * 10**8)
    oracle.setSequencerFeed(seq, 600, {"from": gov})
    assert tuple(oracle.getPrice(ETH))[2] == SEQUENCER_DOWN and not oracle.sequencerOk()  # restart within grace
    chain.sleep(601)
    eth_agg.push(2_000 * 10**8)
    assert tuple(oracle.getPrice(ETH))[2] == OK and oracle.sequencerOk()
    seq.push(1)  # down
    assert tuple(oracle.getPrice(ETH))[0::2] == (2_000 * E18, SEQUENCER_DOWN)
    with reverts_with("OracleSequencerDown"):
        oracle.freshPrice(ETH)
    with reverts_with("OracleSequencerConfigInvalid"):
        oracle.setSequencerFeed(seq, 0, {"from": gov})


def test_unknown_feed_reverts(oracle):
    with reverts_with("OracleFeedUnknown"):
        oracle.getPrice(99)


@pytest.mark.parametrize(
    "heartbeat,lo,hi,move",
    [(0, MIN_P, MAX_P, MAX_MOVE), (HEARTBEAT, 0, MAX_P, MAX_MOVE), (HEARTBEAT, MAX_P, MIN_P, MAX_MOVE),
     (HEARTBEAT, MIN_P, MAX_P, 0), (HEARTBEAT, MIN_P, MAX_P, 10_001), (HEARTBEAT, MIN_P, 2**128, MAX_MOVE)],
)
def test_feed_config_rejects_invalid_parameters(oracle, eth_agg, gov, heartbeat, lo, hi, move):
    with reverts_with("OracleFeedConfigInvalid"):
        oracle.setAggregatorFeed(ETH, eth_agg, heartbeat, lo, hi, move, {"from": gov})
    with reverts_with("OracleFeedConfigInvalid"):
        oracle.setSignedFeed(ETH, heartbeat, lo, hi, move, {"from": gov})


def test_feed_config_rejects_zero_aggregator(oracle, gov):
    with reverts_with("OracleFeedConfigInvalid"):
        oracle.setAggregatorFeed(ETH, brownie.ZERO_ADDRESS, HEARTBEAT, MIN_P, MAX_P, MAX_MOVE, {"from": gov})


def test_governance_functions_need_governor(oracle, eth_agg, accounts):
    stranger = accounts[5]
    with reverts_with("AccessControlUnauthorizedAccount"):
        oracle.setAggregatorFeed(ETH, eth_agg, HEARTBEAT, MIN_P, MAX_P, MAX_MOVE, {"from": stranger})
    with reverts_with("AccessControlUnauthorizedAccount"):
        oracle.setSignedFeed(ETH, HEARTBEAT, MIN_P, MAX_P, MAX_MOVE, {"from": stranger})
    with reverts_with("AccessControlUnauthorizedAccount"):
        oracle.setSigners([stranger], 1, {"from": stranger})


# ---------------------------------------------------------------- signed reports
def test_signed_feed_without_reports_is_invalid(oracle, signers):
    assert tuple(oracle.getPrice(SIGNED))[2] == INVALID


def test_signed_report_stores_its_price_round_and_timestamp(oracle, signers):
    now = chain[-1].timestamp
    tx = oracle.submitReport(*report(oracle, signers[:2], 2_000 * E18, 1, ts=now - 10))
    assert tx.events["PriceReported"]["price"] == 2_000 * E18
    assert tuple(oracle.getPrice(SIGNED)) == (2_000 * E18, now - 10, OK)
    assert tuple(oracle.roundPrice(SIGNED, 1)) == (2_000 * E18, now - 10, 0, True)


def test_signed_report_with_more_signers_than_quorum_is_the_same_price(oracle, signers):
    # the submitter picks no median: every signature covers the same price
    oracle.submitReport(*report(oracle, signers, 2_000 * E18, 1))
    assert tuple(oracle.getPrice(SIGNED))[0] == 2_000 * E18


def test_signed_report_below_threshold_rejected(oracle, signers):
    with reverts_with("OracleReportQuorumNotMet"):
        oracle.submitReport(*report(oracle, signers[:1], 1_000 * E18, 1))


def test_signed_report_from_unknown_signer_rejected(oracle, signers):
    outsider = sorted_signers(ORACLE_SIGNER_KEYS[3:4])
    pairs = sorted(signers[:1] + outsider, key=lambda p: int(p[0], 16))
    with reverts_with("OracleReportSignerUnknown"):
        oracle.submitReport(*report(oracle, pairs, 1_000 * E18, 1))


def test_signed_report_duplicate_or_unsorted_signers_rejected(oracle, signers):
    with reverts_with("OracleReportSignersNotAscending"):
        oracle.submitReport(*report(oracle, [signers[0], signers[0]], 1_000 * E18, 1))
    with reverts_with("OracleReportSignersNotAscending"):
        oracle.submitReport(*report(oracle, [signers[1], signers[0]], 1_000 * E18, 1))


def test_signed_report_signatures_over_another_price_do_not_verify(oracle, signers):
    feed, rnd, _, ts, sigs = report(oracle, signers[:2], 1_000 * E18, 1)
    with pytest.raises(brownie.exceptions.VirtualMachineError) as exc:
        oracle.submitReport(feed, rnd, 1_010 * E18, ts, sigs)
    assert exc.value.revert_msg.startswith(("OracleReportSignerUnknown", "OracleReportSignersNotAscending"))


def test_signed_report_timestamps_and_rounds_strictly_increase(oracle, signers):
    now = chain[-1].timestamp
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1, ts=now + 100))
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1, ts=now - HEARTBEAT - 10))
    newer = report(oracle, signers[:2], 1_000 * E18, 2, ts=now - 5)
    older = report(oracle, signers[:2], 1_010 * E18, 1, ts=now - 8)
    oracle.submitReport(*newer)
    with reverts_with("OracleReportRoundInvalid"):
        oracle.submitReport(*newer)  # replay
    with reverts_with("OracleReportRoundInvalid"):
        oracle.submitReport(*older)  # an older report can no longer land
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 3, ts=now - 6))  # newer round, older time
    assert tuple(oracle.getPrice(SIGNED))[:2] == (1_000 * E18, now - 5)  # the newest report's time is stored


def test_signed_report_outside_bounds_rejected(oracle, signers):
    with reverts_with("OracleReportPriceOutOfBounds"):
        oracle.submitReport(*report(oracle, signers[:2], MAX_P + 1, 1))


def test_refused_move_latches_invalid_until_a_later_report_confirms(oracle, signers):
    oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1, ts=chain[-1].timestamp - 1))
    chain.sleep(10)
    chain.mine()
    tx = oracle.submitReport(*report(oracle, signers[:2], 1_300 * E18, 2))
    assert "PriceRefused" in tx.events
    # the old price is NOT served as fresh: the feed is Invalid at its last good price
    assert tuple(oracle.getPrice(SIGNED))[0::2] == (1_000 * E18, INVALID)
    assert oracle.roundPrice(SIGNED, 2)[3] is False
    with reverts_with("OraclePriceInvalid"):
        oracle.freshPrice(SIGNED)
    chain.sleep(10)
    chain.mine()
    oracle.submitReport(*report(oracle, signers[:2], 1_290 * E18, 3))  # confirms the new level
    assert tuple(oracle.getPrice(SIGNED))[0::2] == (1_290 * E18, OK)


def test_governance_resolves_a_latched_signed_feed(oracle, signers, gov):
    oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1, ts=chain[-1].timestamp - 1))
    with reverts_with("OracleFeedNotLatched"):
        oracle.resolveFeed(SIGNED, {"from": gov})
    chain.sleep(5)
    chain.mine()
    oracle.submitReport(*report(oracle, signers[:2], 1_300 * E18, 2))
    oracle.resolveFeed(SIGNED, {"from": gov})
    assert tuple(oracle.getPrice(SIGNED))[0::2] == (1_300 * E18, OK)


def test_move_bound_applies_only_against_fresh_price(oracle, signers):
    oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1, ts=chain[-1].timestamp - 1))
    chain.sleep(HEARTBEAT + 1)
    chain.mine()
    oracle.submitReport(*report(oracle, signers[:2], 1_300 * E18, 2))  # after an outage
    assert tuple(oracle.getPrice(SIGNED))[0::2] == (1_300 * E18, OK)


def test_reports_to_an_aggregator_feed_rejected(oracle, agg_feed, signers):
    with reverts_with("OracleFeedNotSigned"):
        oracle.submitReport(ETH, 1, E18, chain[-1].timestamp, [])


@pytest.mark.parametrize("case", ["empty", "zero_threshold", "threshold_above_size", "unsorted", "zero_address"])
def test_signer_set_rejects_invalid(oracle, gov, case):
    a = [p for p, _ in sorted_signers(ORACLE_SIGNER_KEYS[:3])]
    args = {
        "empty": ([], 1),
        "zero_threshold": (a, 0),
        "threshold_above_size": (a, 4),
        "unsorted": ([a[1], a[0]], 1),
        "zero_address": ([brownie.ZERO_ADDRESS] + a, 1),
    }[case]
    with reverts_with("OracleSignerSetInvalid"):
        oracle.setSigners(*args, {"from": gov})


def test_signer_rotation_revokes_old_signers(oracle, signers, gov):
    new = sorted_signers(ORACLE_SIGNER_KEYS[3:5])
    oracle.setSigners([a for a, _ in new], 2, {"from": gov})
    assert not oracle.isSigner(signers[0][0]) and oracle.isSigner(new[0][0])
    with reverts_with("OracleReportSignerUnknown"):
        oracle.submitReport(*report(oracle, signers[:2], 1_000 * E18, 1))
