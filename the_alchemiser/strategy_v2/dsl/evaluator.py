"""One evaluator for one day and for a date range: each distinct node is evaluated once over the whole
date axis with numpy arrays; the live answer is the last day.

Per day, a node either has an allocation (weights summing to 1) or fails with a reason. Failures are
int codes into `Evaluator.reasons` (0 = fine), so they combine with numpy like the values do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.build import ensure_recursion_limit
from the_alchemiser.strategy_v2.dsl.indicators import compute
from the_alchemiser.strategy_v2.dsl.market import Market

Array = npt.NDArray[Any]
OK = 0
# Filter scores this close count as equal (ties keep list order): the same mathematical score reached by
# two float paths (a NAV over the whole axis or over the window, weights 0.5 + 0.5 or 1) differs in the
# last bits, and a ranking must not flip on that.
TIE_RELATIVE = 1e-9
TIE_ABSOLUTE = 1e-12


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
    """An expression or score per day, with failure codes."""

    values: Array
    fail: Array


def ranking_order(keys: Array) -> Array:
    """Per column (day), candidate indices best first for ascending `keys` (+inf: unscorable, last).

    Sorted keys whose gap to the previous one is within the tie tolerance join its tie class; candidates
    are ordered by class, then by list order (a stable sort, as Clojure's sort-by is)."""
    order = np.argsort(keys, axis=0, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=0)
    with np.errstate(invalid="ignore"):
        gap = np.abs(np.diff(ordered, axis=0))
        limit = TIE_RELATIVE * np.maximum(np.abs(ordered[1:]), np.abs(ordered[:-1])) + TIE_ABSOLUTE
        new_class = ~(gap <= limit) | np.isinf(ordered[1:])  # an unscorable key never ties a score
    sorted_classes = np.concatenate([np.zeros((1, keys.shape[1]), dtype=np.intp), np.cumsum(new_class, axis=0)])
    classes = np.empty_like(sorted_classes)
    np.put_along_axis(classes, order, sorted_classes, axis=0)
    ranked: Array = np.argsort(classes, axis=0, kind="stable")
    return ranked


def ranked_candidates(scores: list[float], fails: list[int], select: str) -> list[int]:
    """The scorable candidates' indices, best first, for one day: `ranking_order` in plain Python (the
    same float operations, so the same classes), which is faster for a handful of candidates."""
    sign = -1.0 if select == "top" else 1.0
    keyed = sorted((sign * scores[i], i) for i, code in enumerate(fails) if code == OK)
    classes: list[tuple[int, int]] = []
    tie_class, previous = 0, 0.0
    for position, (key, i) in enumerate(keyed):
        if position and not abs(key - previous) <= TIE_RELATIVE * max(abs(key), abs(previous)) + TIE_ABSOLUTE:
            tie_class += 1
        classes.append((tie_class, i))
        previous = key
    return [i for _, i in sorted(classes)]


def _first_failure(fail: Array, other: Array) -> Array:
    return np.where(fail != OK, fail, other)


class Evaluator:
    def __init__(self, market: Market) -> None:
        ensure_recursion_limit()
        self.market = market
        self.size = len(market)
        self.reasons: list[str] = ["ok"]
        self._codes: dict[str, int] = {}
        self._memo: dict[int, Values] = {}  # id(node) -> Values (nodes stay alive via the tree)
        self._allocations: dict[int, Weights] = {}  # id(node) -> Weights
        self._series: dict[tuple[str, n.IndicatorSpec], Values] = {}
        self._decisions: dict[int, tuple[Array, Array, Array]] = {}  # filter / inverse-volatility
        self._returns: dict[tuple[str, ...], Array] = {}
        self._union: dict[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], list[Array]]] = {}
        self._nav: dict[int, tuple[Array, int]] = {}
        self._nav_series: dict[tuple[int, n.IndicatorSpec], Values] = {}
        self._zeros = np.zeros(self.size, dtype=np.int32)

    # ---- failure codes ----
    def code(self, reason: str) -> int:
        found = self._codes.get(reason)
        if found is None:
            found = self._codes[reason] = len(self.reasons)
            self.reasons.append(reason)
        return found

    def reason(self, code: int) -> str:
        return self.reasons[code]

    # ---- series: symbols and synthetic NAVs ----
    def symbol_series(self, symbol: str, spec: n.IndicatorSpec) -> Values:
        key = (symbol, spec)
        found = self._series.get(key)
        if found is None:
            raw = compute(spec, self.market.own_closes[symbol])
            pos = self.market.position(symbol)
            found = self._place(raw, pos, f"{spec.label} of {symbol}", spec)
            self._series[key] = found
        return found

    def nav(self, node: n.Allocation) -> tuple[Array, int]:
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
                nav[start] = 100.0
                nav[start + 1 :] = 100.0 * np.cumprod(1.0 + daily[start + 1 :])
            found = self._nav[id(node)] = (nav, start)
        return found

    def returns_matrix(self, symbols: tuple[str, ...]) -> Array:
        found = self._returns.get(symbols)
        if found is None:
            found = self._returns[symbols] = np.array([self.market.calendar_returns(s) for s in symbols])
        return found

    def nav_series(self, node: n.Allocation, spec: n.IndicatorSpec, label: str) -> Values:
        key = (id(node), spec)
        found = self._nav_series.get(key)
        if found is None:
            nav, start = self.nav(node)
            raw = compute(spec, nav[start:])
            pos = np.arange(self.size) - start
            found = self._nav_series[key] = self._place(raw, pos, f"{spec.label} of {label}", spec)
        return found

    def _place(self, raw: Array, pos: Array, what: str, spec: n.IndicatorSpec) -> Values:
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

    def score(self, node: n.Allocation, spec: n.IndicatorSpec) -> Values:
        """A filter / inverse-volatility candidate's metric: an asset on its own closes, anything else on
        its synthetic NAV."""
        if isinstance(node, n.Asset):
            return self.symbol_series(node.symbol, spec)
        return self.nav_series(node, spec, describe(node))

    # ---- conditions and expressions ----
    def value(self, node: n.Expr) -> Values:
        found = self._memo.get(id(node))
        if found is None:
            if isinstance(node, n.Constant):
                found = Values(np.full(self.size, node.value), self._zeros)
            else:
                found = self.symbol_series(node.symbol, node.spec)
            self._memo[id(node)] = found
        return found

    def truth(self, node: n.Condition) -> Values:
        found = self._memo.get(id(node))
        if found is None:
            found = self._memo[id(node)] = self._truth(node)
        return found

    def _truth(self, node: n.Condition) -> Values:
        if isinstance(node, n.Compare):
            left, right = self.value(node.left), self.value(node.right)
            a, b = left.values, right.values
            with np.errstate(invalid="ignore"):
                if node.op == ">":
                    result = a > b
                elif node.op == "<":
                    result = a < b
                elif node.op == ">=":
                    result = a >= b
                elif node.op == "<=":
                    result = a <= b
                else:
                    result = a == b
            return Values(result, _first_failure(left.fail, right.fail))
        if isinstance(node, n.Not):
            inner = self.truth(node.item)
            return Values(~inner.values, inner.fail)
        # and / or: short-circuit left to right, per day.
        stop_on = isinstance(node, n.Or)  # `or` stops at the first true item, `and` at the first false
        result = np.full(self.size, not stop_on)
        fail = self._zeros
        decided = np.zeros(self.size, dtype=bool)
        for item in node.items:
            t = self.truth(item)
            open_days = ~decided
            failed = open_days & (t.fail != OK)
            fail = np.where(failed, t.fail, fail)
            stops = open_days & (t.fail == OK) & (t.values == stop_on)
            result = np.where(stops, stop_on, result)
            decided = decided | failed | stops
        return Values(result, fail)

    # ---- allocations ----
    def allocation(self, node: n.Allocation) -> Weights:
        found = self._allocations.get(id(node))
        if found is None:
            found = self._allocations[id(node)] = self._allocation(node)
        return found

    def computed_allocation(self, node: n.Allocation) -> Weights | None:
        """The node's whole-axis allocation if it has already been evaluated, else None."""
        return self._allocations.get(id(node)) if self._allocations else None

    def _allocation(self, node: n.Allocation) -> Weights:
        if isinstance(node, n.Asset):
            pos = self.market.position(node.symbol)
            held = pos >= 0
            fail = np.where(held, OK, self.code(f"{node.symbol} has no bars yet")).astype(np.int32)
            return Weights((node.symbol,), held.astype(float)[None, :], fail)
        if isinstance(node, n.Group):
            return self.allocation(node.body)
        if isinstance(node, n.WeightEqual):
            share = 1.0 / len(node.children)
            return self._mix([(child, share) for child in node.children])
        if isinstance(node, n.WeightSpecified):
            return self._mix(list(zip(node.children, node.weights, strict=True)))
        if isinstance(node, n.If):
            return self._if(node)
        if isinstance(node, n.Filter):
            return self._filter(node)
        return self._inverse_volatility(node)

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

    def _mix(self, parts: list[tuple[n.Allocation, float | Array]], fail: Array | None = None) -> Weights:
        """Sum of children's weights times their shares (scalars or per-day arrays); the first failing
        child (with a non-zero share) fails the day."""
        fail = self._zeros if fail is None else fail
        children = [self.allocation(child) for child, _ in parts]
        symbols, rows = self.union([w.symbols for w in children])
        total = np.zeros((len(symbols), self.size))
        for weights, (_, share), where in zip(children, parts, rows, strict=True):
            if isinstance(share, np.ndarray):
                if not share.any():
                    continue
                fail = np.where((fail == OK) & (share > 0), weights.fail, fail)
            elif weights.fail.any():
                fail = _first_failure(fail, weights.fail)
            total[where] += weights.matrix * share
        if fail.any():
            total[:, fail != OK] = 0.0
        return Weights(symbols, total, fail)

    def _if(self, node: n.If) -> Weights:
        truth = self.truth(node.condition)
        then, otherwise = self.allocation(node.then), self.allocation(node.otherwise)
        take = truth.values
        fail = _first_failure(truth.fail, np.where(take, then.fail, otherwise.fail))
        if then.symbols == otherwise.symbols:
            symbols, a, b = then.symbols, then.matrix, otherwise.matrix
        else:
            symbols, (rows_a, rows_b) = self.union([then.symbols, otherwise.symbols])
            a = np.zeros((len(symbols), self.size))
            b = np.zeros((len(symbols), self.size))
            a[rows_a] = then.matrix
            b[rows_b] = otherwise.matrix
        total = np.where(take, a, b)
        if fail.any():
            total[:, fail != OK] = 0.0
        return Weights(symbols, total, fail)

    def scores(self, children: tuple[n.Allocation, ...], spec: n.IndicatorSpec) -> tuple[Array, Array]:
        """Candidates' scores (rows) and failure codes."""
        found = [self.score(child, spec) for child in children]
        return np.array([v.values for v in found]), np.array([v.fail for v in found])

    def filter_selection(self, node: n.Filter) -> tuple[Array, Array, Array]:
        """(scores, score failures, selected mask) per candidate and day. Stable: ties keep list order."""
        found = self._decisions.get(id(node))
        if found is None:
            scores, fails = self.scores(node.children, node.metric)
            scorable = fails == OK
            key = np.where(scorable, -scores if node.select == "top" else scores, np.inf)
            order = ranking_order(key)
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(len(node.children))[:, None].repeat(self.size, axis=1), axis=0)
            selected = (rank < node.count) & scorable
            found = self._decisions[id(node)] = (scores, fails, selected)
        return found

    def _filter(self, node: n.Filter) -> Weights:
        _, _, selected = self.filter_selection(node)
        count = selected.sum(axis=0)
        none = self.code(f"filter {node.metric.label} select-{node.select} {node.count}: no candidate could be scored")
        fail = np.where(count == 0, none, OK).astype(np.int32)
        shares = selected / np.maximum(count, 1)
        return self._mix(list(zip(node.children, list(shares), strict=True)), fail)

    def inverse_volatility_shares(self, node: n.WeightInverseVolatility) -> tuple[Array, Array, Array]:
        """(sigmas, sigma failures, shares) per child and day; undefined or zero sigma gets no share."""
        found = self._decisions.get(id(node))
        if found is None:
            spec = n.IndicatorSpec("stdev-return", window=node.window)
            sigmas, fails = self.scores(node.children, spec)
            usable = (fails == OK) & (sigmas > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                inverse = np.where(usable, 1.0 / sigmas, 0.0)
            total = inverse.sum(axis=0)
            shares = inverse / np.where(total > 0, total, 1.0)
            found = self._decisions[id(node)] = (sigmas, fails, shares)
        return found

    def _inverse_volatility(self, node: n.WeightInverseVolatility) -> Weights:
        _, _, shares = self.inverse_volatility_shares(node)
        none = self.code(f"weight-inverse-volatility {node.window}: no child has a defined, non-zero volatility")
        fail = np.where(shares.sum(axis=0) == 0, none, OK).astype(np.int32)
        return self._mix(list(zip(node.children, list(shares), strict=True)), fail)


def describe(node: n.Node, depth: int = 0) -> str:
    """A short human label for a candidate: its ticker, group name, or operator with first tickers."""
    if isinstance(node, n.Asset):
        return node.symbol
    if isinstance(node, n.Group):
        return node.name
    if depth >= 2:
        return node.kind
    if isinstance(node, n.If):
        return f"if[{describe(node.then, depth + 1)} | {describe(node.otherwise, depth + 1)}]"
    if isinstance(node, n.WeightEqual | n.WeightSpecified | n.WeightInverseVolatility | n.Filter):
        inner = ", ".join(describe(c, depth + 1) for c in node.children[:3])
        more = ", ..." if len(node.children) > 3 else ""
        return f"{node.kind}[{inner}{more}]"
    return node.kind
