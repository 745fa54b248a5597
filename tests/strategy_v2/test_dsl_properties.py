"""Property tests: any well-formed tree allocates non-negative weights summing to 1; malformed text
is a positioned parse error, never another exception."""

from __future__ import annotations

import contextlib
from datetime import date

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.strategy_v2.dsl_helpers import random_walk_market
from the_alchemiser.strategy_v2.dsl import DslError, DslParseError, evaluate_on, evaluate_range, parse_strategy
from the_alchemiser.strategy_v2.dsl.market import Market
from the_alchemiser.strategy_v2.dsl.reader import Source, read

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
    return f'(defsymphony "P" {{:asset-class "EQUITIES"}} {body})'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation())
def test_well_formed_trees_allocate_non_negative_weights_summing_to_one(body: str) -> None:
    strategy = parse_strategy(symphony_text(body))
    assume(strategy.max_lookback <= DAYS - 5)
    result = evaluate_on(strategy, Market(BARS, strategy.universe))
    assert all(w > 0 for w in result.weights.values())
    assert abs(sum(result.weights.values()) - 1.0) < 1e-9
    assert set(result.weights) <= strategy.traded_symbols
    days = evaluate_range(strategy, BARS, date(2024, 6, 24), END)
    assert (days.to_numpy() >= 0).all()
    assert np.allclose(days.sum(axis=1), 1.0, atol=1e-9)


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
