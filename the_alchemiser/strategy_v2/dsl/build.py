"""Forms -> validated, hash-consed nodes. Every load-time rule of dsl.md is checked here, each error
naming file:line:col: known operators, arity, windows, weights, empty vectors."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.errors import DslValidationError
from the_alchemiser.strategy_v2.dsl.reader import Form, Keyword, ListForm, MapForm, Source, Symbol, VectorForm

ALIASES = {
    "relative-strength-index": "rsi",
    "standard-deviation-return": "stdev-return",
    "standard-deviation-price": "stdev-price",
}
ALLOCATION_OPERATORS = (
    "asset",
    "weight-equal",
    "weight-specified",
    "weight-inverse-volatility",
    "group",
    "if",
    "filter",
)
COMPARATORS = (">", "<", ">=", "<=", "=")
LOGICAL = ("and", "or", "not")
KNOWN_OPERATORS = frozenset(
    [
        "defsymphony",
        *ALLOCATION_OPERATORS,
        *COMPARATORS,
        *LOGICAL,
        "select-top",
        "select-bottom",
        *n.INDICATORS,
        *ALIASES,
    ]
)
_PARAM_KEYS = {"window": "window", "short-window": "short", "long-window": "long", "smooth-window": "smooth"}
RECURSION_LIMIT = 20_000


def ensure_recursion_limit() -> None:
    """The builder and evaluator recurse a few frames per nesting level (at most reader.MAX_NESTING).
    They recurse through Python frames only (no generator handed to a builtin per level), so C-level
    recursion limits are not reached either; a RecursionError all the same becomes a DslError."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    metadata: dict[str, Any]
    root: n.Allocation
    node_requests: int
    distinct_nodes: int


def _describe(form: Form) -> str:
    if isinstance(form, ListForm):
        head = form.items[0] if form.items else None
        return f"({head} ...)" if isinstance(head, Symbol) else "a list"
    if isinstance(form, VectorForm):
        return "a vector"
    if isinstance(form, MapForm):
        return "a map"
    if isinstance(form, Keyword):
        return f":{form}"
    if isinstance(form, Symbol):
        return f"'{form}'"
    if isinstance(form, str):
        return f'"{form}"'
    return repr(form)


class Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.interner = n.Interner()

    # ---- errors ----
    def fail(self, message: str, form: Form | None, at: int) -> NoReturn:
        offset = form.offset if isinstance(form, ListForm | VectorForm | MapForm) else at
        line, column = self.source.position(offset)
        raise DslValidationError(message, line, column, self.source.file)

    def call(self, form: Form, at: int) -> tuple[str, tuple[Form, ...], int]:
        """A call form's operator name (aliases resolved) and its arguments."""
        if not isinstance(form, ListForm):
            self.fail(f"expected an operator call '( ... )', found {_describe(form)}", form, at)
        if not form.items or not isinstance(form.items[0], Symbol):
            self.fail("expected an operator name after '('", form, at)
        name = str(form.items[0])
        if name not in KNOWN_OPERATORS:
            self.fail(f"unknown operator '{name}'", form, at)
        return ALIASES.get(name, name), form.items[1:], form.offset

    # ---- top level ----
    def symphony(self, form: Form) -> Definition:
        name, args, at = self.call(form, 0)
        if name != "defsymphony":
            self.fail(f'expected (defsymphony "Name" {{...}} body), found ({name} ...)', form, at)
        if not args or not isinstance(args[0], str) or isinstance(args[0], Symbol | Keyword):
            self.fail("defsymphony needs a name string first", form, at)
        rest = list(args[1:])
        metadata: dict[str, Any] = {}
        if rest and isinstance(rest[0], MapForm):
            metadata = self.metadata(rest[0], at)
            rest = rest[1:]
        if len(rest) != 1:
            self.fail(f"defsymphony needs exactly one body after the name and metadata, found {len(rest)}", form, at)
        root = self.branch(rest[0], at)
        return Definition(str(args[0]), metadata, root, self.interner.requests, self.interner.distinct)

    def metadata(self, form: MapForm, at: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in form.pairs:
            if not isinstance(key, Keyword):
                self.fail(f"metadata keys are keywords like :rebalance-threshold, found {_describe(key)}", form, at)
            if isinstance(value, ListForm | VectorForm | MapForm):
                self.fail(f"metadata :{key} must be a plain value", value, at)
            out[str(key)] = str(value) if isinstance(value, Keyword | Symbol) else value
        threshold = out.get("rebalance-threshold")
        if threshold is not None and (isinstance(threshold, str | bool) or not 0 < float(threshold) < 1):
            self.fail(":rebalance-threshold must be a number between 0 and 1", form, at)
        return out

    # ---- allocations ----
    def branch(self, form: Form, at: int) -> n.Allocation:
        """A node, or a vector of nodes (one is that node, several are equal-weighted)."""
        if isinstance(form, VectorForm):
            children = self.vector(form, at)
            return children[0] if len(children) == 1 else self.interner.make(n.WeightEqual, children)
        return self.allocation(form, at)

    def vector(self, form: Form, at: int) -> tuple[n.Allocation, ...]:
        if not isinstance(form, VectorForm):
            self.fail(f"expected a vector '[ ... ]' of nodes, found {_describe(form)}", form, at)
        if not form.items:
            self.fail("empty vector: expected at least one node", form, at)
        return tuple([self.allocation(item, form.offset) for item in form.items])

    def allocation(self, form: Form, at: int) -> n.Allocation:
        name, args, at = self.call(form, at)
        make = self.interner.make
        if name == "asset":
            if not 1 <= len(args) <= 2 or not self.is_text(args[0]) or not str(args[0]).strip():
                self.fail('asset needs a ticker string: (asset "SYM" "Long name")', form, at)
            return make(n.Asset, str(args[0]).strip().upper())
        if name == "weight-equal":
            self.arity(form, args, 1, "(weight-equal [child ...])", at)
            return make(n.WeightEqual, self.vector(args[0], at))
        if name == "weight-specified":
            return self.weight_specified(form, args, at)
        if name == "weight-inverse-volatility":
            self.arity(form, args, 2, "(weight-inverse-volatility N [child ...])", at)
            return make(n.WeightInverseVolatility, self.window(args[0], "window", at), self.vector(args[1], at))
        if name == "group":
            if len(args) < 2 or not self.is_text(args[0]):
                self.fail('group needs a name and a body: (group "Name" [child ...])', form, at)
            bodies = [self.branch(item, at) for item in args[1:]]
            body = bodies[0] if len(bodies) == 1 else make(n.WeightEqual, tuple(bodies))
            return make(n.Group, str(args[0]), body)
        if name == "if":
            self.arity(form, args, 3, "(if condition [then ...] [else ...])", at)
            return make(n.If, self.condition(args[0], at), self.branch(args[1], at), self.branch(args[2], at))
        if name == "filter":
            return self.filter(form, args, at)
        self.fail(
            f"'{name}' is not an allocation node here (expected one of {', '.join(ALLOCATION_OPERATORS)})", form, at
        )

    def weight_specified(self, form: Form, args: tuple[Form, ...], at: int) -> n.Allocation:
        if not args or len(args) % 2:
            self.fail("weight-specified needs weight/child pairs: (weight-specified w1 child1 w2 child2 ...)", form, at)
        weights: list[float] = []
        children: list[n.Allocation] = []
        for weight, child in zip(args[0::2], args[1::2], strict=True):
            if not isinstance(weight, int | float) or isinstance(weight, str):
                self.fail(f"weight-specified weight must be a number, found {_describe(weight)}", form, at)
            if not math.isfinite(weight) or weight < 0:
                self.fail(f"weight-specified weight must be finite and >= 0, found {weight}", form, at)
            built = self.branch(child, at)  # validated even when its weight is 0
            if weight > 0:
                weights.append(float(weight))
                children.append(built)
        if not weights:
            self.fail("weight-specified weights are all zero", form, at)
        total = sum(weights)
        return self.interner.make(n.WeightSpecified, tuple(w / total for w in weights), tuple(children))

    def filter(self, form: Form, args: tuple[Form, ...], at: int) -> n.Allocation:
        self.arity(form, args, 3, "(filter (metric {:window N}) (select-top K) [child ...])", at)
        metric_name, metric_args, metric_at = self.call(args[0], at)
        if metric_name not in n.INDICATORS:
            self.fail(f"filter metric must be an indicator, found '{metric_name}'", args[0], at)
        if metric_args and not isinstance(metric_args[0], MapForm):
            self.fail("a filter metric names no ticker: (metric {:window N})", args[0], at)
        spec = self.indicator_spec(metric_name, metric_args, args[0], metric_at)
        select_name, select_args, select_at = self.call(args[1], at)
        if select_name not in ("select-top", "select-bottom") or len(select_args) != 1:
            self.fail("expected (select-top K) or (select-bottom K)", args[1], at)
        count = self.window(select_args[0], "K", select_at)
        select: Literal["top", "bottom"] = "top" if select_name == "select-top" else "bottom"
        return self.interner.make(n.Filter, spec, select, count, self.vector(args[2], at))

    # ---- conditions and expressions ----
    def condition(self, form: Form, at: int) -> n.Condition:
        name, args, at = self.call(form, at)
        make = self.interner.make
        if name in COMPARATORS:
            self.arity(form, args, 2, f"({name} left right)", at)
            return make(n.Compare, name, self.expr(args[0], at), self.expr(args[1], at))
        if name in ("and", "or"):
            if not args:
                self.fail(f"({name} ...) needs at least one condition", form, at)
            items = tuple([self.condition(a, at) for a in args])
            return make(n.And, items) if name == "and" else make(n.Or, items)
        if name == "not":
            self.arity(form, args, 1, "(not condition)", at)
            return make(n.Not, self.condition(args[0], at))
        self.fail(f"expected a condition (> < >= <= = and or not), found ({name} ...)", form, at)

    def expr(self, form: Form, at: int) -> n.Expr:
        if isinstance(form, int | float):
            value = float(form)
            if not math.isfinite(value):
                self.fail("comparison constant must be finite", form, at)
            return self.interner.make(n.Constant, value)
        name, args, at = self.call(form, at)
        if name not in n.INDICATORS:
            self.fail(f"expected an indicator or a number, found ({name} ...)", form, at)
        if not args or not self.is_text(args[0]) or not str(args[0]).strip():
            self.fail(f'{name} needs a ticker: ({name} "SYM" {{:window N}})', form, at)
        spec = self.indicator_spec(name, args[1:], form, at)
        return self.interner.make(n.Indicator, str(args[0]).strip().upper(), spec)

    def indicator_spec(self, name: str, params: tuple[Form, ...], form: Form, at: int) -> n.IndicatorSpec:
        if len(params) > 1 or (params and not isinstance(params[0], MapForm)):
            self.fail(f"{name} takes one parameter map like {{:window N}}", form, at)
        values: dict[str, int] = {}
        if params:
            assert isinstance(params[0], MapForm)
            for key, value in params[0].pairs:
                if not isinstance(key, Keyword) or str(key) not in _PARAM_KEYS:
                    self.fail(f"unknown {name} parameter {_describe(key)}", form, at)
                values[_PARAM_KEYS[str(key)]] = self.window(value, f":{key}", at)
        if name in (n.PPO, n.PPO_SIGNAL):
            if "window" in values:
                self.fail(f"{name} takes :short-window :long-window :smooth-window, not :window", form, at)
            if name == n.PPO and "smooth" in values:
                self.fail(f"{name} takes no :smooth-window (that is {n.PPO_SIGNAL})", form, at)
            return n.IndicatorSpec(name, **values)
        if set(values) - {"window"}:
            self.fail(f"{name} takes only :window", form, at)
        if name == "current-price":
            return n.IndicatorSpec(name)
        if "window" not in values:
            self.fail(f"{name} needs {{:window N}}", form, at)
        return n.IndicatorSpec(name, window=values["window"])

    # ---- small checks ----
    def window(self, form: Form, what: str, at: int) -> int:
        if isinstance(form, bool) or not isinstance(form, int | float) or isinstance(form, str):
            self.fail(f"{what} must be a whole number >= 1, found {_describe(form)}", form, at)
        if not math.isfinite(form) or form != int(form) or form < 1:
            self.fail(f"{what} must be a whole number >= 1, found {form}", form, at)
        return int(form)

    def arity(self, form: Form, args: tuple[Form, ...], count: int, usage: str, at: int) -> None:
        if len(args) != count:
            self.fail(f"expected {usage}, found {len(args)} argument(s)", form, at)

    @staticmethod
    def is_text(form: Form) -> bool:
        return isinstance(form, str) and not isinstance(form, Symbol | Keyword)


def build(form: Form, source: Source) -> Definition:
    ensure_recursion_limit()
    try:
        return Builder(source).symphony(form)
    except RecursionError:
        raise DslValidationError("nesting too deep to validate", file=source.file) from None
