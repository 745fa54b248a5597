"""The two evaluators: the whole date axis at once (`Evaluator`) and one day top-down (`DayEvaluator`).

Neither knows a node kind. Each asks the node for its own rule (`node.axis(evaluator)`,
`node.day(day_evaluator)`, defined with the node in nodes.py) and supplies what the rules need:
memoisation, failure codes, indicator series, synthetic NAVs, candidates' scores and the mixing of
weights.

- `Evaluator`: every distinct node once over the whole date axis, numpy arrays (one row per symbol).
  Backtests use it, and so does the live day for any composite a `filter` or `weight-inverse-volatility`
  scores on its synthetic NAV over all history. Failures are int codes into `Evaluator.reasons`
  (0 = fine), so they combine with numpy like the values do.
- `DayEvaluator`: one calendar day, scalars, only the branches taken, memoised per (node, day); a
  failure is a DayFailure carrying the same code. Indicators are read off the whole axis's series (RSI
  and EMA need all history). A composite scored on a metric that only looks at NAV ratios inside its
  window (cumulative-return, moving-average-return, stdev-return, max-drawdown) needs its NAV over that
  window only: the child is evaluated day by day over the window instead of over the whole axis. Its
  NAV's level does not matter to those metrics; when the child is not yet defined on the window's first
  day the whole axis decides (it knows whether and when the NAV started).

The day's answer equals the whole axis's value on that day; failures carry the same reasons and are
reported in the same order (first failing child in list order)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt

from the_alchemiser.strategy_v2.dsl.indicators import IndicatorSpec, compute
from the_alchemiser.strategy_v2.dsl.reader import ensure_recursion_limit

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.dsl.market import Market
    from the_alchemiser.strategy_v2.dsl.nodes import Allocation, Condition, Expr, Node

Array = npt.NDArray[Any]
T = TypeVar("T")
OK = 0
# Metrics of a NAV that depend only on its ratios within the window (not its level or older history).
WINDOW_RATIO_METRICS = frozenset(["cumulative-return", "moving-average-return", "stdev-return", "max-drawdown"])
NAV_START = 100.0


@dataclass(frozen=True, slots=True)
class Weights:
    """A node's allocation per day: one row of weights per symbol (zero on failed days), failure codes."""

    symbols: tuple[str, ...]
    matrix: Array  # (len(symbols), days)
    fail: Array

    @property
    def by_symbol(self) -> dict[str, Array]:
        return dict(zip(self.symbols, self.matrix, strict=True))


@dataclass(frozen=True, slots=True)
class Values:
    """An expression, truth or score per day, with failure codes."""

    values: Array
    fail: Array


def first_failure(fail: Array, other: Array) -> Array:
    return np.where(fail != OK, fail, other)


