"""The live path: one day, top-down, only the branches taken, memoised per node.

It shares the whole-axis `Evaluator`'s caches and series: indicators are still computed once per
(symbol, indicator) over all history (RSI and EMA need it), and a composite child that a `filter` or
`weight-inverse-volatility` scores gets its synthetic NAV from the whole-axis evaluation of that child.
Everything else (the `if` chain, the mixing of weights) is plain scalar work for the one day, which is
what makes a single-day answer fast.

A composite child scored on a metric that only looks at NAV ratios inside its window (cumulative-return,
moving-average-return, stdev-return, max-drawdown) needs its NAV over that window only: the child is
evaluated day by day over the window (memoised per node and day) instead of over the whole axis. Its
NAV's level does not matter to those metrics; when the child is not yet defined on the window's first
day the whole axis decides (it knows whether and when the NAV started).

The answer equals the whole-axis evaluation's value on that day; failures carry the same reasons and are
reported in the same order (first failing child in list order).
"""

from __future__ import annotations

import math

import numpy as np

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.evaluator import OK, Evaluator, Weights, describe, ranked_candidates
from the_alchemiser.strategy_v2.dsl.indicators import compute

# Metrics of a NAV that depend only on its ratios within the window (not its level or older history).
WINDOW_RATIO_METRICS = frozenset(["cumulative-return", "moving-average-return", "stdev-return", "max-drawdown"])
NAV_START = 100.0


