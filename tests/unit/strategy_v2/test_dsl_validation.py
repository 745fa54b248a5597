"""Load-time validation: operators, arity, windows, weights; universe, lookback, shared subtrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from the_alchemiser.strategy_v2.dsl import DslParseError, DslValidationError, load_strategy, parse_strategy
from the_alchemiser.strategy_v2.dsl import nodes as n


def symphony(body: str, meta: str = "{}") -> str:
    return f'(defsymphony "S" {meta}\n {body})'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('(wieght-equal [(asset "A")])', "unknown operator 'wieght-equal'"),
        ('(if (> (rsii "A" {:window 2}) 1) [(asset "A")] [(asset "B")])', "unknown operator 'rsii'"),
        ("(weight-equal [])", "empty vector"),
        ('(weight-specified 0 (asset "A") 0 (asset "B"))', "all zero"),
        ('(weight-specified -1 (asset "A") 2 (asset "B"))', ">= 0"),
        ('(weight-specified 1 (asset "A") 2)', "pairs"),
        ('(weight-inverse-volatility 0 [(asset "A")])', "whole number >= 1"),
        ('(if (> (rsi "A" {:window 2.5}) 1) [(asset "A")] [(asset "B")])', "whole number >= 1"),
        ('(if (> (rsi "A") 1) [(asset "A")] [(asset "B")])', "needs {:window N}"),
        ('(if (> (rsi "A" {:windw 3}) 1) [(asset "A")] [(asset "B")])', "unknown rsi parameter"),
        ('(if (> (rsi "A" {:window 3}) 1) [(asset "A")])', "argument"),
        ('(filter (rsi {:window 3}) (select-top 0) [(asset "A")])', "whole number >= 1"),
        ('(filter (rsi {:window 3}) (pick-top 1) [(asset "A")])', "unknown operator 'pick-top'"),
        ('(filter (rsi "A" {:window 3}) (select-top 1) [(asset "A")])', "names no ticker"),
        ('(if (rsi "A" {:window 3}) [(asset "A")] [(asset "B")])', "expected a condition"),
        ('(if (not (> 1 2) (> 2 1)) [(asset "A")] [(asset "B")])', "(not condition)"),
        ("(asset)", "ticker"),
        ('(group [(asset "A")])', "name"),
        ('(rsi "A" {:window 3})', "not an allocation"),
    ],
)
def test_invalid_strategies_fail_at_load_with_position(body: str, fragment: str) -> None:
    with pytest.raises(DslValidationError) as caught:
        parse_strategy(symphony(body), file="bad.clj")
    assert fragment in str(caught.value)
    assert caught.value.line == 2
    assert str(caught.value).startswith("bad.clj:2:")


def test_rebalance_threshold_and_metadata() -> None:
    strategy = parse_strategy(symphony('(asset "A")', '{:asset-class "EQUITIES", :rebalance-threshold 0.05}'))
    assert strategy.rebalance_threshold == 0.05
    assert strategy.metadata["asset-class"] == "EQUITIES"
    assert parse_strategy(symphony('(asset "A")')).rebalance_threshold is None
    with pytest.raises(DslValidationError, match="rebalance-threshold"):
        parse_strategy(symphony('(asset "A")', "{:rebalance-threshold 5}"))


def test_universe_splits_traded_and_indicator_only() -> None:
    strategy = parse_strategy(
        symphony(
            '(if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))'
            ' [(asset "TQQQ")] [(if (< (rsi "brk/b" {:window 10}) 30) [(asset "BRK/B")] [(asset "BIL")])])'
        )
    )
    assert strategy.traded_symbols == {"TQQQ", "BRK/B", "BIL"}
    assert strategy.indicator_symbols == {"SPY", "BRK/B"}
    assert strategy.indicator_only_symbols == {"SPY"}
    assert strategy.universe == {"TQQQ", "BRK/B", "BIL", "SPY"}
    assert strategy.max_lookback == 200


def test_lookback_counts_composite_scoring() -> None:
    # a group whose own allocation needs 11 closes (rsi 10), scored on a 5-day return of its NAV:
    # the NAV starts on close 11 and needs 6 values -> 16 closes.
    strategy = parse_strategy(
        symphony(
            "(filter (cumulative-return {:window 5}) (select-top 1)"
            ' [(group "G" [(if (> (rsi "A" {:window 10}) 50) [(asset "A")] [(asset "B")])]) (asset "C")])'
        )
    )
    assert strategy.max_lookback == 16
    inverse = parse_strategy(symphony('(weight-inverse-volatility 20 [(asset "A") (asset "B")])'))
    assert inverse.max_lookback == 21


def test_long_names_and_zero_weights() -> None:
    strategy = parse_strategy(
        symphony(
            '(weight-specified 100 (if (> (relative-strength-index "A" {:window 3}) 50) [(asset "A")]'
            ' [(asset "B")]) 0 (asset "NEVER"))'
        )
    )
    assert isinstance(strategy.root, n.WeightSpecified)
    assert strategy.root.weights == (1.0,)
    assert "NEVER" not in strategy.universe  # weight 0: validated but never evaluated, no data needed
    cond = strategy.root.children[0]
    assert isinstance(cond, n.If) and isinstance(cond.condition, n.Compare)
    assert isinstance(cond.condition.left, n.Indicator) and cond.condition.left.spec.name == "rsi"


def test_identical_subtrees_are_one_node() -> None:
    branch = '(if (> (rsi "A" {:window 3}) 50) [(asset "A")] [(group "x" [(asset "B") (asset "C")])])'
    strategy = parse_strategy(symphony(f'(weight-equal [{branch} (group "g" [{branch}])])'))
    root = strategy.root
    assert isinstance(root, n.WeightEqual)
    group = root.children[1]
    assert isinstance(group, n.Group)
    assert group.body is root.children[0]
    assert strategy.distinct_nodes < strategy.node_count


def test_load_strategy_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "s (copy).clj"  # a path, even one with a parenthesis, is never taken for text
    path.write_text(symphony('(asset "A")'))
    assert load_strategy(path).file == str(path)
    assert load_strategy(str(path)).name == "S"
    assert parse_strategy(symphony('(asset "A")')).file is None
    with pytest.raises(DslValidationError, match="cannot read"):
        load_strategy(tmp_path / "missing.clj")
    with pytest.raises(DslValidationError, match="cannot read"):
        load_strategy(tmp_path)
    (tmp_path / "latin1.clj").write_bytes(b'(defsymphony "caf\xe9" {} (asset "A"))')
    with pytest.raises(DslValidationError, match="not UTF-8"):
        load_strategy(tmp_path / "latin1.clj")
    with pytest.raises(DslParseError, match=r"\(copy\)\.clj:1:1: "):
        path.write_text("(defsymphony")
        load_strategy(path)
