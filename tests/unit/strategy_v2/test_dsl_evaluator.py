"""Allocation semantics per operator, on hand-made series."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.support.strategy_v2.dsl_helpers import InMemoryMarketData, frame, random_walk_market
from the_alchemiser.shared.market_data import MissingMarketDataError
from the_alchemiser.strategy_v2.dsl import (
    DslEvaluationError,
    Market,
    StrategyResult,
    evaluate_on,
    evaluate_range,
    evaluate_strategy,
    parse_strategy,
)
from the_alchemiser.strategy_v2.dsl.evaluator import Evaluator

END = date(2024, 6, 28)  # a Friday


def flat(*symbols: str, days: int = 30, price: float = 100.0) -> dict[str, pd.DataFrame]:
    return {s: frame(np.full(days, price)) for s in symbols}


def run(body: str, bars: dict[str, pd.DataFrame], as_of: date = END) -> StrategyResult:
    strategy = parse_strategy(f'(defsymphony "T" {{}} {body})')
    return evaluate_strategy(strategy, InMemoryMarketData(bars), as_of)


def test_asset() -> None:
    assert run('(asset "A" "Long name")', flat("A")).weights == {"A": 1.0}


def test_weight_equal_preserves_inner_weights() -> None:
    result = run('(weight-equal [(asset "A") (weight-specified 0.8 (asset "B") 0.2 (asset "C"))])', flat("A", "B", "C"))
    assert result.weights == pytest.approx({"A": 0.5, "B": 0.4, "C": 0.1})


def test_same_symbol_twice_is_summed() -> None:
    result = run('(weight-equal [(asset "A") (asset "A") (asset "B")])', flat("A", "B"))
    assert result.weights == pytest.approx({"A": 2 / 3, "B": 1 / 3})


def test_weight_specified_fractions_and_percents() -> None:
    assert run('(weight-specified 0.75 (asset "A") 0.25 (asset "B"))', flat("A", "B")).weights == {
        "A": 0.75,
        "B": 0.25,
    }
    assert run('(weight-specified 60 (asset "A") 40 (asset "B"))', flat("A", "B")).weights == pytest.approx(
        {"A": 0.6, "B": 0.4}
    )


def test_zero_weight_child_is_not_evaluated() -> None:
    # B's rsi would need 101 closes; with weight 0 it is never evaluated.
    body = '(weight-specified 1 (asset "A") 0 (if (> (rsi "B" {:window 100}) 50) [(asset "B")] [(asset "A")]))'
    assert run(body, flat("A")).weights == {"A": 1.0}


def test_group_is_transparent_and_vectors_equal_weight() -> None:
    result = run('(group "G" [(asset "A") (asset "B")])', flat("A", "B"))
    assert result.weights == {"A": 0.5, "B": 0.5}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('(> (current-price "A") 10)', "A"),
        ('(< (current-price "A") 10)', "B"),
        ('(>= (current-price "A") 11)', "A"),
        ('(<= (current-price "A") 11)', "A"),
        ('(= (current-price "A") 11)', "A"),
        ('(= (current-price "A") 11.000001)', "B"),
        ('(> (current-price "A") (current-price "B"))', "A"),
        ('(not (> (current-price "A") 10))', "B"),
        ('(and (> (current-price "A") 10) (< (current-price "B") 10))', "A"),
        ('(and (> (current-price "A") 10) (> (current-price "B") 10))', "B"),
        ('(or (< (current-price "A") 10) (> (current-price "B") 5))', "A"),
    ],
)
def test_if_conditions(condition: str, expected: str) -> None:
    bars = {"A": frame([10, 11]), "B": frame([9, 9])}
    assert run(f'(if {condition} [(asset "A")] [(asset "B")])', bars).weights == {expected: 1.0}


def test_and_or_short_circuit_over_undefined_indicators() -> None:
    bars = {"A": frame([10, 11]), "B": frame([9, 9])}
    undefined = '(> (rsi "B" {:window 50}) 50)'  # B has 2 closes
    assert run(f'(if (or (> (current-price "A") 10) {undefined}) [(asset "A")] [(asset "B")])', bars).weights == {
        "A": 1.0
    }
    assert run(f'(if (and (< (current-price "A") 10) {undefined}) [(asset "A")] [(asset "B")])', bars).weights == {
        "B": 1.0
    }
    with pytest.raises(DslEvaluationError, match=r"rsi\(50\) of B needs 51 closes"):
        run(f'(if (and (> (current-price "A") 10) {undefined}) [(asset "A")] [(asset "B")])', bars)


def test_too_short_history_is_an_error_naming_symbol_indicator_window() -> None:
    with pytest.raises(DslEvaluationError) as caught:
        run('(if (> (moving-average-price "SPY" {:window 200}) 1) [(asset "A")] [(asset "B")])', flat("SPY", "A", "B"))
    assert "moving-average-price(200) of SPY" in str(caught.value)
    assert "needs 200 closes" in str(caught.value)


def test_untaken_branch_may_be_undefined() -> None:
    body = (
        '(if (> (current-price "A") 1) [(asset "A")] [(if (> (rsi "B" {:window 99}) 1) [(asset "B")] [(asset "A")])])'
    )
    assert run(body, flat("A", "B")).weights == {"A": 1.0}


def test_missing_data_fails_up_front_naming_symbols() -> None:
    with pytest.raises(MissingMarketDataError) as caught:
        run('(if (> (current-price "X") 1) [(asset "A")] [(asset "Y")])', flat("A"))
    assert caught.value.symbols == ["X", "Y"]


def test_market_data_is_read_for_the_sorted_universe_up_to_as_of() -> None:
    market = InMemoryMarketData(flat("B", "A"))
    strategy = parse_strategy('(defsymphony "T" {} (if (> (current-price "B") 1) [(asset "A")] [(asset "A")]))')
    result = evaluate_strategy(strategy, market, date(2024, 6, 30))  # a Sunday
    assert market.calls == [(["A", "B"], date(2024, 6, 30))]
    assert result.as_of == date(2024, 6, 28)  # the last bar date on or before as_of
    assert result.requested_as_of == date(2024, 6, 30)


def test_as_of_uses_only_closes_up_to_that_day() -> None:
    closes = [10.0] * 20 + [20.0]
    bars = {"A": frame(closes), "B": frame(np.full(21, 5.0))}
    body = '(if (> (current-price "A") 15) [(asset "A")] [(asset "B")])'
    assert run(body, bars).weights == {"A": 1.0}
    assert run(body, bars, as_of=date(2024, 6, 27)).weights == {"B": 1.0}


# ---- filter ----


def test_filter_assets_by_their_own_series() -> None:
    bars = {"A": frame([100, 101, 103]), "B": frame([100, 100, 99]), "C": frame([100, 110, 120])}
    top = '(filter (cumulative-return {:window 2}) (select-top 2) [(asset "A") (asset "B") (asset "C")])'
    assert run(top, bars).weights == {"A": 0.5, "C": 0.5}
    bottom = '(filter (cumulative-return {:window 2}) (select-bottom 1) [(asset "A") (asset "B") (asset "C")])'
    assert run(bottom, bars).weights == {"B": 1.0}
    everything = '(filter (cumulative-return {:window 2}) (select-top 5) [(asset "A") (asset "B")])'
    assert run(everything, bars).weights == {"A": 0.5, "B": 0.5}


def test_filter_ties_keep_list_order() -> None:
    bars = {"A": frame([100, 101, 103]), "B": frame([100, 101, 103])}
    first = run('(filter (current-price) (select-top 1) [(asset "A") (asset "B")])', bars)
    second = run('(filter (current-price) (select-top 1) [(asset "B") (asset "A")])', bars)
    assert (first.weights, second.weights) == ({"A": 1.0}, {"B": 1.0})


def test_filter_over_groups_ranks_their_daily_rebalanced_nav_not_their_members() -> None:
    # A and B each end where they started, but G1 = equal-weight [A B] rebalanced daily gains 25 % a day:
    # (0.5 * +100 % + 0.5 * -50 %) then (0.5 * -50 % + 0.5 * +100 %) -> 56.25 % over 2 days.
    # C gains 40 %. Ranking the members would pick C; ranking the groups picks G1.
    bars = {"A": frame([100, 200, 100]), "B": frame([100, 50, 100]), "C": frame([100, 100, 140])}
    groups = '[(group "G1" [(weight-equal [(asset "A") (asset "B")])]) (group "G2" [(asset "C")])]'
    result = run(f"(filter (cumulative-return {{:window 2}}) (select-top 1) {groups})", bars)
    assert result.weights == {"A": 0.5, "B": 0.5}
    members = run('(filter (cumulative-return {:window 2}) (select-top 1) [(asset "A") (asset "B") (asset "C")])', bars)
    assert members.weights == {"C": 1.0}
    ranking = result.trace[0]["ranking"]
    assert [(r["candidate"], r["selected"]) for r in ranking] == [("G1", True), ("G2", False)]
    assert ranking[0]["score"] == pytest.approx(56.25)
    assert ranking[1]["score"] == pytest.approx(40.0)


def test_synthetic_nav_follows_the_childs_own_past_allocations() -> None:
    # The group holds A while A's price is above 100, else B; each day its NAV earns the return of
    # what it held the day before.
    bars = {"A": frame([100, 110, 121, 110]), "B": frame([50, 55, 55, 66])}
    strategy = parse_strategy(
        '(defsymphony "T" {} (filter (current-price) (select-top 1) '
        '[(group "G" [(if (> (current-price "A") 100) [(asset "A")] [(asset "B")])]) (asset "B")]))'
    )
    evaluator = Evaluator(Market(bars, strategy.universe))
    group = strategy.root.children[0]  # type: ignore[union-attr]
    nav, start = evaluator.nav(group)
    # held: day0 B, day1 A, day2 A, day3 A. Returns: day1 from B (+10 %), day2 from A (+10 %), day3 from A (-9.09 %)
    assert start == 0
    assert nav.tolist() == pytest.approx([100.0, 110.0, 121.0, 110.0])


def test_filter_leaves_out_unscorable_candidates_and_records_them() -> None:
    bars = {"A": frame([100, 101, 103, 104]), "NEW": frame([100, 200], end=END)}
    result = run('(filter (cumulative-return {:window 3}) (select-top 1) [(asset "NEW") (asset "A")])', bars)
    assert result.weights == {"A": 1.0}
    entry = result.trace[0]
    assert entry["type"] == "filter"
    assert entry["excluded"] == [
        {"candidate": "NEW", "reason": "history too short: cumulative-return(3) of NEW needs 4 closes"}
    ]


def test_filter_with_no_scorable_candidate_fails() -> None:
    with pytest.raises(DslEvaluationError, match="no candidate could be scored"):
        run(
            '(filter (cumulative-return {:window 30}) (select-top 1) [(asset "A") (asset "B")])', flat("A", "B", days=5)
        )


def test_filter_scores_equal_up_to_float_noise_are_ties_in_list_order() -> None:
    # Both rose 10 %, but 3.3/3 and 0.33/0.3 differ in the last bits (9.999999999999986 vs 10.000000000000009).
    bars = {"A": frame([3.0, 3.3]), "B": frame([0.3, 0.33])}
    for whole_axis in (False, True):
        for select, order, expected in (("top", "A B", "A"), ("top", "B A", "B"), ("bottom", "B A", "B")):
            children = " ".join(f'(asset "{s}")' for s in order.split())
            strategy = parse_strategy(
                f'(defsymphony "T" {{}} (filter (cumulative-return {{:window 1}}) (select-{select} 1) [{children}]))'
            )
            result = evaluate_on(strategy, Market(bars, strategy.universe), whole_axis=whole_axis)
            assert result.weights == {expected: 1.0}, (select, order, whole_axis)
        window = evaluate_range(strategy, bars, END, END)
        assert window.loc[pd.Timestamp(END)].to_dict() == {"B": 1.0}


def test_composite_scored_over_its_window_or_the_whole_axis_alike() -> None:
    # G holds A or B by X's price. X has no finite close on the window's first day, so G has no
    # allocation that day (cash in its NAV) although its NAV started long before: the live path then
    # asks the whole axis, which knows. The answers and scores of both paths agree.
    closes_x = np.linspace(10, 20, 30)
    closes_x[-4] = np.nan
    bars = random_walk_market(["A", "B", "C"], END, 30) | {"X": frame(closes_x)}
    group = '(group "G" [(if (> (current-price "X") 15) [(asset "A")] [(asset "B")])])'
    for window, late in ((3, False), (2, True)):
        text = f'(filter (cumulative-return {{:window {window}}}) (select-top 1) [{group} (asset "C")])'
        strategy = parse_strategy(f'(defsymphony "T" {{}} {text})')
        live = evaluate_on(strategy, Market(bars, strategy.universe))
        axis = evaluate_on(strategy, Market(bars, strategy.universe), whole_axis=True)
        assert live.weights == pytest.approx(axis.weights)
        scores = [[r["score"] for r in result.trace[0]["ranking"]] for result in (live, axis)]
        assert scores[0] == pytest.approx(scores[1], rel=1e-12)
        assert len(scores[0]) == 2 and late is (window == 2)
    # A composite whose NAV starts too late to be scored is left out alike on both paths.
    late_bars = bars | {"NEW": frame([1.0, 1.1, 1.2])}
    strategy = parse_strategy(
        '(defsymphony "T" {} (filter (cumulative-return {:window 3}) (select-top 1)'
        ' [(group "N" [(weight-equal [(asset "NEW") (asset "A")])]) (asset "C")]))'
    )
    for whole_axis in (False, True):
        result = evaluate_on(strategy, Market(late_bars, strategy.universe), whole_axis=whole_axis)
        assert result.weights == {"C": 1.0}
        assert result.trace[0]["excluded"] == [
            {"candidate": "N", "reason": "history too short: cumulative-return(3) of N needs 4 closes"}
        ]


# ---- inverse volatility ----


def alternating(step: float, days: int = 21) -> list[float]:
    closes = [100.0]
    for i in range(days - 1):
        closes.append(closes[-1] * (1 + (step if i % 2 == 0 else -step)))
    return closes


def test_inverse_volatility_on_known_volatility() -> None:
    # A's daily returns alternate +-1 % (population stdev 1 %), B's +-2 % (2 %): shares 2/3 and 1/3.
    bars = {"A": frame(alternating(0.01)), "B": frame(alternating(0.02)), "C": frame(alternating(0.04))}
    result = run('(weight-inverse-volatility 4 [(asset "A") (asset "B")])', bars)
    assert result.weights == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    entry = result.trace[0]
    assert [c["stdev_return"] for c in entry["children"]] == pytest.approx([1.0, 2.0])
    # A composite child is sized on its own synthetic returns: [B C] rebalanced daily moves +-3 %.
    result = run('(weight-inverse-volatility 4 [(asset "A") (group "BC" [(asset "B") (asset "C")])])', bars)
    assert result.weights == pytest.approx({"A": 0.75, "B": 0.125, "C": 0.125})


def test_inverse_volatility_leaves_out_zero_volatility_and_fails_when_none_left() -> None:
    bars = {"A": frame(alternating(0.01)), "FLAT": frame(np.full(21, 10.0))}
    assert run('(weight-inverse-volatility 4 [(asset "A") (asset "FLAT")])', bars).weights == {"A": 1.0}
    with pytest.raises(DslEvaluationError, match="no child has a defined, non-zero volatility"):
        run('(weight-inverse-volatility 4 [(asset "FLAT")])', bars)


# ---- trace ----


def test_trace_records_values_margins_and_near_ties() -> None:
    bars = {"A": frame([10, 11]), "B": frame([9, 10.95])}
    result = run('(group "Top" [(if (> (current-price "A") (current-price "B")) [(asset "A")] [(asset "B")])])', bars)
    (entry,) = result.trace
    assert entry["type"] == "if" and entry["path"] == "Top" and entry["taken"] == "then"
    (comparison,) = entry["comparisons"]
    assert comparison["left_value"] == 11 and comparison["right_value"] == 10.95
    assert comparison["margin"] == pytest.approx(0.05)
    assert comparison["near_tie"] and entry["near_tie"]
    assert any("NEAR-TIE" in line for line in result.trace_summary)
    assert result.trace_summary[0] == "weights: A 100.0%"
    far = run('(if (> (current-price "A") 5) [(asset "A")] [(asset "B")])', bars)
    assert not far.trace[0]["near_tie"]


# ---- one engine for a day and for a range ----


def test_range_equals_day_by_day_evaluation() -> None:
    strategy = parse_strategy(
        '(defsymphony "R" {} (weight-equal ['
        ' (if (> (rsi "A" {:window 5}) 50) [(asset "A")] [(asset "B")])'
        " (filter (moving-average-return {:window 3}) (select-top 1)"
        '   [(group "G" [(if (< (stdev-return "C" {:window 4}) 1.5) [(asset "C")] [(asset "D")])]) (asset "B")])'
        ' (weight-inverse-volatility 5 [(asset "C") (group "AD" [(asset "A") (asset "D")])])]))'
    )
    bars = random_walk_market(["A", "B", "C", "D"], END, 80)
    frame_ = evaluate_range(strategy, bars, date(2024, 6, 3), END)
    assert len(frame_) == 20
    assert np.allclose(frame_.sum(axis=1), 1.0)
    market = InMemoryMarketData(bars)
    for day in frame_.index[::4]:
        expected = evaluate_strategy(strategy, market, day.date()).weights
        row = {s: w for s, w in frame_.loc[day].items() if w > 0}
        assert row == pytest.approx(expected)


def test_range_with_undefined_days_is_an_error() -> None:
    strategy = parse_strategy('(defsymphony "R" {} (if (> (rsi "A" {:window 10}) 50) [(asset "A")] [(asset "B")]))')
    bars = flat("A", "B", days=30)
    with pytest.raises(DslEvaluationError, match=r"rsi\(10\) of A needs 11 closes .*10 day"):
        evaluate_range(strategy, bars, date(2024, 1, 1), END)


def test_range_with_late_start_begins_at_the_first_evaluable_day() -> None:
    strategy = parse_strategy('(defsymphony "R" {} (if (> (rsi "A" {:window 10}) 50) [(asset "A")] [(asset "B")]))')
    bars = flat("A", "B", days=30)
    frame_ = evaluate_range(strategy, bars, date(2024, 1, 1), END, late_start=True)
    assert len(frame_) == 30 - 10  # rsi(10) needs 11 closes: the 11th bar is the first evaluable day
    assert frame_.index[0] == bars["A"].index[10]
    assert np.allclose(frame_.sum(axis=1), 1.0)


def test_range_with_late_start_still_fails_on_a_later_unevaluable_day() -> None:
    strategy = parse_strategy('(defsymphony "R" {} (asset "A"))')
    bars = flat("A", days=30)
    never = parse_strategy('(defsymphony "R" {} (if (> (rsi "A" {:window 40}) 50) [(asset "A")] [(asset "A")]))')
    with pytest.raises(DslEvaluationError, match=r"rsi\(40\) of A needs 41 closes"):
        evaluate_range(never, bars, date(2024, 1, 1), END, late_start=True)
    assert len(evaluate_range(strategy, bars, date(2024, 1, 1), END, late_start=True)) == 30
