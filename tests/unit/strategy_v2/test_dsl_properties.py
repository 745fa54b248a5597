"""Property tests: any well-formed tree allocates non-negative weights summing to 1; malformed text
is a positioned parse error, never another exception."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.strategy_v2.dsl_helpers import random_walk_market
from the_alchemiser.strategy_v2.dsl import (
    DslError,
    DslEvaluationError,
    DslParseError,
    Strategy,
    evaluate_on,
    evaluate_range,
    parse_strategy,
)
from the_alchemiser.strategy_v2.dsl.build import ensure_recursion_limit
from the_alchemiser.strategy_v2.dsl.market import Market
from the_alchemiser.strategy_v2.dsl.nodes import rank
from the_alchemiser.strategy_v2.dsl.reader import Source, read

# The engine raises the recursion limit on first use; doing it up front keeps hypothesis from warning
# that the limit changed during a test.
ensure_recursion_limit()

SYMBOLS = ["A", "B", "C", "D", "BRK/B"]
END = date(2024, 6, 28)
DAYS = 160
BARS = random_walk_market(SYMBOLS, END, DAYS, seed=11)
WINDOWED = [
    "rsi",
    "moving-average-price",
    "exponential-moving-average-price",
    "cumulative-return",
    "moving-average-return",
    "stdev-return",
    "stdev-price",
    "max-drawdown",
]

symbol = st.sampled_from(SYMBOLS)
window = st.integers(1, 15)


@st.composite
def indicator(draw: st.DrawFn, with_symbol: bool = True) -> str:
    ticker = f'"{draw(symbol)}" ' if with_symbol else ""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"(current-price {ticker})" if with_symbol else "(current-price)"
    if kind == 1:
        return f"(percentage-price-oscillator {ticker}{{:short-window {draw(window)} :long-window {draw(window)}}})"
    return f"({draw(st.sampled_from(WINDOWED))} {ticker}{{:window {draw(window)}}})"


@st.composite
def condition(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 4 if depth < 1 else 1))
    op = draw(st.sampled_from([">", "<", ">=", "<=", "="]))
    if kind == 0:
        return f"({op} {draw(indicator())} {draw(st.floats(-50, 150, allow_nan=False)):.3f})"
    if kind == 1:
        return f"({op} {draw(indicator())} {draw(indicator())})"
    if kind == 2:
        return f"(not {draw(condition(depth + 1))})"
    joiner = "and" if kind == 3 else "or"
    items = draw(st.lists(condition(depth + 1), min_size=1, max_size=3))
    return f"({joiner} {' '.join(items)})"


def allocation(depth: int = 0) -> st.SearchStrategy[str]:
    asset = symbol.map(lambda s: f'(asset "{s}" "name")')
    if depth >= 3:
        return asset
    child = allocation(depth + 1)
    children = st.lists(child, min_size=1, max_size=3).map(lambda cs: "[" + " ".join(cs) + "]")
    return st.one_of(
        asset,
        children.map(lambda v: f"(weight-equal {v})"),
        st.lists(st.tuples(st.integers(0, 5), child), min_size=1, max_size=3)
        .filter(lambda pairs: any(w for w, _ in pairs))
        .map(lambda pairs: "(weight-specified " + " ".join(f"{w} {c}" for w, c in pairs) + ")"),
        # window >= 2: the stdev of a single return is 0, and zero-volatility children are left out
        st.tuples(st.integers(2, 15), children).map(lambda t: f"(weight-inverse-volatility {t[0]} {t[1]})"),
        st.tuples(st.text("abc xyz", max_size=5), children).map(lambda t: f'(group "{t[0]}" {t[1]})'),
        st.tuples(condition(), children, children).map(lambda t: f"(if {t[0]} {t[1]} {t[2]})"),
        st.tuples(
            indicator(with_symbol=False), st.sampled_from(["select-top", "select-bottom"]), st.integers(1, 4), children
        ).map(lambda t: f"(filter {t[0]} ({t[1]} {t[2]}) {t[3]})"),
    )


def symphony_text(body: str) -> str:
    return f'(defsymphony "T" {{:asset-class "EQUITIES"}} {body})'


def evaluate_both_paths(strategy: Strategy, market: Market) -> tuple[dict[str, float], dict[str, float]] | str:
    """The live (top-down) and whole-axis answers, or the failure both paths must report alike."""
    answers: list[dict[str, float] | str] = []
    for whole_axis in (False, True):
        try:
            answers.append(evaluate_on(strategy, market, whole_axis=whole_axis).weights)
        except DslEvaluationError as error:
            answers.append(str(error))
    live, axis = answers
    if isinstance(live, str) or isinstance(axis, str):
        assert live == axis
        assert isinstance(live, str)
        return live
    return live, axis


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation(), st.integers(0, 40))
def test_well_formed_trees_allocate_non_negative_weights_summing_to_one(body: str, days_back: int) -> None:
    strategy = parse_strategy(symphony_text(body))
    assume(strategy.max_lookback <= DAYS - 45)
    end = BARS["A"].index[-1 - days_back].date()
    answer = evaluate_both_paths(strategy, Market(BARS, strategy.universe, end=end))
    assert not isinstance(answer, str), answer  # enough history for every node: no failure
    live, axis = answer
    for weights in (live, axis):
        assert all(w > 0 for w in weights.values())
        assert abs(sum(weights.values()) - 1.0) < 1e-9
        assert set(weights) <= strategy.traded_symbols
    assert set(live) == set(axis)
    assert all(abs(live[s] - axis[s]) < 1e-9 for s in live)
    days = evaluate_range(strategy, BARS, date(2024, 6, 24), END)
    assert (days.to_numpy() >= 0).all()
    assert np.allclose(days.sum(axis=1), 1.0, atol=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation(), st.integers(1, 40))
def test_live_and_whole_axis_paths_agree_on_short_histories(body: str, days: int) -> None:
    """With too little history the two paths fail alike (same reason) or answer alike."""
    strategy = parse_strategy(symphony_text(body))
    end = BARS["A"].index[days - 1].date()
    answer = evaluate_both_paths(strategy, Market(BARS, strategy.universe, end=end))
    if isinstance(answer, str):
        assert "T: " in answer and "(as of " in answer
    else:
        live, axis = answer
        assert set(live) == set(axis)
        assert all(abs(live[s] - axis[s]) < 1e-9 for s in live)


mutation = st.tuples(
    st.integers(0, 10_000), st.sampled_from(["delete", "insert", "truncate"]), st.sampled_from(list('()[]{}" ;:\\'))
)


@settings(max_examples=300, deadline=None)
@given(allocation(), st.lists(mutation, min_size=1, max_size=3))
def test_malformed_text_is_a_positioned_parse_error(body: str, mutations: list[tuple[int, str, str]]) -> None:
    text = symphony_text(body)
    for raw_at, kind, char in mutations:
        at = raw_at % (len(text) + 1)
        if kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at]
    check_text(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*'()[]{}"\\;:, \n\tab1.-e/', "rsi", "asset", "if"]), max_size=60).map("".join))
def test_arbitrary_text_never_raises_anything_but_dsl_errors(text: str) -> None:
    check_text(text)


def check_text(text: str) -> None:
    try:
        read(Source(text, "m.clj"))
    except DslParseError as error:
        lines = text.split("\n")
        assert 1 <= error.line <= len(lines)
        assert 1 <= error.column <= len(lines[error.line - 1]) + 1
        assert str(error).startswith(f"m.clj:{error.line}:{error.column}: ")
    with contextlib.suppress(DslError):
        parse_strategy(text, file="m.clj")


@settings(max_examples=80, deadline=None)
@given(allocation(), st.data())
def test_every_proper_prefix_and_every_lost_bracket_is_a_positioned_parse_error(body: str, data: st.DataObject) -> None:
    text = symphony_text(body)
    cut = data.draw(st.integers(0, len(text) - 1), label="cut")
    assert_parse_error(text[:cut])
    brackets = [i for i, c in enumerate(text) if c in '()[]{}"']
    at = data.draw(st.sampled_from(brackets), label="deleted")
    assert_parse_error(text[:at] + text[at + 1 :])


def assert_parse_error(text: str) -> None:
    try:
        read(Source(text, "m.clj"))
    except DslParseError:
        check_text(text)  # checks the position
        return
    raise AssertionError(f"no parse error for {text!r}")


finite_or_unscorable = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.0 + 1e-15, 1.0 - 1e-15, 1e-13, 2.5]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(finite_or_unscorable, st.booleans()), min_size=1, max_size=8),
    st.booleans(),
    st.integers(1, 3),
)
def test_the_one_ranking_rule(candidates: list[tuple[float, bool]], top: bool, days: int) -> None:
    """`rank` orders scorable candidates best first (ties within dsl.md's tolerance keep list order),
    unscorable ones last, and ranks each day (column) on its own: one day ranked alone gives the same
    order as that day ranked among others (the live day ranks one column, a backtest every day)."""
    scores = [v for v, _ in candidates]
    fails = [0 if ok else 1 for _, ok in candidates]
    keys = np.array([[(-v if top else v) if ok else np.nan] for v, ok in candidates])
    alone = [int(i) for i in rank(keys)[:, 0]]
    shuffled = np.roll(keys, 1, axis=0)
    among = rank(np.hstack([shuffled, keys, shuffled][:days] if days > 1 else [keys]))
    assert [int(i) for i in among[:, 1 if days > 1 else 0]] == alone
    scorable = [i for i in alone if fails[i] == 0]
    assert alone[: len(scorable)] == scorable  # the scorable ones first
    assert sorted(scorable) == [i for i, f in enumerate(fails) if f == 0]
    assert [i for i in alone[len(scorable) :]] == [i for i, f in enumerate(fails) if f]  # then list order
    # best first; a worse candidate can precede a better one only inside a chain of near-ties, and then
    # only in list order
    for a, b in itertools.pairwise(scorable):
        better = scores[a] - scores[b] if top else scores[b] - scores[a]
        assert better >= -len(scores) * (1e-9 * max(abs(scores[a]), abs(scores[b])) + 1e-12)
        if better < 0:
            assert a < b
    # exactly equal scores always keep list order
    for a, b in itertools.combinations(scorable, 2):
        if scores[a] == scores[b]:
            assert scorable.index(a) < scorable.index(b) if a < b else scorable.index(a) > scorable.index(b)


def test_ranking_tolerance_is_relative_plus_absolute_and_never_ties_the_unscorable() -> None:
    # 1e-9 relative: 1000 and 1000 + 5e-7 tie (list order), 1000 + 2e-6 does not
    assert rank(np.array([[1000.0 + 5e-7], [1000.0]]))[:, 0].tolist() == [0, 1]
    assert rank(np.array([[1000.0 + 2e-6], [1000.0]]))[:, 0].tolist() == [1, 0]
    # 1e-12 absolute near zero
    assert rank(np.array([[5e-13], [0.0]]))[:, 0].tolist() == [0, 1]
    assert rank(np.array([[3e-12], [0.0]]))[:, 0].tolist() == [1, 0]
    # an unscorable candidate (NaN) never ties a score, however large, nor does it move ahead of one
    assert rank(np.array([[np.nan], [1e308], [np.nan]]))[:, 0].tolist() == [1, 0, 2]
