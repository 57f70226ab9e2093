"""The keeper's auto-deleveraging order (relayer.margin.adl): profitable positions only, highest
unrealised PnL x leverage first, unbounded leverage first of all, deterministic ties."""

from relayer.margin.adl import AdlCandidate, adl_score, leverage, rank

E18 = 10**18


def pos(account: str, pnl: int, notional: int, equity: int, size: int = E18, market: str = "ETH-USD") -> AdlCandidate:
    return AdlCandidate(market=market, account=account, size=size, pnl=pnl * E18, notional=notional * E18,
                        equity=equity * E18)


def test_leverage_is_notional_over_equity_and_unbounded_without_equity() -> None:
    assert leverage(pos("a", 10, 5_000, 1_000)) == 5 * E18
    assert leverage(pos("a", 10, 5_000, 0)) is None
    assert leverage(pos("a", 10, 5_000, -3)) is None


def test_score_is_pnl_times_leverage_and_only_for_winners() -> None:
    assert adl_score(pos("a", 100, 5_000, 1_000)) == 500 * E18  # $100 at 5x
    assert adl_score(pos("a", 0, 5_000, 1_000)) is None  # flat PnL: not deleveraged
    assert adl_score(pos("a", -50, 5_000, 1_000)) is None  # losers are never deleveraged
    assert adl_score(pos("a", 100, 0, 1_000, size=0)) is None  # no position


def test_rank_orders_by_pnl_times_leverage_not_by_pnl_alone() -> None:
    big_low_lev = pos("0xA", 300, 1_000, 1_000)  # $300 at 1x: score 300
    small_high_lev = pos("0xB", 100, 5_000, 1_000)  # $100 at 5x: score 500
    loser = pos("0xC", -500, 10_000, 1_000)
    middle = pos("0xD", 200, 2_000, 1_000)  # $200 at 2x: score 400
    assert [c.account for c in rank([big_low_lev, loser, middle, small_high_lev])] == ["0xB", "0xD", "0xA"]


def test_unbounded_leverage_goes_first_and_ties_are_deterministic() -> None:
    underwater = pos("0xE", 10, 1_000, 0)  # profitable here, no equity left overall
    a = pos("0xaa", 100, 2_000, 1_000)
    b = pos("0xBB", 100, 2_000, 1_000)  # same score as a: the account decides, case-insensitively
    b_btc = pos("0xaa", 100, 2_000, 1_000, market="BTC-USD")
    ranked = rank([b, a, underwater, b_btc])
    assert [(c.account, c.market) for c in ranked] == [("0xE", "ETH-USD"), ("0xaa", "BTC-USD"), ("0xaa", "ETH-USD"),
                                                       ("0xBB", "ETH-USD")]
    assert rank(list(reversed(ranked))) == ranked


def test_equal_scores_prefer_the_larger_profit() -> None:
    more = pos("0x2", 200, 1_000, 1_000)  # $200 at 1x
    less = pos("0x1", 100, 2_000, 1_000)  # $100 at 2x
    assert [c.account for c in rank([less, more])] == ["0x2", "0x1"]
