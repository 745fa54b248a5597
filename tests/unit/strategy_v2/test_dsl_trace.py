"""The trace summary: each strategy's full decision path to what it holds, one self-contained line per
decision, one sign convention ("true by 1.54" / "false by 47.8"), nothing cut without a "more" marker."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.support.strategy_v2.dsl_helpers import frame, random_walk_market
from the_alchemiser.strategy_v2.dsl import Market, evaluate_on, load_strategy, parse_strategy
from the_alchemiser.strategy_v2.dsl.trace import RANKING_SHOWN, SUMMARY_LINES

NUCLEAR = Path(__file__).resolve().parents[3] / "strategies" / "nuclear.clj"
DAYS = 260


def alternating(up: float, down: float, days: int = DAYS, start: float = 100.0) -> list[float]:
    closes = [start]
    for i in range(days - 1):
        closes.append(closes[-1] * (1 + (up if i % 2 == 0 else -down)))
    return closes


def bear_market() -> dict[str, object]:
    """SPY below its 200-day average, QQQ and SQQQ calm, TLT falling: nuclear's bear branch down to its
    last filter, where IEF (falling most) has the lowest RSI."""
    calm = alternating(0.01, 0.01)
    bars = {s: frame(calm) for s in ("QQQ", "SQQQ", "BIL", "UVXY", "TQQQ", "UPRO", "SOXL", "TECL", "TMF")}
    bars["SPY"] = frame(np.linspace(200.0, 150.0, DAYS) * np.array(calm) / 100.0)
    bars["TLT"] = frame(alternating(0.01, 0.012))
    bars["IEF"] = frame(alternating(0.005, 0.009))
    bars["GLD"] = frame(alternating(0.012, 0.008))
    return bars


def test_nuclear_shows_every_decision_down_to_the_deciding_filter() -> None:
    strategy = load_strategy(NUCLEAR)
    result = evaluate_on(strategy, Market(bear_market(), strategy.universe))
    assert result.weights == {"IEF": 1.0}
    lines = result.trace_summary
    assert lines[0] == "weights: IEF 100.0%"
    deciding = lines[-1]
    assert deciding.startswith(
        "[Risk controls > Bear regime: defend] filter rsi(20) select-bottom 1: kept IEF (ranking IEF="
    )
    assert re.search(r"\(ranking IEF=[\d.]+, BIL=[\d.]+, GLD=[\d.]+\)$", deciding), deciding
    ifs = lines[1:-1]
    assert len(ifs) == 6  # every if on the path: three risk checks, the trend, SQQQ, TLT
    assert "current-price(SPY)=" in ifs[3] and ifs[3].endswith("-> else: Bear regime: defend")
    for line in ifs:
        assert re.search(r"\bif .+: (true|false) by \d[\d.e+-]* -> (then|else)", line), line
        assert "margin" not in line


def test_one_sign_convention_true_or_false_by_a_positive_distance() -> None:
    bars = {"A": frame([10.0, 11.0]), "B": frame([9.0, 9.0])}
    for condition, expected in (
        ('(< (current-price "A") 12.5)', "current-price(A)=11 < 12.5: true by 1.5 -> then: A"),
        ('(> (current-price "A") 12.5)', "current-price(A)=11 > 12.5: false by 1.5 -> else: B"),
        (
            '(> (current-price "A") (current-price "B"))',
            "current-price(A)=11 > current-price(B)=9: true by 2 -> then: A",
        ),
        (
            '(<= (current-price "A") (current-price "B"))',
            "current-price(A)=11 <= current-price(B)=9: false by 2 -> else: B",
        ),
    ):
        strategy = parse_strategy(f'(defsymphony "T" {{}} (if {condition} [(asset "A")] [(asset "B")]))')
        result = evaluate_on(strategy, Market(bars, strategy.universe))
        assert result.trace_summary[1] == f"if {expected}"
        (comparison,) = result.trace[0]["comparisons"]
        assert comparison["by"] == pytest.approx(abs(comparison["margin"]))  # the signed margin stays too


def test_a_long_ranking_names_the_first_candidates_and_counts_the_rest() -> None:
    symbols = [f"S{i:02d}" for i in range(RANKING_SHOWN + 4)]
    children = " ".join(f'(asset "{s}")' for s in symbols)
    strategy = parse_strategy(
        f'(defsymphony "T" {{}} (filter (cumulative-return {{:window 5}}) (select-top 2) [{children}]))'
    )
    result = evaluate_on(
        strategy, Market(random_walk_market(symbols, frame([1.0]).index[-1].date(), 30), strategy.universe)
    )
    line = result.trace_summary[1]
    assert line.endswith(", +4 more)"), line
    assert len(result.trace[0]["ranking"]) == RANKING_SHOWN + 4  # the trace itself keeps every score


def test_a_path_longer_than_the_summary_says_how_many_decisions_are_left_out() -> None:
    count = SUMMARY_LINES + 20
    branches = " ".join(f'(if (> (current-price "A") {i}) [(asset "A")] [(asset "B")])' for i in range(count))
    strategy = parse_strategy(f'(defsymphony "T" {{}} (weight-equal [{branches}]))')
    result = evaluate_on(strategy, Market({"A": frame([1000.0]), "B": frame([1.0])}, strategy.universe))
    assert len(result.trace) == count
    assert len(result.trace_summary) == SUMMARY_LINES
    assert result.trace_summary[-1] == f"... {count + 1 - SUMMARY_LINES + 1} more decisions in the trace"


def test_unscorable_candidates_are_named_on_the_filter_line() -> None:
    bars = {"A": frame([100.0, 101.0, 103.0, 104.0]), "NEW": frame([100.0, 200.0])}
    strategy = parse_strategy(
        '(defsymphony "T" {} (filter (cumulative-return {:window 3}) (select-top 1) [(asset "NEW") (asset "A")]))'
    )
    result = evaluate_on(strategy, Market(bars, strategy.universe))
    assert result.trace_summary[1].endswith("kept A (ranking A=4); unscorable NEW")


def test_inverse_volatility_line_gives_each_share_with_its_volatility() -> None:
    bars = {"A": frame(alternating(0.01, 0.01, 21)), "B": frame(alternating(0.02, 0.02, 21))}
    strategy = parse_strategy('(defsymphony "T" {} (weight-inverse-volatility 4 [(asset "A") (asset "B")]))')
    result = evaluate_on(strategy, Market(bars, strategy.universe))
    assert result.trace_summary[1] == "inverse-volatility 4: A 66.7% (stdev 1), B 33.3% (stdev 2)"
