"""PriceOracle: aggregator and signed-report feeds, bounds, staleness and the freshness policy."""

import brownie
import pytest
from brownie import chain
from margin_helpers import E18, ORACLE_SIGNER_KEYS, reverts_with, sign_report, sorted_signers

ETH = 1
SIGNED = 7
HEARTBEAT = 3600
MIN_P, MAX_P = 1 * E18, 1_000_000 * E18
MAX_MOVE = 2_000  # 20 %
OK, STALE, INVALID = 0, 1, 2


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


def reports(oracle, pairs, prices, ts=None):
    ts = ts if ts is not None else chain[-1].timestamp
    return [
        (p, ts, sign_report(k, chain.id, oracle.address, SIGNED, p, ts)) for (_, k), p in zip(pairs, prices)
    ]


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


def test_aggregator_round_from_the_future_is_invalid(oracle, eth_agg, agg_feed):
    eth_agg.pushAt(2_000 * 10**8, chain.time() + 1_000)
    assert oracle.getPrice(ETH)[2] == INVALID


def test_aggregator_move_beyond_bound_is_invalid_and_within_bound_ok(oracle, eth_agg, agg_feed):
    eth_agg.push(2_000 * 10**8)
    eth_agg.push(1_500 * 10**8)  # -25 % > 20 %
    assert oracle.getPrice(ETH)[2] == INVALID
    eth_agg.push(1_300 * 10**8)  # -13.3 % from the previous round
    price, _, status = oracle.getPrice(ETH)
    assert price == 1_300 * E18 and status == OK


def test_unknown_feed_reverts(oracle):
    with reverts_with("OracleFeedUnknown"):
        oracle.getPrice(99)


@pytest.mark.parametrize(
    "heartbeat,lo,hi,move",
    [(0, MIN_P, MAX_P, MAX_MOVE), (HEARTBEAT, 0, MAX_P, MAX_MOVE), (HEARTBEAT, MAX_P, MIN_P, MAX_MOVE),
     (HEARTBEAT, MIN_P, MAX_P, 0), (HEARTBEAT, MIN_P, MAX_P, 10_001)],
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
    assert oracle.getPrice(SIGNED)[2] == INVALID


def test_signed_reports_store_the_median_and_oldest_timestamp(oracle, signers):
    now = chain[-1].timestamp
    ts = [now - 30, now - 10, now - 20]
    prices = [2_010 * E18, 1_990 * E18, 2_000 * E18]
    reps = [(p, t, sign_report(k, chain.id, oracle.address, SIGNED, p, t)) for (_, k), p, t in zip(signers, prices, ts)]
    tx = oracle.submitReports(SIGNED, reps)
    assert tx.events["PriceReported"]["price"] == 2_000 * E18
    price, updated, status = oracle.getPrice(SIGNED)
    assert (price, updated, status) == (2_000 * E18, now - 30, OK)


def test_signed_reports_even_count_takes_mean_of_middle(oracle, signers):
    oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_000 * E18, 1_100 * E18]))
    assert oracle.getPrice(SIGNED)[0] == 1_050 * E18


def test_signed_reports_below_threshold_rejected(oracle, signers):
    with reverts_with("OracleReportQuorumNotMet"):
        oracle.submitReports(SIGNED, reports(oracle, signers[:1], [1_000 * E18]))


def test_signed_report_from_unknown_signer_rejected(oracle, signers):
    outsider = sorted_signers(ORACLE_SIGNER_KEYS[3:4])
    pairs = sorted(signers[:1] + outsider, key=lambda p: int(p[0], 16))
    with reverts_with("OracleReportSignerUnknown"):
        oracle.submitReports(SIGNED, reports(oracle, pairs, [1_000 * E18] * 2))


def test_signed_reports_duplicate_or_unsorted_signers_rejected(oracle, signers):
    with reverts_with("OracleReportSignersNotAscending"):
        oracle.submitReports(SIGNED, reports(oracle, [signers[0], signers[0]], [1_000 * E18] * 2))
    with reverts_with("OracleReportSignersNotAscending"):
        oracle.submitReports(SIGNED, reports(oracle, [signers[1], signers[0]], [1_000 * E18] * 2))


def test_signed_report_for_another_feed_or_price_does_not_verify(oracle, signers):
    ts = chain[-1].timestamp
    (_, k0), (_, k1) = signers[:2]
    forged = [
        (1_000 * E18, ts, sign_report(k0, chain.id, oracle.address, SIGNED, 1_000 * E18, ts)),
        (9_000 * E18, ts, sign_report(k1, chain.id, oracle.address, SIGNED, 1_000 * E18, ts)),  # price swapped
    ]
    with pytest.raises(brownie.exceptions.VirtualMachineError) as exc:
        oracle.submitReports(SIGNED, forged)
    assert exc.value.revert_msg.startswith(("OracleReportSignerUnknown", "OracleReportSignersNotAscending"))


def test_signed_report_timestamps_rejected_when_future_old_or_replayed(oracle, signers):
    now = chain[-1].timestamp
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_000 * E18] * 2, ts=now + 100))
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_000 * E18] * 2, ts=now - HEARTBEAT - 10))
    reps = reports(oracle, signers[:2], [1_000 * E18] * 2, ts=now - 5)
    oracle.submitReports(SIGNED, reps)
    with reverts_with("OracleReportTimestampInvalid"):
        oracle.submitReports(SIGNED, reps)  # replay


def test_signed_report_outside_bounds_rejected(oracle, signers):
    with reverts_with("OracleReportPriceOutOfBounds"):
        oracle.submitReports(SIGNED, reports(oracle, signers[:2], [MAX_P + 1] * 2))


def test_signed_report_move_bound_applies_only_against_fresh_price(oracle, signers):
    oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_000 * E18] * 2, ts=chain[-1].timestamp - 1))
    chain.sleep(10)
    chain.mine()
    with reverts_with("OracleReportMoveTooLarge"):
        oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_300 * E18] * 2))
    chain.sleep(HEARTBEAT + 1)
    chain.mine()
    oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_300 * E18] * 2))  # after an outage
    assert oracle.getPrice(SIGNED)[0] == 1_300 * E18


def test_reports_to_an_aggregator_feed_rejected(oracle, agg_feed, signers):
    with reverts_with("OracleFeedNotSigned"):
        oracle.submitReports(ETH, [])


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
        oracle.submitReports(SIGNED, reports(oracle, signers[:2], [1_000 * E18] * 2))
