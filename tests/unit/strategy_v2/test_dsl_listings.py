"""Late listings (dsl.md "Time and data"): a symbol whose series starts after the evaluation day is not
missing; before its first bar an `asset` of it has no allocation, a composite holding it has no synthetic
series yet, and at the top level that is an error naming the first bar's date."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.strategy_v2.dsl_helpers import InMemoryMarketData, business_days, frame, random_walk_market
from the_alchemiser.shared.market_data import MissingMarketDataError
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.strategy_v2.dsl import (
    DslEvaluationError,
    Market,
    evaluate_on,
    evaluate_range,
    evaluate_strategy,
    parse_strategy,
)

END = date(2024, 6, 28)
DAYS = 60
LISTED = 20  # NEW has bars for the last 20 of the 60 days
BARS = random_walk_market(["A", "B"], END, DAYS, seed=3) | {
    "NEW": frame(np.linspace(10.0, 12.0, LISTED), end=END),
}
FIRST_BAR = BARS["NEW"].index[0].date()
BEFORE = BARS["A"].index[-LISTED - 5].date()  # a day on which NEW has no bar yet
AFTER = END


def strategy(body: str) -> object:
    return parse_strategy(f'(defsymphony "L" {{}} {body})')


SCORED_COMPOSITE = strategy(
    "(filter (cumulative-return {:window 3}) (select-top 1)"
    ' [(group "N" [(weight-equal [(asset "NEW") (asset "A")])]) (asset "B")])'
)
# A composite that holds NEW's branch but has an allocation before NEW lists (its filter leaves the
# unscorable NEW out): its synthetic series runs over days on which NEW has no bar.
DEFINED_COMPOSITE = strategy(
    "(filter (cumulative-return {:window 3}) (select-top 1)"
    ' [(group "M" [(filter (current-price) (select-top 1) [(asset "NEW") (asset "A")])]) (asset "B")])'
)


@pytest.mark.parametrize("whole_axis", [False, True])
def test_filter_scoring_a_composite_that_holds_a_symbol_listed_after_the_day(whole_axis: bool) -> None:
    # NEW has no bar on or before BEFORE: the composite has no synthetic series yet, so it cannot be
    # scored and the filter keeps B (this crashed indexing NEW's empty series).
    market = Market(BARS, SCORED_COMPOSITE.universe, end=BEFORE)
    result = evaluate_on(SCORED_COMPOSITE, market, whole_axis=whole_axis)
    assert result.weights == {"B": 1.0}
    (excluded,) = result.trace[0]["excluded"]
    assert excluded["candidate"] == "N"
    assert excluded["reason"] == f"NEW: first bar {FIRST_BAR}, after the as-of day"


@pytest.mark.parametrize("whole_axis", [False, True])
def test_filter_scoring_a_defined_composite_whose_symbol_lists_after_the_day(whole_axis: bool) -> None:
    market = Market(BARS, DEFINED_COMPOSITE.universe, end=BEFORE)
    result = evaluate_on(DEFINED_COMPOSITE, market, whole_axis=whole_axis)
    ranking = result.trace[0]["ranking"]
    assert [r["candidate"] for r in ranking] in (["M", "B"], ["B", "M"])
    held = evaluate_on(parse_strategy('(defsymphony "L" {} (asset "A"))'), Market(BARS, ["A"], end=BEFORE))
    assert held.weights == {"A": 1.0}
    m_score = next(r["score"] for r in ranking if r["candidate"] == "M")
    a_close = BARS["A"]["close"].loc[: pd.Timestamp(BEFORE)]
    assert m_score == pytest.approx((a_close.iloc[-1] / a_close.iloc[-4] - 1) * 100)  # M held A


def test_the_live_path_through_a_port_that_cuts_at_the_day() -> None:
    # The port cuts every series at the day, so NEW comes back empty: not missing, listed later.
    result = evaluate_strategy(SCORED_COMPOSITE, InMemoryMarketData(BARS), BEFORE)
    assert result.weights == {"B": 1.0}
    assert result.as_of == BEFORE


def test_a_composite_is_scored_once_its_series_has_started() -> None:
    result = evaluate_strategy(SCORED_COMPOSITE, InMemoryMarketData(BARS), AFTER)
    ranking = result.trace[0]["ranking"]
    assert {r["candidate"] for r in ranking} == {"N", "B"}
    assert result.trace[0]["excluded"] == []


@pytest.mark.parametrize(
    "body",
    [
        '(asset "NEW")',
        '(weight-equal [(asset "NEW") (asset "A")])',
        '(if (> (current-price "NEW") 1) [(asset "A")] [(asset "B")])',
        '(if (> (rsi "NEW" {:window 10}) 50) [(asset "A")] [(asset "B")])',
    ],
)
def test_at_the_top_level_a_day_before_the_first_bar_is_an_error_naming_it(body: str) -> None:
    with pytest.raises(DslEvaluationError) as caught:
        evaluate_strategy(strategy(body), InMemoryMarketData(BARS), BEFORE)
    message = str(caught.value)
    assert f"NEW: first bar {FIRST_BAR}, after the as-of day" in message
    assert "history too short" not in message and "no market data" not in message


def test_market_keeps_the_first_bar_date_when_the_cut_leaves_no_bar() -> None:
    market = Market(BARS, ["A", "NEW"], end=BEFORE)
    assert market.first_bar["NEW"] == FIRST_BAR
    assert market.first_bar["A"] == BARS["A"].index[0].date()
    assert market.day(len(market) - 1) == BEFORE


def test_a_symbol_with_no_bars_at_all_is_still_missing() -> None:
    empty = BARS["A"].iloc[:0]
    with pytest.raises(MissingMarketDataError) as caught:
        Market(BARS | {"GONE": empty}, ["A", "GONE"], end=END)
    assert caught.value.symbols == ["GONE"]


def test_a_range_across_the_listing_evaluates_before_and_after_it() -> None:
    # Before NEW lists (and until it has 4 closes) it cannot be scored: the filter takes A. After, the
    # ranking includes it: here NEW rises steadily and A is a random walk, so some days pick NEW.
    ranked = strategy('(filter (cumulative-return {:window 3}) (select-top 1) [(asset "NEW") (asset "A")])')
    start = BARS["A"].index[-LISTED - 10].date()
    weights = evaluate_range(ranked, BARS, start, END)
    assert len(weights) == LISTED + 10
    listing = weights.index.get_loc(pd.Timestamp(FIRST_BAR))
    assert (weights["A"].iloc[: listing + 3] == 1.0).all()  # NEW's 4th close is its first score
    assert (weights["NEW"].iloc[listing + 3 :] == 1.0).any()
    # each day equals the live answer of that day
    port = InMemoryMarketData(BARS)
    for day in weights.index[::3]:
        live = evaluate_strategy(ranked, port, day.date()).weights
        assert {s: w for s, w in weights.loc[day].items() if w > 0} == pytest.approx(live)


def test_a_range_that_needs_the_symbol_starts_at_its_listing_with_late_start() -> None:
    held = strategy('(weight-equal [(asset "NEW") (asset "A")])')
    start = BARS["A"].index[-LISTED - 10].date()
    with pytest.raises(DslEvaluationError, match=f"NEW: first bar {FIRST_BAR}, after the as-of day .*10 day"):
        evaluate_range(held, BARS, start, END)
    weights = evaluate_range(held, BARS, start, END, late_start=True)
    assert weights.index[0].date() == FIRST_BAR
    assert len(weights) == LISTED
    assert weights.iloc[0].to_dict() == {"A": 0.5, "NEW": 0.5}


def test_a_range_ending_before_the_listing() -> None:
    weights = evaluate_range(SCORED_COMPOSITE, BARS, business_days(BEFORE, 5)[0].date(), BEFORE)
    assert list(weights.columns) == ["B"] and len(weights) == 5


def test_signals_as_of_before_a_first_bar_names_it(tmp_path: Path) -> None:
    data = CsvDirectoryMarketData(tmp_path / "data")
    for symbol, bars in BARS.items():
        data.write(symbol, bars)
    (tmp_path / "s.clj").write_text('(defsymphony "L" {} (weight-equal [(asset "NEW") (asset "A")]))')
    args = ["signals", str(tmp_path / "s.clj"), "--data", str(data.directory), "--json"]
    before = subprocess.run(
        [sys.executable, "-m", "the_alchemiser", *args, "--as-of", BEFORE.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert before.returncode != 0 and before.stdout == ""
    assert f"NEW: first bar {FIRST_BAR}, after the as-of day" in before.stderr
    assert "no market data" not in before.stderr and len(before.stderr.strip().splitlines()) == 1
    after = subprocess.run(
        [sys.executable, "-m", "the_alchemiser", *args, "--as-of", AFTER.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["weights"] == {"A": 0.5, "NEW": 0.5}
