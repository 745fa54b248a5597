"""The reader: grammar, positions in errors, depth and size safety."""

from __future__ import annotations

import time

import pytest

from tests.support.strategy_v2.dsl_helpers import frame
from the_alchemiser.strategy_v2.dsl import DslParseError, evaluate_on, parse_strategy
from the_alchemiser.strategy_v2.dsl.market import Market
from the_alchemiser.strategy_v2.dsl.reader import Keyword, ListForm, MapForm, Source, Symbol, VectorForm, read


def read_text(text: str) -> object:
    return read(Source(text, "t.clj"))


def test_reads_every_kind_of_form() -> None:
    form = read_text('(f [1 -0.5 1e-3 2E2] {:k "a \\"q\\""} nil >= ; comment\n , :kw)')
    assert isinstance(form, ListForm)
    head, vector, mapping, nil, ge, kw = form.items
    assert head == Symbol("f") and isinstance(head, Symbol)
    assert isinstance(vector, VectorForm)
    assert vector.items == (1, -0.5, 0.001, 200.0)
    assert isinstance(vector.items[0], int)
    assert isinstance(mapping, MapForm)
    assert mapping.pairs == ((Keyword("k"), 'a "q"'),)
    assert isinstance(mapping.pairs[0][0], Keyword)
    assert (nil, ge) == ("nil", ">=") and isinstance(nil, Symbol)
    assert kw == "kw" and isinstance(kw, Keyword)


def test_strings_are_not_symbols() -> None:
    form = read_text('("BRK/B" BRK/B)')
    assert isinstance(form, ListForm)
    text, symbol = form.items
    assert not isinstance(text, Symbol) and text == "BRK/B"
    assert isinstance(symbol, Symbol)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("(a\n  [b)", 2, 5, "expected ']'"),
        ("(a b", 1, 1, "before end of text"),
        ("(a)\n)", 2, 1, "unexpected ')'"),
        ('(a "unterminated)', 1, 4, "unterminated string"),
        ("{:a}", 1, 1, "even number"),
        ("(a) (b)", 1, 5, "one top-level form"),
        ("  ; only a comment\n", 2, 1, "empty text"),
    ],
)
def test_errors_carry_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(DslParseError) as caught:
        read_text(text)
    error = caught.value
    assert (error.line, error.column, error.file) == (line, column, "t.clj")
    assert fragment in error.message
    assert str(error).startswith(f"t.clj:{line}:{column}: ")


def nested_strategy(depth: int) -> str:
    body = '(asset "SPY")'
    for i in range(depth):
        body = f'(group "g{i}" [(weight-equal [{body}])])'
    return f'(defsymphony "deep" {{}} {body})'


def test_deep_nesting_is_safe() -> None:
    # 4 forms per level: ~1960 nested forms, near the reader's limit and far beyond real exports (~220).
    strategy = parse_strategy(nested_strategy(489))
    assert strategy.traded_symbols == {"SPY"}
    bars = {"SPY": frame([100.0, 101.0, 102.0])}
    result = evaluate_on(strategy, Market(bars, strategy.universe))
    assert result.weights == {"SPY": 1.0}


@pytest.mark.parametrize("kind", ["not", "and", "or"])
def test_deeply_nested_conditions_are_safe_on_both_paths(kind: str) -> None:
    condition = '(> (current-price "A") 1)'
    for _ in range(1900):
        other = '(> (current-price "A") 0)'
        condition = f"(not {condition})" if kind == "not" else f"({kind} {condition} {other})"
    strategy = parse_strategy(f'(defsymphony "deep" {{}} (if {condition} [(asset "A")] [(asset "B")]))')
    bars = {"A": frame([1.0, 2.0, 3.0]), "B": frame([1.0, 2.0, 3.0])}
    live = evaluate_on(strategy, Market(bars, strategy.universe))
    axis = evaluate_on(strategy, Market(bars, strategy.universe), whole_axis=True)
    assert live.weights == axis.weights == {"A": 1.0}
    assert live.trace[0]["taken"] == "then"


def test_nesting_beyond_the_limit_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(DslParseError, match="nesting deeper"):
        read_text("[" * 5000 + "]" * 5000)


def test_three_megabytes_reads_quickly() -> None:
    branch = '(if (> (rsi "SPY" {:window 10}) 70) [(asset "TQQQ" "ProShares")] [(asset "BIL" "T-Bills")])'
    children = " ".join(f'(group "g{i}" [{branch}])' for i in range(30_000))
    text = f'(defsymphony "big" {{:asset-class "EQUITIES"}} (weight-equal [{children}]))'
    assert len(text) > 3_000_000
    started = time.perf_counter()
    strategy = parse_strategy(text)
    elapsed = time.perf_counter() - started
    assert strategy.node_count > 100_000
    assert elapsed < 30  # a sanity bound only; benchmarks/dsl.py measures speed
