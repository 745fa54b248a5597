"""A new node kind is one new definition (plus its tests): defined here, outside the DSL's package, it
parses, validates, evaluates on both paths, traces and backtests with no other file touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pytest

from tests.support.strategy_v2.dsl_helpers import InMemoryMarketData, frame, random_walk_market
from the_alchemiser.strategy_v2 import dsl
from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.evaluator import OK, DayFailure

END = date(2024, 6, 28)
NONE_LEFT = "first-of: no child has an allocation"


@pytest.fixture(scope="module")
def first_of() -> Iterator[type[n.Allocation]]:
    @n.node("first-of", arity=1, usage="(first-of [child ...])")
    class FirstOf(n.Allocation):
        """`(first-of [child ...])`. Sets: the allocation of the first child that has one that day.
        Requires: the children's allocations, in order, up to that one."""

        children: tuple[n.Allocation, ...]

        @classmethod
        def build(cls, b: Any, name: str, form: Any, args: tuple[Any, ...], at: int) -> n.Allocation:
            return b.make(cls, b.vector(args[0], at))  # type: ignore[no-any-return]

        def axis(self, ev: Any) -> Any:
            taken = np.zeros(ev.size, dtype=bool)
            shares = []
            for child in self.children:
                first = (ev.allocation(child).fail == OK) & ~taken
                shares.append(first.astype(float))
                taken |= first
            fail = np.where(taken, OK, ev.code(NONE_LEFT)).astype(np.int32)
            return ev.mix(list(zip(self.children, shares, strict=True)), fail)

        def day(self, dv: Any) -> dict[str, float]:
            return dv.allocation(self.first(dv))

        def first(self, dv: Any) -> n.Allocation:
            for child in self.children:
                try:
                    dv.allocation(child)
                except DayFailure:
                    continue
                return child
            dv.fail(NONE_LEFT)

        def trace(self, tracer: Any, path: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[n.Allocation, ...]]:
            return path, (self.first(tracer.day),)

    yield FirstOf
    del n.OPERATORS["first-of"]


def test_the_new_kind_parses_validates_and_allocates_on_both_paths(first_of: type[n.Allocation]) -> None:
    with pytest.raises(dsl.DslValidationError, match=r"expected \(first-of \[child \.\.\.\]\), found 2 argument"):
        dsl.parse_strategy('(defsymphony "T" {} (first-of [(asset "A")] [(asset "B")]))')
    strategy = dsl.parse_strategy(
        '(defsymphony "T" {} (first-of [(asset "NEW")'
        ' (if (> (current-price "A") (current-price "B")) [(asset "A")] [(asset "B")])]))'
    )
    assert isinstance(strategy.root, first_of)
    assert strategy.universe == {"NEW", "A", "B"}
    bars = random_walk_market(["A", "B"], END, 40) | {"NEW": frame(np.linspace(5, 6, 10), end=END)}
    listing = bars["NEW"].index[0].date()
    weights = dsl.evaluate_range(strategy, bars, bars["A"].index[20].date(), END)
    assert (weights.loc[: bars["A"].index[29], "NEW"] == 0).all()  # before NEW lists: the if's choice
    assert (weights.loc[bars["NEW"].index[0] :, "NEW"] == 1).all()
    port = InMemoryMarketData(bars)
    for day in weights.index:
        live = dsl.evaluate_strategy(strategy, port, day.date())
        axis = dsl.evaluate_on(strategy, dsl.Market(bars, strategy.universe, end=day.date()), whole_axis=True)
        expected = {s: w for s, w in weights.loc[day].items() if w > 0}
        assert live.weights == expected == axis.weights
        assert (live.trace == []) is (day.date() >= listing)  # the if is traced only when it is the path


def test_the_new_kind_fails_alike_on_both_paths(first_of: type[n.Allocation]) -> None:
    strategy = dsl.parse_strategy('(defsymphony "T" {} (first-of [(asset "NEW")]))')
    bars = {"A": frame([1.0, 2.0, 3.0]), "NEW": frame([1.0], end=date(2024, 7, 1))}
    market = dsl.Market(bars, ["A", "NEW"], end=END)
    for whole_axis in (False, True):
        with pytest.raises(dsl.DslEvaluationError, match=NONE_LEFT):
            dsl.evaluate_on(strategy, market, whole_axis=whole_axis)
