"""The strategy tree after validation. Nodes are immutable and hash-consed: identical subtrees are one
object, so equality is identity and per-node caches are shared by every place a subtree repeats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

# Minimum closes per indicator as a function of its window (dsl.md, edge rules).
_NEED_EXTRA = {
    "current-price": None,
    "moving-average-price": 0,
    "exponential-moving-average-price": 0,
    "stdev-price": 0,
    "max-drawdown": 0,
    "rsi": 1,
    "cumulative-return": 1,
    "moving-average-return": 1,
    "stdev-return": 1,
}
PPO = "percentage-price-oscillator"
PPO_SIGNAL = "percentage-price-oscillator-signal"
INDICATORS = frozenset([*_NEED_EXTRA, PPO, PPO_SIGNAL])


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """An indicator with its parameters, without the series it applies to (value semantics)."""

    name: str
    window: int = 1
    short: int = 12
    long: int = 26
    smooth: int = 9

    @property
    def need(self) -> int:
        """Closes needed before the indicator is defined."""
        if self.name == PPO:
            return max(self.short, self.long)
        if self.name == PPO_SIGNAL:
            return max(self.short, self.long) + self.smooth - 1
        extra = _NEED_EXTRA[self.name]
        return 1 if extra is None else self.window + extra

    @property
    def label(self) -> str:
        if self.name in (PPO, PPO_SIGNAL):
            suffix = f" {self.smooth}" if self.name == PPO_SIGNAL else ""
            return f"{self.name}({self.short}/{self.long}{suffix})"
        if self.name == "current-price":
            return self.name
        return f"{self.name}({self.window})"


class Node:
    """Base of every tree node. Identity equality (hash-consing makes it structural)."""

    __slots__ = ()
    kind: ClassVar[str] = "node"


# ---- expressions and conditions ----


@dataclass(frozen=True, slots=True, eq=False)
class Indicator(Node):
    symbol: str
    spec: IndicatorSpec
    kind: ClassVar[str] = "indicator"


@dataclass(frozen=True, slots=True, eq=False)
class Constant(Node):
    value: float
    kind: ClassVar[str] = "constant"


Expr = Indicator | Constant


@dataclass(frozen=True, slots=True, eq=False)
class Compare(Node):
    op: Literal[">", "<", ">=", "<=", "="]
    left: Expr
    right: Expr
    kind: ClassVar[str] = "compare"


@dataclass(frozen=True, slots=True, eq=False)
class And(Node):
    items: tuple[Condition, ...]
    kind: ClassVar[str] = "and"


@dataclass(frozen=True, slots=True, eq=False)
class Or(Node):
    items: tuple[Condition, ...]
    kind: ClassVar[str] = "or"


@dataclass(frozen=True, slots=True, eq=False)
class Not(Node):
    item: Condition
    kind: ClassVar[str] = "not"


Condition = Compare | And | Or | Not

# ---- allocations ----


@dataclass(frozen=True, slots=True, eq=False)
class Asset(Node):
    symbol: str
    kind: ClassVar[str] = "asset"


@dataclass(frozen=True, slots=True, eq=False)
class WeightEqual(Node):
    children: tuple[Allocation, ...]
    kind: ClassVar[str] = "weight-equal"


@dataclass(frozen=True, slots=True, eq=False)
class WeightSpecified(Node):
    weights: tuple[float, ...]  # normalised to sum 1, zero weights already dropped
    children: tuple[Allocation, ...]
    kind: ClassVar[str] = "weight-specified"


@dataclass(frozen=True, slots=True, eq=False)
class WeightInverseVolatility(Node):
    window: int
    children: tuple[Allocation, ...]
    kind: ClassVar[str] = "weight-inverse-volatility"


@dataclass(frozen=True, slots=True, eq=False)
class Group(Node):
    name: str
    body: Allocation
    kind: ClassVar[str] = "group"


@dataclass(frozen=True, slots=True, eq=False)
class If(Node):
    condition: Condition
    then: Allocation
    otherwise: Allocation
    kind: ClassVar[str] = "if"


@dataclass(frozen=True, slots=True, eq=False)
class Filter(Node):
    metric: IndicatorSpec
    select: Literal["top", "bottom"]
    count: int
    children: tuple[Allocation, ...]
    kind: ClassVar[str] = "filter"


Allocation = Asset | WeightEqual | WeightSpecified | WeightInverseVolatility | Group | If | Filter

N = TypeVar("N", bound=Node)


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


def children_of(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes (allocations and conditions), in order."""
    if isinstance(node, WeightEqual | WeightSpecified | WeightInverseVolatility | Filter):
        return node.children
    if isinstance(node, Group):
        return (node.body,)
    if isinstance(node, If):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, And | Or):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    return ()
