"""The decision trace of one day: the path actually taken, with values, margins and rankings.

Entries are JSON-able dicts; `summarise` turns them into short lines for logs and the report."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from the_alchemiser.strategy_v2.dsl import nodes as n
from the_alchemiser.strategy_v2.dsl.day import DayEvaluator
from the_alchemiser.strategy_v2.dsl.evaluator import OK, describe, ranked_candidates

# A margin within this fraction of the compared values is flagged as a near-tie.
NEAR_TIE_RELATIVE = 0.01
SUMMARY_LINES = 40


def near_tie(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= NEAR_TIE_RELATIVE * max(abs(a), abs(b))


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def expr_label(node: n.Expr) -> str:
    if isinstance(node, n.Constant):
        return f"{node.value:g}"
    spec = node.spec
    if spec.name == "current-price":
        return f"current-price({node.symbol})"
    if spec.name in (n.PPO, n.PPO_SIGNAL):
        smooth = f"/{spec.smooth}" if spec.name == n.PPO_SIGNAL else ""
        return f"{spec.name}({node.symbol}, {spec.short}/{spec.long}{smooth})"
    return f"{spec.name}({node.symbol}, {spec.window})"


class TraceBuilder:
    """Walks the path the day's evaluation took, reading its memoised decisions."""

    def __init__(self, day: DayEvaluator) -> None:
        self.day = day
        self.entries: list[dict[str, Any]] = []

    def walk(self, root: n.Allocation) -> list[dict[str, Any]]:
        self._walk(root, ())
        return self.entries

    def _walk(self, node: n.Allocation, path: tuple[str, ...]) -> None:
        if isinstance(node, n.Group):
            self._walk(node.body, (*path, node.name))
        elif isinstance(node, n.WeightEqual | n.WeightSpecified):
            for child in node.children:
                self._walk(child, path)
        elif isinstance(node, n.If):
            taken = self._if(node, path)
            self._walk(node.then if taken else node.otherwise, path)
        elif isinstance(node, n.Filter):
            for child in self._filter(node, path):
                self._walk(child, path)
        elif isinstance(node, n.WeightInverseVolatility):
            for child in self._inverse_volatility(node, path):
                self._walk(child, path)

    def _comparisons(self, node: n.Condition, out: list[dict[str, Any]]) -> None:
        if isinstance(node, n.Compare):
            lv, rv = self.day.value_or_none(node.left), self.day.value_or_none(node.right)
            out.append(
                {
                    "left": expr_label(node.left),
                    "left_value": lv,
                    "op": node.op,
                    "right": expr_label(node.right),
                    "right_value": rv,
                    "margin": None if lv is None or rv is None else lv - rv,
                    "result": None if lv is None or rv is None else _COMPARE[node.op](lv, rv),
                    "near_tie": near_tie(lv, rv),
                }
            )
        elif isinstance(node, n.Not):
            self._comparisons(node.item, out)
        elif isinstance(node, n.And | n.Or):
            for item in node.items:
                self._comparisons(item, out)

    def _if(self, node: n.If, path: tuple[str, ...]) -> bool:
        taken = self.day.truth(node.condition)
        comparisons: list[dict[str, Any]] = []
        self._comparisons(node.condition, comparisons)
        self.entries.append(
            {
                "type": "if",
                "path": " > ".join(path),
                "condition": condition_text(node.condition),
                "comparisons": comparisons,
                "result": taken,
                "taken": "then" if taken else "else",
                "near_tie": any(c["near_tie"] for c in comparisons),
            }
        )
        return taken

    def _filter(self, node: n.Filter, path: tuple[str, ...]) -> list[n.Allocation]:
        scores, fails, selected = self.day.filter_decision(node)
        ranked = ranked_candidates(scores, fails, node.select)
        ranking = [
            {"candidate": describe(node.children[i]), "score": _number(scores[i]), "selected": selected[i]}
            for i in ranked
        ]
        excluded = [
            {"candidate": describe(child), "reason": self.day.ev.reason(code)}
            for child, code in zip(node.children, fails, strict=True)
            if code != OK
        ]
        kept = [i for i in ranked if selected[i]]
        boundary = len(kept) < len(ranked) and bool(kept)
        tie = boundary and near_tie(_number(scores[ranked[len(kept) - 1]]), _number(scores[ranked[len(kept)]]))
        self.entries.append(
            {
                "type": "filter",
                "path": " > ".join(path),
                "metric": node.metric.label,
                "select": f"select-{node.select}",
                "count": node.count,
                "ranking": ranking,
                "excluded": excluded,
                "near_tie": tie,
            }
        )
        return [node.children[i] for i in range(len(node.children)) if selected[i]]

    def _inverse_volatility(self, node: n.WeightInverseVolatility, path: tuple[str, ...]) -> list[n.Allocation]:
        sigmas, fails, shares = self.day.inverse_volatility_decision(node)
        rows = []
        for child, sigma, code, share in zip(node.children, sigmas, fails, shares, strict=True):
            row: dict[str, Any] = {"candidate": describe(child), "share": share}
            if code == OK:
                row["stdev_return"] = _number(sigma)
            else:
                row["reason"] = self.day.ev.reason(code)
            rows.append(row)
        self.entries.append(
            {"type": "weight-inverse-volatility", "path": " > ".join(path), "window": node.window, "children": rows}
        )
        return [child for child, share in zip(node.children, shares, strict=True) if share > 0]


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "=": operator.eq,
}


