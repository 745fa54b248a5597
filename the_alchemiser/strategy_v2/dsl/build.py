"""Forms -> validated, hash-consed nodes. The top level (`defsymphony`, metadata) is checked here; each
operator is built by its node kind (`build` in nodes.py) with the helpers below. Every error names
file:line:col. Building goes on past an invalid node (it is recorded and stands in as a placeholder),
so one pass finds the errors of every node; the first is raised, carrying them all."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.errors import DslValidationError
from the_alchemiser.strategy_v2.dsl.reader import (
    Form,
    Keyword,
    ListForm,
    MapForm,
    Source,
    Symbol,
    VectorForm,
    ensure_recursion_limit,
)

__all__ = ["Builder", "Definition", "build", "ensure_recursion_limit"]

ALIASES = {
    "relative-strength-index": "rsi",
    "standard-deviation-return": "stdev-return",
    "standard-deviation-price": "stdev-price",
}
# Words that are operators without being node kinds (the kinds are n.OPERATORS, read when a form is built).
OTHER_OPERATORS = frozenset(["defsymphony", "select-top", "select-bottom", *ALIASES])
K = TypeVar("K", bound=n.Node)
_PARAM_KEYS = {"window": "window", "short-window": "short", "long-window": "long", "smooth-window": "smooth"}


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    metadata: dict[str, Any]
    root: n.Allocation
    node_requests: int
    distinct_nodes: int
    warnings: tuple[str, ...] = ()


def describe(form: Form) -> str:
    """A form as an error message names it."""
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


def _misplaced(name: str, expected: type[n.Node]) -> str:
    if issubclass(expected, n.Allocation):
        allocations = ", ".join(kind for kind, cls in n.OPERATORS.items() if issubclass(cls, n.Allocation))
        return f"'{name}' is not an allocation node here (expected one of {allocations})"
    return f"expected a condition (> < >= <= = and or not), found ({name} ...)"


class Builder:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.interner = n.Interner()
        self.make = self.interner.make
        self.errors: list[DslValidationError] = []
        self.warnings: list[str] = []
        self._built: dict[tuple[int, type[n.Node]], tuple[n.Node, int]] = {}  # (form, role) -> node, nodes in it
        self.describe = describe

    # ---- errors and warnings ----
    def _where(self, form: Form | None, at: int) -> tuple[int, int]:
        return self.source.position(form.offset if isinstance(form, ListForm | VectorForm | MapForm) else at)

    def fail(self, message: str, form: Form | None, at: int) -> NoReturn:
        line, column = self._where(form, at)
        raise DslValidationError(message, line, column, self.source.file)

    def warn(self, message: str, form: Form | None, at: int) -> None:
        line, column = self._where(form, at)
        self.warnings.append(f"{self.source.file or '<text>'}:{line}:{column}: {message}")

    def call(self, form: Form, at: int) -> tuple[str, tuple[Form, ...], int]:
        """A call form's operator name (aliases resolved) and its arguments."""
        if not isinstance(form, ListForm):
            self.fail(f"expected an operator call '( ... )', found {describe(form)}", form, at)
        if not form.items or not isinstance(form.items[0], Symbol):
            self.fail("expected an operator name after '('", form, at)
        name = str(form.items[0])
        if name not in n.OPERATORS and name not in OTHER_OPERATORS:
            close = difflib.get_close_matches(name, sorted([*n.OPERATORS, *OTHER_OPERATORS]), n=1)
            self.fail(f"unknown operator '{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""), form, at)
        return ALIASES.get(name, name), form.items[1:], form.offset

    # ---- top level ----
    def symphony(self, form: Form) -> Definition:
        name, args, at = self.call(form, 0)
        if name != "defsymphony":
            self.fail(f'expected (defsymphony "Name" {{...}} body), found ({name} ...)', form, at)
        if not args or not self.is_text(args[0]):
            self.fail("defsymphony needs a name string first", form, at)
        rest = list(args[1:])
        metadata: dict[str, Any] = {}
        if rest and isinstance(rest[0], MapForm):
            metadata = self.metadata(rest[0], at)
            rest = rest[1:]
        if len(rest) != 1:
            self.fail(f"defsymphony needs exactly one body after the name and metadata, found {len(rest)}", form, at)
        root = self.branch(rest[0], at)
        if self.errors:
            first = self.errors[0]
            first.errors, first.warnings = list(self.errors), tuple(self.warnings)
            raise first
        requests, distinct = self.interner.requests, self.interner.distinct
        return Definition(str(args[0]), metadata, root, requests, distinct, tuple(self.warnings))

    def metadata(self, form: MapForm, at: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in form.pairs:
            if not isinstance(key, Keyword):
                self.fail(f"metadata keys are keywords like :rebalance-threshold, found {describe(key)}", form, at)
            if isinstance(value, ListForm | VectorForm | MapForm):
                self.fail(f"metadata :{key} must be a plain value", value, at)
            out[str(key)] = str(value) if isinstance(value, Keyword | Symbol) else value
        threshold = out.get("rebalance-threshold")
        if threshold is not None and (isinstance(threshold, str | bool) or not 0 < float(threshold) < 1):
            self.fail(":rebalance-threshold must be a number between 0 and 1", form, at)
        return out

    # ---- nodes: each operator is built by its kind; an invalid one is recorded and stood in for ----
    def branch(self, form: Form, at: int) -> n.Allocation:
        """A node, or a vector of nodes (one is that node, several are equal-weighted)."""
        if isinstance(form, VectorForm):
            children = self.vector(form, at)
            return children[0] if len(children) == 1 else self.make(n.WeightEqual, children)
        return self.allocation(form, at)

    def vector(self, form: Form, at: int) -> tuple[n.Allocation, ...]:
        if not isinstance(form, VectorForm):
            self.fail(f"expected a vector '[ ... ]' of nodes, found {describe(form)}", form, at)
        if not form.items:
            self.fail("empty vector: expected at least one node", form, at)
        return tuple([self.allocation(item, form.offset) for item in form.items])

    def allocation(self, form: Form, at: int) -> n.Allocation:
        return self._node(form, at, n.Allocation)

    def condition(self, form: Form, at: int) -> n.Condition:
        return self._node(form, at, n.Condition)

    def _node(self, form: Form, at: int, base: type[K]) -> K:
        """The node the operator's kind builds, once per distinct form (the reader shares equal forms);
        an invalid one is recorded and a placeholder returned."""
        key = (id(form), base)
        found = self._built.get(key)
        if found is not None:
            self.interner.requests += found[1]  # the nodes as written, repeats included
            return found[0]  # type: ignore[return-value]
        requests = self.interner.requests
        node = self._build_node(form, at, base)
        self._built[key] = (node, self.interner.requests - requests)
        return node

    def _build_node(self, form: Form, at: int, base: type[K]) -> K:
        try:
            name, args, at = self.call(form, at)
            kind = n.OPERATORS.get(name)
            if kind is None or not issubclass(kind, base):
                self.fail(_misplaced(name, base), form, at)
            if kind.arity is not None:
                self.arity(form, args, kind.arity, kind.usage.format(name=name), at)
            built = kind.build(self, name, form, args, at)
            assert isinstance(built, base)
            return built
        except DslValidationError as error:
            self.errors.append(error)
            placeholder = self.make(n.Asset, "?") if base is n.Allocation else self.make(n.And, ())
            assert isinstance(placeholder, base)
            return placeholder

    def expr(self, form: Form, at: int) -> n.Expr:
        if isinstance(form, int | float):
            value = float(form)
            if not math.isfinite(value):
                self.fail("comparison constant must be finite", form, at)
            return self.make(n.Constant, value)
        name, args, at = self.call(form, at)
        if name not in n.INDICATORS:
            self.fail(f"expected an indicator or a number, found ({name} ...)", form, at)
        return n.Indicator.build(self, name, form, args, at)

    def indicator_spec(self, name: str, params: tuple[Form, ...], form: Form, at: int) -> n.IndicatorSpec:
        if len(params) > 1 or (params and not isinstance(params[0], MapForm)):
            self.fail(f"{name} takes one parameter map like {{:window N}}", form, at)
        values: dict[str, int] = {}
        if params:
            assert isinstance(params[0], MapForm)
            for key, value in params[0].pairs:
                if not isinstance(key, Keyword) or str(key) not in _PARAM_KEYS:
                    self.fail(f"unknown {name} parameter {describe(key)}", form, at)
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
            self.fail(f"{what} must be a whole number >= 1, found {describe(form)}", form, at)
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
