"""The decision trace of one day: the path the answer took, with values, distances and rankings.

Entries are JSON-able dicts (`type`, `path`, then the kind's own keys: an `if`'s `condition`,
`comparisons` and `taken`, a `filter`'s `ranking` and `excluded`, ...). Each node kind makes its entry
(`trace` in nodes.py) as the `Tracer` walks the path the day's answer took. `summarise` turns them into
lines for logs, the strategy's signal and the daily report: the weights, then every decision on the
path, each line self-contained, in one sign convention: a comparison reads "true by 1.54" or
"false by 47.8" (how far its two sides are from flipping the result, always positive)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.dsl.evaluator import DayEvaluator
    from the_alchemiser.strategy_v2.dsl.nodes import Allocation

# A margin within this fraction of the compared values is flagged as a near-tie.
NEAR_TIE_RELATIVE = 0.01
# Lines beyond this are cut, with a line saying how many more decisions the full trace has.
SUMMARY_LINES = 200
# Candidates named in a filter's ranking line; the rest are counted ("+3 more").
RANKING_SHOWN = 8


def near_tie(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= NEAR_TIE_RELATIVE * max(abs(a), abs(b))


def number(value: Any) -> float | None:
    """A JSON-able number: None for NaN or infinity."""
    found = float(value)
    return found if math.isfinite(found) else None


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def by(comparison: dict[str, Any]) -> str:
    """ "true by 1.54" / "false by 47.8": which way a comparison went and its distance from flipping."""
    if comparison["result"] is None:
        return "undecided (a side has no value)"
    return f"{'true' if comparison['result'] else 'false'} by {fmt(abs(comparison['margin']))}"


def ranking_text(ranked: list[tuple[str, float | None]]) -> str:
    """`A=1.5, B=0.9, +3 more`: the first candidates with their scores, the rest counted."""
    shown = ", ".join(name if score is None else f"{name}={fmt(score)}" for name, score in ranked[:RANKING_SHOWN])
    more = len(ranked) - RANKING_SHOWN
    return f"{shown}, +{more} more" if more > 0 else shown


class Tracer:
    """Walks the path the day's evaluation took; each node records its decision from the day's memos."""

    def __init__(self, day: DayEvaluator) -> None:
        self.day = day
        self.entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)

    def walk(self, root: Allocation) -> list[dict[str, Any]]:
        self._walk(root, ())
        return self.entries

    def _walk(self, node: Allocation, path: tuple[str, ...]) -> None:
        path, children = node.trace(self, path)
        for child in children:
            self._walk(child, path)


def summarise(entries: list[dict[str, Any]], weights: dict[str, float]) -> list[str]:
    """The weights, then one line per decision on the taken path (near-ties marked), in path order."""
    from the_alchemiser.strategy_v2.dsl.nodes import OPERATORS, Allocation  # nodes imports this module

    lines = ["weights: " + ", ".join(f"{s} {w:.1%}" for s, w in sorted(weights.items(), key=lambda kv: -kv[1]))]
    for entry in entries:
        kind = OPERATORS[entry["type"]]
        assert issubclass(kind, Allocation)
        where = f"[{entry['path']}] " if entry["path"] else ""
        flag = " NEAR-TIE" if entry.get("near_tie") else ""
        lines.append(f"{where}{kind.summary(entry)}{flag}")
    if len(lines) > SUMMARY_LINES:
        lines = [*lines[: SUMMARY_LINES - 1], f"... {len(lines) - SUMMARY_LINES + 1} more decisions in the trace"]
    return lines