def condition_text(node: n.Condition) -> str:
    if isinstance(node, n.Compare):
        return f"{expr_label(node.left)} {node.op} {expr_label(node.right)}"
    if isinstance(node, n.Not):
        return f"not ({condition_text(node.item)})"
    joiner = " and " if isinstance(node, n.And) else " or "
    return joiner.join([f"({condition_text(item)})" for item in node.items])


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def summarise(entries: list[dict[str, Any]], weights: dict[str, float]) -> list[str]:
    """Short lines: the weights, then each decision on the taken path (near-ties marked)."""
    lines = ["weights: " + ", ".join(f"{s} {w:.1%}" for s, w in sorted(weights.items(), key=lambda kv: -kv[1]))]
    for entry in entries:
        where = f"[{entry['path']}] " if entry["path"] else ""
        flag = " NEAR-TIE" if entry.get("near_tie") else ""
        if entry["type"] == "if":
            parts = [
                f"{c['left']}={_fmt(c['left_value'])} {c['op']} {c['right']}"
                + ("" if c["right"] == _fmt(c["right_value"]) else f"={_fmt(c['right_value'])}")
                + f" (margin {_fmt(c['margin'])})"
                for c in entry["comparisons"]
            ]
            lines.append(f"{where}if {'; '.join(parts)} -> {entry['taken']}{flag}")
        elif entry["type"] == "filter":
            ranked = ", ".join(f"{r['candidate']}={_fmt(r['score'])}" for r in entry["ranking"][:6])
            kept = ", ".join(r["candidate"] for r in entry["ranking"] if r["selected"])
            left_out = f"; {len(entry['excluded'])} unscorable" if entry["excluded"] else ""
            lines.append(
                f"{where}filter {entry['metric']} {entry['select']} {entry['count']}: kept {kept} "
                f"(ranking {ranked}){left_out}{flag}"
            )
        else:
            shares = ", ".join(f"{c['candidate']} {c['share']:.1%}" for c in entry["children"])
            lines.append(f"{where}inverse-volatility {entry['window']}: {shares}")
    if len(lines) > SUMMARY_LINES:
        lines = [*lines[: SUMMARY_LINES - 1], f"... {len(lines) - SUMMARY_LINES + 1} more decisions in the trace"]
    return lines
