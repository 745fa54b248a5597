"""A loaded strategy: the validated tree plus what callers need without evaluating it (universe,
longest lookback, rebalance threshold)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.build import build
from the_alchemiser.strategy_v2.dsl.errors import DslValidationError
from the_alchemiser.strategy_v2.dsl.reader import Source, read


@dataclass(frozen=True, eq=False)
class Strategy:
    """A parsed, validated strategy. `universe` is every ticker it mentions (traded or indicator-only):
    the symbols whose bars an evaluation needs. `max_lookback` is the most daily closes any node needs
    before it is defined (assuming all series start together). Identical subtrees are one node."""

    name: str
    file: str | None
    root: n.Allocation
    metadata: dict[str, Any]
    traded_symbols: frozenset[str]
    indicator_symbols: frozenset[str]
    max_lookback: int
    node_count: int  # allocation/condition nodes as written
    distinct_nodes: int  # after sharing identical subtrees
    rebalance_threshold: float | None = field(default=None)
    warnings: tuple[str, ...] = ()  # "file:line:col: message" for what loads but looks unintended

    @property
    def universe(self) -> frozenset[str]:
        return self.traded_symbols | self.indicator_symbols

    @property
    def indicator_only_symbols(self) -> frozenset[str]:
        return self.indicator_symbols - self.traded_symbols


def distinct_nodes(root: n.Node) -> list[n.Node]:
    """Every distinct node once, children before parents (iterative post-order)."""
    seen: set[int] = set()
    order: list[n.Node] = []
    stack: list[tuple[n.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.subnodes()) if id(child) not in seen)
    return order


def lookbacks(order: list[n.Node]) -> dict[int, int]:
    """Closes each node needs before it is defined (by node id), assuming all series start together;
    `order` is `distinct_nodes` (children first)."""
    need: dict[int, int] = {}
    for node in order:
        need[id(node)] = node.lookback(need)
    return need


def load_strategy(path: str | os.PathLike[str]) -> Strategy:
    """Read, parse and validate the strategy file at `path` (nothing is evaluated, no data is read).

    Raises DslParseError (malformed text, with file:line:col) or DslValidationError (unknown operator,
    bad arguments, or a file that cannot be read as UTF-8 text); both are DslError."""
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise DslValidationError(f"cannot read strategy file: {exc.strerror or exc}", file=file) from exc
    except UnicodeDecodeError as exc:
        raise DslValidationError(f"strategy file is not UTF-8 text: {exc.reason}", file=file) from exc
    return parse_strategy(text, file=file)


def parse_strategy(text: str, file: str | None = None) -> Strategy:
    """Parse and validate strategy text; `file` only names the source in errors and in the result."""
    src = Source(text, file)
    definition = build(read(src), src)
    order = distinct_nodes(definition.root)
    traded = frozenset(node.symbol for node in order if isinstance(node, n.Asset))
    indicator = frozenset(node.symbol for node in order if isinstance(node, n.Indicator))
    threshold = definition.metadata.get("rebalance-threshold")
    return Strategy(
        name=definition.name,
        file=file,
        root=definition.root,
        metadata=definition.metadata,
        traded_symbols=traded,
        indicator_symbols=indicator,
        max_lookback=lookbacks(order)[id(definition.root)],
        node_count=definition.node_requests,
        distinct_nodes=len(order),
        rebalance_threshold=None if threshold is None else float(threshold),
        warnings=definition.warnings,
    )
