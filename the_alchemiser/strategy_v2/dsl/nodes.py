"""Every node kind of the strategy tree, each defined once, in one class, with all there is to know:

- its fields (the validated form) and `build`, which makes it from the parsed form with every
  load-time check of dsl.md;
- `lookback`: the closes it needs before it is defined;
- `axis`: its rule over the whole date axis (numpy arrays; backtests, and the synthetic series of scored
  composites), and `day`: its rule for one day (scalars, only the branches taken), both written against
  the evaluators of evaluator.py, which supply memoisation, failure codes, series and the mixing of
  weights and never test a node's kind;
- `trace` (its entry in the decision trace) and `summary` (that entry as a line people read).

The "Sets / Requires" lines of each docstring say what the node allocates and what it reads. A new
kind is one new class here (registered by its operator name) plus its tests.

Nodes are immutable and hash-consed (`Interner`): identical subtrees are one object, so equality is
identity and per-node caches are shared by every place a subtree repeats."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, dataclass_transform

import numpy as np
import numpy.typing as npt

from the_alchemiser.strategy_v2.dsl.evaluator import OK, Values, Weights, first_failure
from the_alchemiser.strategy_v2.dsl.indicators import INDICATORS, PPO, PPO_SIGNAL, IndicatorSpec
from the_alchemiser.strategy_v2.dsl.reader import MapForm
from the_alchemiser.strategy_v2.dsl.trace import by, fmt, near_tie, number, ranking_text

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.dsl.build import Builder
    from the_alchemiser.strategy_v2.dsl.evaluator import DayEvaluator, Evaluator
    from the_alchemiser.strategy_v2.dsl.reader import Form
    from the_alchemiser.strategy_v2.dsl.trace import Tracer

# Re-exported from indicators.py (with the node classes defined here): what node fields are made of.
__all__ = ["INDICATORS", "PPO", "PPO_SIGNAL", "IndicatorSpec"]

Array = npt.NDArray[Any]
Entry = dict[str, Any]
Path = tuple[str, ...]
# Filter scores this close count as equal (ties keep list order): the same mathematical score reached by
# two float paths (a NAV over the whole axis or over the window, weights 0.5 + 0.5 or 1) differs in the
# last bits, and a ranking must not flip on that (dsl.md: 1e-9 relative plus 1e-12 absolute).
TIE_RELATIVE = 1e-9
TIE_ABSOLUTE = 1e-12
OPERATORS: dict[str, type[Node]] = {}  # operator name -> the kind it builds, in definition order
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "=": operator.eq,
}
N = TypeVar("N", bound="Node")


_NODE_FIELDS: dict[type[Node], tuple[tuple[str, bool], ...]] = {}


def _node_fields(kind: type[Node]) -> tuple[tuple[str, bool], ...]:
    """The kind's fields that hold sub-nodes, in order: (name, holds a tuple of them), from the fields'
    declared types (a node class, or `tuple[<node class>, ...]`)."""
    found = _NODE_FIELDS.get(kind)
    if found is None:
        names, pending = set(), [Node]
        while pending:
            cls = pending.pop()
            names.add(cls.__name__)
            pending.extend(cls.__subclasses__())
        fields = []
        for field in dataclasses.fields(kind):  # type: ignore[arg-type]
            declared = str(field.type).replace(" ", "")
            many = declared.startswith("tuple[") and declared.endswith(",...]")
            held = declared[6:-5] if many else declared
            if held.rsplit(".", maxsplit=1)[-1] in names:  # `Allocation` or `n.Allocation`
                fields.append((field.name, many))
        found = _NODE_FIELDS[kind] = tuple(fields)
    return found


@dataclass_transform(eq_default=False, frozen_default=True)
def node(
    kind: str, *, builds: tuple[str, ...] | None = None, arity: int | None = None, usage: str = ""
) -> Callable[[type[N]], type[N]]:
    """Define a node kind: an immutable dataclass (identity equality, slots) with its operator name,
    buildable under `builds` (default: the kind's name; () for one not written as an operator), its
    arguments counted before `build` when `arity` is fixed (`usage` is the form an error shows)."""

    def define(cls: type[N]) -> type[N]:
        made = dataclass(frozen=True, slots=True, eq=False)(cls)
        made.kind, made.arity, made.usage = kind, arity, usage
        for name in (kind,) if builds is None else builds:
            OPERATORS[name] = made
        return made

    return define


class Node:
    """Base of every node. Identity equality (hash-consing makes it structural)."""

    __slots__ = ()
    kind: ClassVar[str] = "node"  # set by @node, with the two below
    arity: ClassVar[int | None] = None
    usage: ClassVar[str] = ""

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Node:
        raise NotImplementedError

    def subnodes(self) -> tuple[Node, ...]:
        """Direct sub-nodes (allocations, conditions, expressions): the node-valued fields, in order."""
        found: list[Node] = []
        for name, many in _node_fields(type(self)):
            if many:
                found.extend(getattr(self, name))
            else:
                found.append(getattr(self, name))
        return tuple(found)

    def lookback(self, need: Mapping[int, int]) -> int:
        """Closes needed before the node is defined, given its sub-nodes' (by id), all series starting together."""
        return max(need[id(child)] for child in self.subnodes())


# ---- expressions: a number per day ----


class Expr(Node):
    __slots__ = ()

    def axis(self, ev: Evaluator) -> Values:
        raise NotImplementedError

    def day(self, dv: DayEvaluator) -> float:
        """The day's value: the whole axis's series read on the day (indicators are computed once per
        symbol over all history, since RSI and EMA need it). Raises DayFailure."""
        return dv.read(dv.ev.values(self))

    def label(self) -> str:
        raise NotImplementedError


@node("indicator", builds=tuple(sorted(INDICATORS)))
class Indicator(Expr):
    """`(rsi "SPY" {:window 10})`: an indicator of one symbol's own closes (indicators.py).

    Sets: the value per day. Requires: the symbol's closes up to the day, at least `spec.need` of them;
    before the symbol's first bar it has no value ("SYM: first bar D, after the as-of day")."""

    symbol: str
    spec: IndicatorSpec

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Indicator:
        if not args or not b.is_text(args[0]) or not str(args[0]).strip():
            b.fail(f'{name} needs a ticker: ({name} "SYM" {{:window N}})', form, at)
        return b.make(cls, str(args[0]).strip().upper(), b.indicator_spec(name, args[1:], form, at))

    def lookback(self, need: Mapping[int, int]) -> int:
        return self.spec.need

    def axis(self, ev: Evaluator) -> Values:
        return ev.symbol_series(self.symbol, self.spec)

    def label(self) -> str:
        spec = self.spec
        if spec.name == "current-price":
            return f"current-price({self.symbol})"
        if spec.name in (PPO, PPO_SIGNAL):
            smooth = f"/{spec.smooth}" if spec.name == PPO_SIGNAL else ""
            return f"{spec.name}({self.symbol}, {spec.short}/{spec.long}{smooth})"
        return f"{spec.name}({self.symbol}, {spec.window})"


@node("constant", builds=())
class Constant(Expr):
    """A number in a comparison (built from a number form, not an operator). Sets: the number every day."""

    value: float

    def lookback(self, need: Mapping[int, int]) -> int:
        return 0

    def axis(self, ev: Evaluator) -> Values:
        return Values(np.full(ev.size, self.value), ev.zeros)

    def day(self, dv: DayEvaluator) -> float:
        return self.value

    def label(self) -> str:
        return f"{self.value:g}"


# ---- conditions: true or false per day ----


class Condition(Node):
    __slots__ = ()

    def axis(self, ev: Evaluator) -> Values:
        raise NotImplementedError

    def day(self, dv: DayEvaluator) -> bool:
        raise NotImplementedError

    def comparisons(self, dv: DayEvaluator, out: list[Entry]) -> None:
        """The trace's record of every comparison inside, in order."""
        for item in self.subnodes():
            assert isinstance(item, Condition)
            item.comparisons(dv, out)

    def text(self) -> str:
        raise NotImplementedError


@node("compare", builds=tuple(COMPARE), arity=2, usage="({name} left right)")
class Compare(Condition):
    """`(> left right)`, also `<`, `>=`, `<=` and `=` (exact): indicator vs number or indicator.

    Sets: the comparison per day. Requires: both sides' values (a side without one fails the day)."""

    op: Literal[">", "<", ">=", "<=", "="]
    left: Expr
    right: Expr

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Compare:
        return b.make(cls, name, b.expr(args[0], at), b.expr(args[1], at))

    def axis(self, ev: Evaluator) -> Values:
        left, right = ev.values(self.left), ev.values(self.right)
        with np.errstate(invalid="ignore"):
            result = COMPARE[self.op](left.values, right.values)
        return Values(result, first_failure(left.fail, right.fail))

    def day(self, dv: DayEvaluator) -> bool:
        return COMPARE[self.op](dv.value(self.left), dv.value(self.right))  # type: ignore[no-any-return]

    def comparisons(self, dv: DayEvaluator, out: list[Entry]) -> None:
        lv, rv = dv.value_or_none(self.left), dv.value_or_none(self.right)
        margin = result = None
        if lv is not None and rv is not None:
            margin, result = lv - rv, bool(COMPARE[self.op](lv, rv))
        out.append(
            {
                "left": self.left.label(),
                "left_value": lv,
                "op": self.op,
                "right": self.right.label(),
                "right_value": rv,
                "margin": margin,
                "result": result,
                "by": None if margin is None else abs(margin),  # how far from flipping, whichever way it went
                "near_tie": near_tie(lv, rv),
            }
        )

    def text(self) -> str:
        return f"{self.left.label()} {self.op} {self.right.label()}"


@node("junction", builds=())
class Junction(Condition):
    """`and` / `or` of conditions, short-circuit left to right per day (`and` stops at the first false
    item, `or` at the first true). Sets: the combined truth. Requires: the items up to the deciding one."""

    items: tuple[Condition, ...]
    stops_on: ClassVar[bool]

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Junction:
        if not args:
            b.fail(f"({name} ...) needs at least one condition", form, at)
        return b.make(cls, tuple([b.condition(arg, at) for arg in args]))

    def axis(self, ev: Evaluator) -> Values:
        stop_on = self.stops_on
        result = np.full(ev.size, not stop_on)
        fail = ev.zeros
        decided = np.zeros(ev.size, dtype=bool)
        for item in self.items:
            t = ev.values(item)
            open_days = ~decided
            failed = open_days & (t.fail != OK)
            fail = np.where(failed, t.fail, fail)
            stops = open_days & (t.fail == OK) & (t.values == stop_on)
            result = np.where(stops, stop_on, result)
            decided = decided | failed | stops
        return Values(result, fail)

    def day(self, dv: DayEvaluator) -> bool:
        # a loop, not all()/any() over a generator, which would cost a C-level frame per nesting level
        # (see reader.ensure_recursion_limit)
        for item in self.items:
            if dv.truth(item) is self.stops_on:
                return self.stops_on
        return not self.stops_on

    def text(self) -> str:
        return f" {self.kind} ".join([f"({item.text()})" for item in self.items])


@node("and")
class And(Junction):
    stops_on: ClassVar[bool] = False


@node("or")
class Or(Junction):
    stops_on: ClassVar[bool] = True


@node("not", arity=1, usage="(not condition)")
class Not(Condition):
    """`(not condition)`. Sets: the opposite truth. Requires: the item's truth."""

    item: Condition

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Not:
        return b.make(cls, b.condition(args[0], at))

    def axis(self, ev: Evaluator) -> Values:
        inner = ev.values(self.item)
        return Values(~inner.values, inner.fail)

    def day(self, dv: DayEvaluator) -> bool:
        return not dv.truth(self.item)

    def text(self) -> str:
        return f"not ({self.item.text()})"


# ---- allocations: weights summing to 1 per day ----


class Allocation(Node):
    __slots__ = ()
    composite: ClassVar[bool] = True  # scored on its synthetic NAV (an asset: on its own closes)

    def axis(self, ev: Evaluator) -> Weights:
        raise NotImplementedError

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        """The day's weights (summing to 1); raises DayFailure."""
        raise NotImplementedError

    def trace(self, tracer: Tracer, path: Path) -> tuple[Path, tuple[Allocation, ...]]:
        """Record the node's decision, if it makes one; the path and children the day's answer went on to."""
        return path, tuple(child for child in self.subnodes() if isinstance(child, Allocation))

    @classmethod
    def summary(cls, entry: Entry) -> str:
        """The trace entry this kind records, as one self-contained line."""
        raise NotImplementedError

    def score_series(self, ev: Evaluator, spec: IndicatorSpec) -> Values:
        """The metric as a `filter` or `weight-inverse-volatility` candidate: on the synthetic NAV."""
        return ev.nav_series(self, spec)

    def scored_lookback(self, metric_need: int, need: Mapping[int, int]) -> int:
        """Closes needed to score the node: its NAV starts when it is defined, then needs the metric's."""
        return need[id(self)] + metric_need - 1

    def describe(self, depth: int = 0) -> str:
        """A short human label: ticker, group name, or operator with its first children."""
        if depth >= 2:
            return self.kind
        children = self.subnodes()
        inner = ", ".join(child.describe(depth + 1) for child in children[:3] if isinstance(child, Allocation))
        return f"{self.kind}[{inner}{', ...' if len(children) > 3 else ''}]"


@node("asset")
class Asset(Allocation):
    """`(asset "SYM" "Long name")` or `(asset "SYM" nil)`.

    Sets: {SYM: 1}. Requires: a bar of SYM on or before the day; before its first bar it has no
    allocation ("SYM: first bar D, after the as-of day"). Scored on its own closes."""

    symbol: str
    composite: ClassVar[bool] = False

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Asset:
        if not 1 <= len(args) <= 2 or not b.is_text(args[0]) or not str(args[0]).strip():
            b.fail('asset needs a ticker string: (asset "SYM" "Long name")', form, at)
        return b.make(cls, str(args[0]).strip().upper())

    def lookback(self, need: Mapping[int, int]) -> int:
        return 1

    def scored_lookback(self, metric_need: int, need: Mapping[int, int]) -> int:
        return max(1, metric_need)

    def axis(self, ev: Evaluator) -> Weights:
        held = ev.market.position(self.symbol) >= 0
        fail = np.where(held, OK, ev.code(ev.market.not_listed_yet(self.symbol))).astype(np.int32)
        return Weights((self.symbol,), held.astype(float)[None, :], fail)

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        if dv.ev.market.position(self.symbol)[dv.t] < 0:
            dv.fail(dv.ev.market.not_listed_yet(self.symbol))
        return {self.symbol: 1.0}

    def score_series(self, ev: Evaluator, spec: IndicatorSpec) -> Values:
        return ev.symbol_series(self.symbol, spec)

    def describe(self, depth: int = 0) -> str:
        return self.symbol


class Fixed(Allocation):
    """A mix with a fixed share per child: `weight-equal` and `weight-specified`.

    Sets: the sum of each child's weights (its inner weights preserved) times its share; the same symbol
    reached twice is summed. Requires: every child's allocation (the first failing child fails the day)."""

    __slots__ = ()

    def parts(self) -> list[tuple[Allocation, float]]:
        raise NotImplementedError

    def axis(self, ev: Evaluator) -> Weights:
        return ev.mix(self.parts())

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        return dv.mix(self.parts())


@node("weight-equal", arity=1, usage="(weight-equal [child ...])")
class WeightEqual(Fixed):
    """`(weight-equal [child ...])`: each child 1/k. Also a vector of several nodes as a branch."""

    children: tuple[Allocation, ...]

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> WeightEqual:
        return b.make(cls, b.vector(args[0], at))

    def parts(self) -> list[tuple[Allocation, float]]:
        share = 1.0 / len(self.children)
        return [(child, share) for child in self.children]


@node("weight-specified")
class WeightSpecified(Fixed):
    """`(weight-specified w1 child1 w2 child2 ...)`: child i gets w_i / sum(w) (fractions or percents).
    A weight-0 child is validated but never evaluated (so it needs no data)."""

    weights: tuple[float, ...]  # normalised to sum 1, zero weights already dropped
    children: tuple[Allocation, ...]

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> WeightSpecified:
        if not args or len(args) % 2:
            b.fail("weight-specified needs weight/child pairs: (weight-specified w1 child1 w2 child2 ...)", form, at)
        weights: list[float] = []
        children: list[Allocation] = []
        for weight, child in zip(args[0::2], args[1::2], strict=True):
            if not isinstance(weight, int | float) or isinstance(weight, str):
                b.fail(f"weight-specified weight must be a number, found {b.describe(weight)}", form, at)
            if not np.isfinite(weight) or weight < 0:
                b.fail(f"weight-specified weight must be finite and >= 0, found {weight}", form, at)
            built = b.branch(child, at)  # validated even when its weight is 0
            if weight > 0:
                weights.append(float(weight))
                children.append(built)
        if not weights:
            b.fail("weight-specified weights are all zero", form, at)
        total = sum(weights)
        if not (abs(total - 1.0) <= 1e-6 or abs(total - 100.0) <= 1e-4):
            b.warn(f"weight-specified weights sum to {total:g}, not 1 or 100: they are normalised", form, at)
        return b.make(cls, tuple(w / total for w in weights), tuple(children))

    def parts(self) -> list[tuple[Allocation, float]]:
        return list(zip(self.children, self.weights, strict=True))


def inverse_volatility_shares(sigmas: Array, fails: Array) -> Array:
    """Per child (rows) and day (columns): (1/sigma) / sum(1/sigma) over the children with a defined,
    non-zero sigma; the others, and every child on a day with none, get 0. Summed row by row, so one
    day's column gives the same bits as the whole axis."""
    usable = (fails == OK) & (sigmas > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(usable, 1.0 / sigmas, 0.0)
    total = inverse[0].copy()
    for row in inverse[1:]:
        total += row
    shares: Array = inverse / np.where(total > 0, total, 1.0)
    return shares


@node("weight-inverse-volatility", arity=2, usage="(weight-inverse-volatility N [child ...])")
class WeightInverseVolatility(Allocation):
    """`(weight-inverse-volatility N [child ...])`.

    Sets: child i gets (1/sigma_i) / sum_j(1/sigma_j), inner weights preserved. Requires: sigma =
    `stdev-return N` of each child's daily returns (an asset's own, a composite's synthetic NAV's);
    children with no defined or zero sigma are left out, none left fails the day."""

    window: int
    children: tuple[Allocation, ...]

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> WeightInverseVolatility:
        return b.make(cls, b.window(args[0], "window", at), b.vector(args[1], at))

    def lookback(self, need: Mapping[int, int]) -> int:
        return max(child.scored_lookback(self.window + 1, need) for child in self.children)

    @property
    def spec(self) -> IndicatorSpec:
        return IndicatorSpec("stdev-return", window=self.window)

    @property
    def none_left(self) -> str:
        return f"weight-inverse-volatility {self.window}: no child has a defined, non-zero volatility"

    def axis(self, ev: Evaluator) -> Weights:
        shares = inverse_volatility_shares(*ev.scores(self.children, self.spec))
        fail = np.where(shares.sum(axis=0) == 0, ev.code(self.none_left), OK).astype(np.int32)
        return ev.mix(list(zip(self.children, list(shares), strict=True)), fail)

    def decision(self, dv: DayEvaluator) -> tuple[Array, Array, list[float]]:
        """The day's sigmas (stdev-return, percent), their failure codes and each child's share."""

        def decide() -> tuple[Array, Array, list[float]]:
            sigmas, fails = dv.scores(self.children, self.spec)
            return sigmas[:, 0], fails[:, 0], inverse_volatility_shares(sigmas, fails)[:, 0].tolist()

        return dv.decision(self, decide)

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        shares = self.decision(dv)[2]
        if not any(shares):
            dv.fail(self.none_left)
        return dv.mix([(child, share) for child, share in zip(self.children, shares, strict=True) if share > 0])

    def trace(self, tracer: Tracer, path: Path) -> tuple[Path, tuple[Allocation, ...]]:
        sigmas, fails, shares = self.decision(tracer.day)
        rows = []
        for child, sigma, code, share in zip(self.children, sigmas, fails, shares, strict=True):
            row: Entry = {"candidate": child.describe(), "share": share}
            if code == OK:
                row["stdev_return"] = number(sigma)
            else:
                row["reason"] = tracer.day.ev.reason(int(code))
            rows.append(row)
        tracer.add({"type": self.kind, "path": " > ".join(path), "window": self.window, "children": rows})
        return path, tuple(child for child, share in zip(self.children, shares, strict=True) if share > 0)

    @classmethod
    def summary(cls, entry: Entry) -> str:
        shares = ", ".join(
            f"{c['candidate']} {c['share']:.1%}"
            + (f" (stdev {fmt(c['stdev_return'])})" if "stdev_return" in c else " (left out)")
            for c in entry["children"]
        )
        return f"inverse-volatility {entry['window']}: {shares}"


@node("group")
class Group(Allocation):
    """`(group "Name" [child ...])`: transparent (several body nodes are equal-weighted), and a unit a
    `filter` can rank. Sets: the body's allocation. Requires: the body's allocation."""

    name: str
    body: Allocation

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Group:
        if len(args) < 2 or not b.is_text(args[0]):
            b.fail('group needs a name and a body: (group "Name" [child ...])', form, at)
        bodies = [b.branch(item, at) for item in args[1:]]
        body = bodies[0] if len(bodies) == 1 else b.make(WeightEqual, tuple(bodies))
        return b.make(cls, str(args[0]), body)

    def axis(self, ev: Evaluator) -> Weights:
        return ev.allocation(self.body)

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        return dv.allocation(self.body)

    def trace(self, tracer: Tracer, path: Path) -> tuple[Path, tuple[Allocation, ...]]:
        return (*path, self.name), (self.body,)

    def describe(self, depth: int = 0) -> str:
        return self.name


@node("if", arity=3, usage="(if condition [then ...] [else ...])")
class If(Allocation):
    """`(if condition [then ...] [else ...])`: the chosen branch (several nodes equal-weighted).

    Sets: the taken branch's allocation. Requires: the condition's truth (an undecidable `if` fails the
    day) and the taken branch only; the other branch may be undefined."""

    condition: Condition
    then: Allocation
    otherwise: Allocation

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> If:
        return b.make(cls, b.condition(args[0], at), b.branch(args[1], at), b.branch(args[2], at))

    def axis(self, ev: Evaluator) -> Weights:
        truth = ev.values(self.condition)
        then, otherwise = ev.allocation(self.then), ev.allocation(self.otherwise)
        take = truth.values
        fail = first_failure(truth.fail, np.where(take, then.fail, otherwise.fail))
        if then.symbols == otherwise.symbols:
            symbols, a, b = then.symbols, then.matrix, otherwise.matrix
        else:
            symbols, (rows_a, rows_b) = ev.union([then.symbols, otherwise.symbols])
            a = np.zeros((len(symbols), ev.size))
            b = np.zeros((len(symbols), ev.size))
            a[rows_a] = then.matrix
            b[rows_b] = otherwise.matrix
        total = np.where(take, a, b)
        if fail.any():
            total[:, fail != OK] = 0.0
        return Weights(symbols, total, fail)

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        return dv.allocation(self.then if dv.truth(self.condition) else self.otherwise)

    def trace(self, tracer: Tracer, path: Path) -> tuple[Path, tuple[Allocation, ...]]:
        taken = tracer.day.truth(self.condition)
        branch = self.then if taken else self.otherwise
        comparisons: list[Entry] = []
        self.condition.comparisons(tracer.day, comparisons)
        tracer.add(
            {
                "type": "if",
                "path": " > ".join(path),
                "condition": self.condition.text(),
                "comparisons": comparisons,
                "result": taken,
                "taken": "then" if taken else "else",
                "branch": None if branch.composite and not isinstance(branch, Group) else branch.describe(),
                "near_tie": any(c["near_tie"] for c in comparisons),
            }
        )
        return path, (branch,)

    @classmethod
    def summary(cls, entry: Entry) -> str:
        parts = []
        for c in entry["comparisons"]:
            right = c["right"] if c["right"] == fmt(c["right_value"]) else f"{c['right']}={fmt(c['right_value'])}"
            parts.append(f"{c['left']}={fmt(c['left_value'])} {c['op']} {right}: {by(c)}")
        branch = f": {entry['branch']}" if entry.get("branch") else ""
        return f"if {'; '.join(parts)} -> {entry['taken']}{branch}"

    def describe(self, depth: int = 0) -> str:
        if depth >= 2:
            return self.kind
        return f"if[{self.then.describe(depth + 1)} | {self.otherwise.describe(depth + 1)}]"


def rank(keys: Array) -> Array:
    """The one ranking rule. Per column (day), candidate indices best first for ascending `keys`
    (NaN: unscorable, last). Sorted keys within the tie tolerance of the previous one join its tie
    class (NaN ties nothing, so an unscorable candidate never ties a score); candidates are ordered by
    class, then by list order (a stable sort, as Clojure's sort-by is). The live day ranks one column,
    a backtest every day."""
    columns = np.arange(keys.shape[1])
    order = keys.argsort(axis=0, kind="stable")
    ordered = keys[order, columns]
    size = np.abs(ordered)
    tied = np.abs(ordered[1:] - ordered[:-1]) <= TIE_RELATIVE * np.maximum(size[1:], size[:-1]) + TIE_ABSOLUTE
    if not np.count_nonzero(tied):  # every class one candidate: the order by class is the sorted order
        return order
    classes = np.zeros(keys.shape, dtype=np.intp)
    classes[1:] = (~tied).cumsum(axis=0)
    by_candidate = np.empty_like(classes)
    by_candidate[order, columns] = classes
    ranked: Array = by_candidate.argsort(axis=0, kind="stable")
    return ranked


@node("filter", arity=3, usage="(filter (metric {{:window N}}) (select-top K) [child ...])")
class Filter(Allocation):
    """`(filter (metric {:window N}) (select-top K) [child ...])`, or `select-bottom`.

    Sets: the K best-scored children (all if K >= n) equal-weighted, their inner weights preserved.
    Requires: each child's score (`rank`): an asset on its own closes, a composite on its synthetic NAV
    (what it would have held each past day, rebalanced daily), so groups are ranked as units, never by
    their members. A child that cannot be scored is left out (and traced); none scorable fails the day;
    a kept child whose allocation fails fails the filter."""

    metric: IndicatorSpec
    select: Literal["top", "bottom"]
    count: int
    children: tuple[Allocation, ...]

    @classmethod
    def build(cls, b: Builder, name: str, form: Form, args: tuple[Form, ...], at: int) -> Filter:
        metric_name, metric_args, metric_at = b.call(args[0], at)
        if metric_name not in INDICATORS:
            b.fail(f"filter metric must be an indicator, found '{metric_name}'", args[0], at)
        if metric_args and not isinstance(metric_args[0], MapForm):
            b.fail("a filter metric names no ticker: (metric {:window N})", args[0], at)
        spec = b.indicator_spec(metric_name, metric_args, args[0], metric_at)
        select_name, select_args, select_at = b.call(args[1], at)
        if select_name not in ("select-top", "select-bottom") or len(select_args) != 1:
            b.fail("expected (select-top K) or (select-bottom K)", args[1], at)
        count = b.window(select_args[0], "K", select_at)
        select: Literal["top", "bottom"] = "top" if select_name == "select-top" else "bottom"
        return b.make(cls, spec, select, count, b.vector(args[2], at))

    def lookback(self, need: Mapping[int, int]) -> int:
        return max(child.scored_lookback(self.metric.need, need) for child in self.children)

    @property
    def no_candidate(self) -> str:
        return f"filter {self.metric.label} select-{self.select} {self.count}: no candidate could be scored"

    def selection(self, scores: Array, fails: Array) -> tuple[Array, Array]:
        """(candidates best first, kept mask) per candidate (rows) and day (columns)."""
        scorable = fails == OK
        order = rank(np.where(scorable, -scores if self.select == "top" else scores, np.nan))
        return order, (order.argsort(axis=0) < self.count) & scorable  # a candidate's place < K

    def axis(self, ev: Evaluator) -> Weights:
        _, kept = self.selection(*ev.scores(self.children, self.metric))
        count = kept.sum(axis=0)
        fail = np.where(count == 0, ev.code(self.no_candidate), OK).astype(np.int32)
        return ev.mix(list(zip(self.children, list(kept / np.maximum(count, 1)), strict=True)), fail)

    def decision(self, dv: DayEvaluator) -> tuple[Array, Array, list[int], list[bool]]:
        """The day's scores, score failure codes, ranked candidates and kept mask (memoised)."""

        def decide() -> tuple[Array, Array, list[int], list[bool]]:
            scores, fails = dv.scores(self.children, self.metric)
            order, kept = self.selection(scores, fails)
            return scores[:, 0], fails[:, 0], order[:, 0].tolist(), kept[:, 0].tolist()

        return dv.decision(self, decide)

    def day(self, dv: DayEvaluator) -> dict[str, float]:
        kept = [child for child, keep in zip(self.children, self.decision(dv)[3], strict=True) if keep]
        if not kept:
            dv.fail(self.no_candidate)
        share = 1.0 / len(kept)
        return dv.mix([(child, share) for child in kept])  # list order, as the whole-axis path fails

    def trace(self, tracer: Tracer, path: Path) -> tuple[Path, tuple[Allocation, ...]]:
        scores, fails, order, kept = self.decision(tracer.day)
        ranked = [i for i in order if fails[i] == OK]
        boundary = 0 < sum(kept) < len(ranked)
        tie = boundary and near_tie(number(scores[ranked[sum(kept) - 1]]), number(scores[ranked[sum(kept)]]))
        tracer.add(
            {
                "type": "filter",
                "path": " > ".join(path),
                "metric": self.metric.label,
                "select": f"select-{self.select}",
                "count": self.count,
                "ranking": [
                    {"candidate": self.children[i].describe(), "score": number(scores[i]), "selected": kept[i]}
                    for i in ranked
                ],
                "excluded": [
                    {"candidate": child.describe(), "reason": tracer.day.ev.reason(int(code))}
                    for child, code in zip(self.children, fails, strict=True)
                    if code != OK
                ],
                "near_tie": tie,
            }
        )
        return path, tuple(child for child, keep in zip(self.children, kept, strict=True) if keep)

    @classmethod
    def summary(cls, entry: Entry) -> str:
        kept = ", ".join(r["candidate"] for r in entry["ranking"] if r["selected"]) or "nothing"
        ranking = ranking_text([(r["candidate"], r["score"]) for r in entry["ranking"]])
        excluded = entry["excluded"]
        left_out = f"; unscorable {ranking_text([(e['candidate'], None) for e in excluded])}" if excluded else ""
        return f"filter {entry['metric']} {entry['select']} {entry['count']}: kept {kept} (ranking {ranking}){left_out}"


class Interner:
    """Hash-consing table: `make(cls, *fields)` returns the one node with those fields. Children are
    interned first, so identity-hashed children make a sound structural key."""

    def __init__(self) -> None:
        self._table: dict[tuple[Any, ...], Node] = {}
        self.requests = 0

    def make(self, cls: type[N], *fields: Any) -> N:
        self.requests += 1
        key = (cls, *fields)
        node = self._table.get(key)
        if node is None:
            node = self._table[key] = cls(*fields)
        return node  # type: ignore[return-value]

    @property
    def distinct(self) -> int:
        return len(self._table)