class Evaluator:
    """The whole date axis of a market; `allocation(node)` and `values(node)` are memoised per node."""

    def __init__(self, market: Market) -> None:
        ensure_recursion_limit()
        self.market = market
        self.size = len(market)
        self.reasons: list[str] = ["ok"]
        self._codes: dict[str, int] = {}
        self._allocations: dict[int, Weights] = {}  # id(node) -> Weights (nodes stay alive via the tree)
        self._values: dict[int, Values] = {}  # id(node) -> a condition's truth or an expression's value
        self._series: dict[tuple[str, IndicatorSpec], Values] = {}
        self._returns: dict[tuple[str, ...], Array] = {}
        self._union: dict[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], list[Array]]] = {}
        self._nav: dict[int, tuple[Array, int]] = {}
        self._nav_series: dict[tuple[int, IndicatorSpec], Values] = {}
        self.zeros = np.zeros(self.size, dtype=np.int32)

    # ---- failure codes ----
    def code(self, reason: str) -> int:
        found = self._codes.get(reason)
        if found is None:
            found = self._codes[reason] = len(self.reasons)
            self.reasons.append(reason)
        return found

    def reason(self, code: int) -> str:
        return self.reasons[code]

    # ---- the nodes' own rules, memoised ----
    def allocation(self, node: Allocation) -> Weights:
        found = self._allocations.get(id(node))
        if found is None:
            found = self._allocations[id(node)] = node.axis(self)
        return found

    def computed_allocation(self, node: Allocation) -> Weights | None:
        """The node's whole-axis allocation if it has already been evaluated, else None."""
        return self._allocations.get(id(node)) if self._allocations else None

    def values(self, node: Condition | Expr) -> Values:
        found = self._values.get(id(node))
        if found is None:
            found = self._values[id(node)] = node.axis(self)
        return found

    # ---- series: symbols and synthetic NAVs ----
    def symbol_series(self, symbol: str, spec: IndicatorSpec) -> Values:
        key = (symbol, spec)
        found = self._series.get(key)
        if found is None:
            raw = compute(spec, self.market.own_closes[symbol])
            pos = self.market.position(symbol)
            found = self._place(raw, pos, f"{spec.label} of {symbol}", spec)
            if pos[0] < 0:  # days before the symbol's first bar: it lists later, its history is not short
                unlisted = self.code(self.market.not_listed_yet(symbol))
                found = Values(found.values, np.where(pos < 0, unlisted, found.fail).astype(np.int32))
            self._series[key] = found
        return found

    def nav(self, node: Allocation) -> tuple[Array, int]:
        """The synthetic daily-rebalanced NAV of a composite node (NaN before it starts) and its start."""
        found = self._nav.get(id(node))
        if found is None:
            weights = self.allocation(node)
            defined = np.flatnonzero(weights.fail == OK)
            nav = np.full(self.size, np.nan)
            start = int(defined[0]) if len(defined) else self.size
            if start < self.size:
                daily = np.zeros(self.size)
                returns = self.returns_matrix(weights.symbols)
                daily[1:] = np.einsum("ij,ij->j", weights.matrix[:, :-1], returns[:, 1:])
                nav[start] = NAV_START
                nav[start + 1 :] = NAV_START * np.cumprod(1.0 + daily[start + 1 :])
            found = self._nav[id(node)] = (nav, start)
        return found

    def returns_matrix(self, symbols: tuple[str, ...]) -> Array:
        found = self._returns.get(symbols)
        if found is None:
            found = self._returns[symbols] = np.array([self.market.calendar_returns(s) for s in symbols])
        return found

    def nav_series(self, node: Allocation, spec: IndicatorSpec) -> Values:
        """The metric of a composite's NAV; before the NAV starts, the composite's own reason that day."""
        key = (id(node), spec)
        found = self._nav_series.get(key)
        if found is None:
            nav, start = self.nav(node)
            raw = compute(spec, nav[start:])
            pos = np.arange(self.size) - start
            found = self._place(raw, pos, f"{spec.label} of {node.describe()}", spec)
            if start > 0:
                fail = found.fail.copy()
                fail[:start] = self.allocation(node).fail[:start]
                found = Values(found.values, fail)
            self._nav_series[key] = found
        return found

    def _place(self, raw: Array, pos: Array, what: str, spec: IndicatorSpec) -> Values:
        """Lay a per-own-index indicator on the calendar with failure codes."""
        too_short = self.code(f"history too short: {what} needs {spec.need} closes")
        if len(raw) == self.size and self.size and pos[0] == 0:
            # a series on every calendar day (pos is 0..size-1): no gather needed; too short is a prefix
            values = raw
            fail = np.zeros(self.size, dtype=np.int32)
            fail[: spec.need - 1] = too_short
            bad = ~np.isfinite(values)
            bad[: spec.need - 1] = False
        else:
            values = np.where(pos >= 0, raw[np.clip(pos, 0, max(len(raw) - 1, 0))] if len(raw) else np.nan, np.nan)
            short = pos < spec.need - 1
            fail = np.where(short, too_short, OK).astype(np.int32)
            bad = ~short & ~np.isfinite(values)
        if bad.any():
            fail = np.where(bad, self.code(f"{what} is not a finite number"), fail).astype(np.int32)
        return Values(values, fail)

    def scores(self, children: tuple[Allocation, ...], spec: IndicatorSpec) -> tuple[Array, Array]:
        """Candidates' scores (rows: an asset on its own closes, a composite on its NAV) and failure codes."""
        found = [child.score_series(self, spec) for child in children]
        return np.array([v.values for v in found]), np.array([v.fail for v in found])

    # ---- mixing weights ----
    def union(self, parts: list[tuple[str, ...]]) -> tuple[tuple[str, ...], list[Array]]:
        """The union of symbol tuples (first-seen order) and, per part, its rows in the union."""
        key = tuple(parts)
        found = self._union.get(key)
        if found is None:
            index: dict[str, int] = {}
            for symbols in parts:
                for symbol in symbols:
                    index.setdefault(symbol, len(index))
            rows = [np.array([index[s] for s in symbols], dtype=np.intp) for symbols in parts]
            found = self._union[key] = (tuple(index), rows)
        return found

    def mix(self, parts: Sequence[tuple[Allocation, float | Array]], fail: Array | None = None) -> Weights:
        """Sum of children's weights times their shares (scalars or per-day arrays); the first failing
        child (with a non-zero share) fails the day."""
        fail = self.zeros if fail is None else fail
        children = [self.allocation(child) for child, _ in parts]
        symbols, rows = self.union([w.symbols for w in children])
        total = np.zeros((len(symbols), self.size))
        for weights, (_, share), where in zip(children, parts, rows, strict=True):
            if isinstance(share, np.ndarray):
                if not share.any():
                    continue
                fail = np.where((fail == OK) & (share > 0), weights.fail, fail)
            elif weights.fail.any():
                fail = first_failure(fail, weights.fail)
            total[where] += weights.matrix * share
        if fail.any():
            total[:, fail != OK] = 0.0
        return Weights(symbols, total, fail)