class DayFailure(Exception):
    """A node has no allocation on the day; `code` indexes `Evaluator.reasons`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class DayEvaluator:
    """Evaluates nodes on one calendar day (index `day` of the evaluator's market).

    `allocation(node)` gives the day's weights or raises DayFailure; `truth`, `value`,
    `filter_decision` and `inverse_volatility_decision` expose the decisions the trace reports."""

    def __init__(self, evaluator: Evaluator, day: int, days: dict[int, DayEvaluator] | None = None) -> None:
        self.ev = evaluator
        self.t = day
        self._days = {} if days is None else days  # every day's evaluator, shared: memo per (node, day)
        self._days[day] = self
        self._memo: dict[int, dict[str, float] | int] = {}  # id(node) -> weights, or a failure code
        self._truth: dict[int, bool | int] = {}  # id(condition) -> truth, or a failure code (as -code - 1)
        self._scores: dict[tuple[int, n.IndicatorSpec], tuple[float, int]] = {}
        self._filters: dict[int, tuple[list[float], list[int], list[bool]]] = {}
        self._inverse: dict[int, tuple[list[float], list[int], list[float]]] = {}

    def at(self, day: int) -> DayEvaluator:
        """The evaluator of another day, sharing this one's market, caches and per-day memos."""
        found = self._days.get(day)
        return DayEvaluator(self.ev, day, self._days) if found is None else found

    # ---- allocations ----
    def allocation(self, node: n.Allocation) -> dict[str, float]:
        """The node's weights on the day (summing to 1); raises DayFailure."""
        found = self._memo.get(id(node))
        if found is None:
            try:
                found = self._allocation(node)
            except DayFailure as failure:
                found = failure.code
            self._memo[id(node)] = found
        if isinstance(found, int):
            raise DayFailure(found)
        return found

    def _allocation(self, node: n.Allocation) -> dict[str, float]:
        axis = self.ev.computed_allocation(node)
        if axis is not None:  # already evaluated over the whole axis (a scored composite): read the day
            return self._column(axis)
        if isinstance(node, n.Asset):
            if self.ev.market.position(node.symbol)[self.t] < 0:
                raise DayFailure(self.ev.code(f"{node.symbol} has no bars yet"))
            return {node.symbol: 1.0}
        if isinstance(node, n.Group):
            return self.allocation(node.body)
        if isinstance(node, n.WeightEqual):
            share = 1.0 / len(node.children)
            return self._mix([(child, share) for child in node.children])
        if isinstance(node, n.WeightSpecified):
            return self._mix(list(zip(node.children, node.weights, strict=True)))
        if isinstance(node, n.If):
            return self.allocation(node.then if self.truth(node.condition) else node.otherwise)
        if isinstance(node, n.Filter):
            return self._filter(node)
        return self._inverse_volatility(node)

    def _column(self, weights: Weights) -> dict[str, float]:
        code = int(weights.fail[self.t])
        if code != OK:
            raise DayFailure(code)
        column = weights.matrix[:, self.t]
        return {s: float(w) for s, w in zip(weights.symbols, column, strict=True) if w != 0.0}

    def _mix(self, parts: list[tuple[n.Allocation, float]]) -> dict[str, float]:
        total: dict[str, float] = {}
        for child, share in parts:
            for symbol, weight in self.allocation(child).items():
                total[symbol] = total.get(symbol, 0.0) + weight * share
        return total

    def _filter(self, node: n.Filter) -> dict[str, float]:
        _, _, selected = self.filter_decision(node)
        kept = [child for i, child in enumerate(node.children) if selected[i]]
        if not kept:
            reason = f"filter {node.metric.label} select-{node.select} {node.count}: no candidate could be scored"
            raise DayFailure(self.ev.code(reason))
        share = 1.0 / len(kept)
        return self._mix([(child, share) for child in kept])  # list order, as the whole-axis path fails

    def filter_decision(self, node: n.Filter) -> tuple[list[float], list[int], list[bool]]:
        """Scores, score failure codes and the kept mask per candidate; ties keep list order (stable)."""
        found = self._filters.get(id(node))
        if found is None:
            scored = [self.score(child, node.metric) for child in node.children]
            scores = [value for value, _ in scored]
            fails = [code for _, code in scored]
            chosen = set(ranked_candidates(scores, fails, node.select)[: node.count])
            found = self._filters[id(node)] = (scores, fails, [i in chosen for i in range(len(scores))])
        return found

    def _inverse_volatility(self, node: n.WeightInverseVolatility) -> dict[str, float]:
        _, _, shares = self.inverse_volatility_decision(node)
        if not any(shares):
            reason = f"weight-inverse-volatility {node.window}: no child has a defined, non-zero volatility"
            raise DayFailure(self.ev.code(reason))
        return self._mix([(c, w) for c, w in zip(node.children, shares, strict=True) if w > 0])

    def inverse_volatility_decision(
        self, node: n.WeightInverseVolatility
    ) -> tuple[list[float], list[int], list[float]]:
        """Sigmas (stdev-return, percent), their failure codes and the shares per child."""
        found = self._inverse.get(id(node))
        if found is None:
            spec = n.IndicatorSpec("stdev-return", window=node.window)
            scored = [self.score(child, spec) for child in node.children]
            inverse = [1.0 / sigma if code == OK and sigma > 0 else 0.0 for sigma, code in scored]
            total = sum(inverse)
            shares = [w / total if total > 0 else 0.0 for w in inverse]
            found = self._inverse[id(node)] = ([v for v, _ in scored], [c for _, c in scored], shares)
        return found

    # ---- scores: an asset on its own closes, a composite on its synthetic NAV ----
    def score(self, child: n.Allocation, spec: n.IndicatorSpec) -> tuple[float, int]:
        """(value, failure code) of the metric for the candidate on the day."""
        key = (id(child), spec)
        found = self._scores.get(key)
        if found is None:
            windowed = None
            if (
                not isinstance(child, n.Asset)
                and spec.name in WINDOW_RATIO_METRICS
                and self.ev.computed_allocation(child) is None
            ):
                windowed = self._window_score(child, spec)
            if windowed is None:
                series = self.ev.score(child, spec)
                windowed = (float(series.values[self.t]), int(series.fail[self.t]))
            found = self._scores[key] = windowed
        return found

    def _window_score(self, child: n.Allocation, spec: n.IndicatorSpec) -> tuple[float, int] | None:
        """The metric from the child's NAV over the window only; None when the whole axis must decide."""
        first = self.t - spec.need + 1
        if first < 0:
            return math.nan, self.ev.code(
                f"history too short: {spec.label} of {describe(child)} needs {spec.need} closes"
            )
        try:
            self.at(first).allocation(child)
        except DayFailure:
            return None  # not started on the window's first day: did it start earlier? the whole axis knows
        nav = [NAV_START]
        for day in range(first + 1, self.t + 1):
            try:
                held = self.at(day - 1).allocation(child)
            except DayFailure:
                held = {}  # once started, a day without an allocation is cash
            change = sum(weight * float(self.ev.market.calendar_returns(s)[day]) for s, weight in held.items())
            nav.append(nav[-1] * (1.0 + change))
        value = float(compute(spec, np.array(nav))[-1])
        if not math.isfinite(value):
            return value, self.ev.code(f"{spec.label} of {describe(child)} is not a finite number")
        return value, OK

    # ---- conditions ----
    def truth(self, node: n.Condition) -> bool:
        found = self._truth.get(id(node))
        if found is None:
            try:
                found = self._decide(node)
            except DayFailure as failure:
                found = -failure.code - 1
            self._truth[id(node)] = found
        if not isinstance(found, bool):
            raise DayFailure(-found - 1)
        return found

    def _decide(self, node: n.Condition) -> bool:
        if isinstance(node, n.Compare):
            a, b = self.value(node.left), self.value(node.right)
            if node.op == ">":
                return a > b
            if node.op == "<":
                return a < b
            if node.op == ">=":
                return a >= b
            if node.op == "<=":
                return a <= b
            return a == b
        if isinstance(node, n.Not):
            return not self.truth(node.item)
        if isinstance(node, n.And):
            # short-circuit left to right; a loop, not all()/any() over a generator, which would cost a
            # C-level frame per nesting level (see build.ensure_recursion_limit)
            for item in node.items:  # noqa: SIM110
                if not self.truth(item):
                    return False
            return True
        for item in node.items:  # noqa: SIM110
            if self.truth(item):
                return True
        return False

    def value_or_none(self, node: n.Expr) -> float | None:
        """The expression's value on the day, None when it has none (for the trace)."""
        try:
            value = self.value(node)
        except DayFailure:
            return None
        return value if math.isfinite(value) else None

    def value(self, node: n.Expr) -> float:
        if isinstance(node, n.Constant):
            return node.value
        series = self.ev.value(node)
        code = int(series.fail[self.t])
        if code != OK:
            raise DayFailure(code)
        return float(series.values[self.t])