class DayFailure(Exception):
    """A node has no allocation (or value) on the day; `code` indexes `Evaluator.reasons`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class DayEvaluator:
    """One calendar day (index `t` of the evaluator's market), sharing the whole-axis evaluator's caches.

    `allocation(node)` gives the day's weights or raises DayFailure; `truth`, `value` and the nodes'
    `decision`s are what the trace reports."""

    def __init__(self, evaluator: Evaluator, day: int, days: dict[int, DayEvaluator] | None = None) -> None:
        self.ev = evaluator
        self.t = day
        self._days = {} if days is None else days  # every day's evaluator, shared: memo per (node, day)
        self._days[day] = self
        self._memo: dict[int, dict[str, float] | int] = {}  # id(node) -> weights, or a failure code
        self._truth: dict[int, bool | int] = {}  # id(condition) -> truth, or a failure code (as -code - 1)
        self._scores: dict[tuple[int, IndicatorSpec], tuple[float, int]] = {}
        self._decisions: dict[int, Any] = {}  # id(node) -> the node's decision of the day

    def at(self, day: int) -> DayEvaluator:
        """The evaluator of another day, sharing this one's market, caches and per-day memos."""
        found = self._days.get(day)
        return DayEvaluator(self.ev, day, self._days) if found is None else found

    def fail(self, reason: str) -> NoReturn:
        raise DayFailure(self.ev.code(reason))

    # ---- the nodes' own rules, memoised per (node, day) ----
    def allocation(self, node: Allocation) -> dict[str, float]:
        """The node's weights on the day (summing to 1); raises DayFailure."""
        key = id(node)
        found = self._memo.get(key)
        if found is None:
            computed = self.ev._allocations  # computed_allocation(node), inlined: the hottest call of a day
            axis = computed.get(key) if computed else None
            try:  # already evaluated over the whole axis (a scored composite): read the day
                found = node.day(self) if axis is None else self._column(axis)
            except DayFailure as failure:
                found = failure.code
            self._memo[key] = found
        if isinstance(found, int):
            raise DayFailure(found)
        return found

    def truth(self, node: Condition) -> bool:
        found = self._truth.get(id(node))
        if found is None:
            try:
                found = node.day(self)
            except DayFailure as failure:
                found = -failure.code - 1
            self._truth[id(node)] = found
        if not isinstance(found, bool):
            raise DayFailure(-found - 1)
        return found

    def value(self, node: Expr) -> float:
        return node.day(self)

    def value_or_none(self, node: Expr) -> float | None:
        """The expression's value on the day, None when it has none (for the trace)."""
        try:
            value = self.value(node)
        except DayFailure:
            return None
        return value if math.isfinite(value) else None

    def read(self, series: Values) -> float:
        """A whole-axis series on the day; raises DayFailure where it fails."""
        code = int(series.fail[self.t])
        if code != OK:
            raise DayFailure(code)
        return float(series.values[self.t])

    def decision(self, node: Node, decide: Callable[[], T]) -> T:
        """A node's decision of the day (a filter's ranking, inverse-volatility shares), made once."""
        found = self._decisions.get(id(node))
        if found is None:
            found = self._decisions[id(node)] = decide()
        return found  # type: ignore[no-any-return]

    def _column(self, weights: Weights) -> dict[str, float]:
        code = int(weights.fail[self.t])
        if code != OK:
            raise DayFailure(code)
        column = weights.matrix[:, self.t]
        return {s: float(w) for s, w in zip(weights.symbols, column, strict=True) if w != 0.0}

    def mix(self, parts: list[tuple[Allocation, float]]) -> dict[str, float]:
        total: dict[str, float] = {}
        for child, share in parts:
            for symbol, weight in self.allocation(child).items():
                total[symbol] = total.get(symbol, 0.0) + weight * share
        return total

    # ---- scores: an asset on its own closes, a composite on its synthetic NAV ----
    def scores(self, children: tuple[Allocation, ...], spec: IndicatorSpec) -> tuple[Array, Array]:
        """Candidates' scores and failure codes on the day, as one-column arrays (rows: candidates)."""
        values, codes = zip(*[self.score(child, spec) for child in children], strict=True)
        return np.array(values)[:, None], np.array(codes)[:, None]

    def score(self, child: Allocation, spec: IndicatorSpec) -> tuple[float, int]:
        """(value, failure code) of the metric for the candidate on the day."""
        key = (id(child), spec)
        found = self._scores.get(key)
        if found is None:
            windowed = None
            if child.composite and spec.name in WINDOW_RATIO_METRICS and self.ev.computed_allocation(child) is None:
                windowed = self._window_score(child, spec)
            if windowed is None:
                series = child.score_series(self.ev, spec)
                windowed = (float(series.values[self.t]), int(series.fail[self.t]))
            found = self._scores[key] = windowed
        return found

    def _window_score(self, child: Allocation, spec: IndicatorSpec) -> tuple[float, int] | None:
        """The metric from the child's NAV over the window only; None when the whole axis must decide."""
        first = self.t - spec.need + 1
        if first < 0:
            return None  # too short, or not started: the whole axis gives the reason
        try:
            self.at(first).allocation(child)
        except DayFailure:
            return None  # not started on the window's first day: did it start earlier? the whole axis knows
        returns = self.ev.market.calendar_returns
        nav = [NAV_START]
        for day in range(first + 1, self.t + 1):
            try:
                held = self.at(day - 1).allocation(child)
            except DayFailure:
                held = {}  # once started, a day without an allocation is cash
            change = 0.0
            for symbol, weight in held.items():
                change += weight * returns(symbol).item(day)  # a Python float, as float() of it
            nav.append(nav[-1] * (1.0 + change))
        value = float(compute(spec, np.array(nav))[-1])
        if not math.isfinite(value):
            return value, self.ev.code(f"{spec.label} of {child.describe()} is not a finite number")
        return value, OK
