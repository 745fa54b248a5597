"""`compare FILE.clj... --data DIR --composer COMPOSER.csv`: check the engine against what Composer showed.

COMPOSER.csv has the columns `date,strategy,weights`: the day Composer displays, the strategy, and its
allocation as JSON (`{"SPY": 0.5, "TLT": 0.5}`, Composer's 3-decimal precision). `strategy` is either the
strategy file's name (`nuclear.clj` or `nuclear`) or its defsymphony name; both are accepted.

Each strategy-day is evaluated with both timings: as of D, and as of D-1 (the previous trading day), since
Composer's displayed backtest day D is what the live run trades on the next day's completed bars. A day
matches when either timing's weights are within 0.0015 of Composer's on every symbol. A mismatch names
the first decision on the engine's path that Composer's weights contradict: the `if` whose untaken branch
holds what Composer holds (its comparisons with both sides' values and the margin), or the `filter` that
kept a candidate Composer did not (the scores and their margin). The last line: `N/M strategy-days match`.
Exit 0 when every strategy-day matches, 1 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.dsl import Strategy
    from the_alchemiser.strategy_v2.dsl import nodes as n
    from the_alchemiser.strategy_v2.dsl.day import DayEvaluator

NAME = "compare"
HELP = "compare a strategy's daily weights with what Composer showed (date,strategy,weights CSV)"

TOLERANCE = 0.0015  # Composer shows 3 decimals
DUST = 1e-12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE.clj", help="strategy files")
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="daily bars: CSV directory, datalake directory or s3://"
    )
    parser.add_argument(
        "--composer", required=True, type=Path, metavar="COMPOSER.csv", help="columns date,strategy,weights"
    )


@dataclass(frozen=True)
class ComposerDay:
    line: int
    day: date
    strategy: str
    weights: dict[str, float]


class CompareInputError(ValueError):
    """A malformed Composer file or a strategy it names that was not given."""


def read_composer(path: Path) -> list[ComposerDay]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CompareInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"date", "strategy", "weights"} <= set(reader.fieldnames):
        raise CompareInputError(f"{path}: the header must name date,strategy,weights, found {reader.fieldnames}")
    rows: list[ComposerDay] = []
    for line, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row["date"] or "").strip())
            raw = json.loads(row["weights"] or "")
            if not isinstance(raw, dict):
                raise ValueError("weights must be a JSON object")
            weights = {str(s): float(w) for s, w in raw.items() if float(w) != 0}
            if any(not math.isfinite(w) or w < 0 for w in weights.values()):
                raise ValueError("weights must be finite and not negative")
        except (ValueError, TypeError) as exc:
            raise CompareInputError(f"{path}:{line}: {exc}") from None
        strategy = (row["strategy"] or "").strip()
        if not strategy:
            raise CompareInputError(f"{path}:{line}: no strategy")
        rows.append(ComposerDay(line, day, strategy, weights))
    if not rows:
        raise CompareInputError(f"{path}: no rows")
    return rows


def _key(name: str) -> str:
    return name.strip().casefold()


def match_strategies(rows: list[ComposerDay], strategies: dict[Path, Strategy]) -> dict[Path, list[ComposerDay]]:
    """Rows per strategy file, by file name (with or without .clj) or defsymphony name."""
    names: dict[str, Path] = {}
    for path, strategy in strategies.items():
        for alias in (path.name, path.stem, strategy.name):
            names.setdefault(_key(alias), path)
    grouped: dict[Path, list[ComposerDay]] = {path: [] for path in strategies}
    unknown = sorted({row.strategy for row in rows if _key(row.strategy) not in names})
    if unknown:
        given = ", ".join(p.name for p in strategies)
        raise CompareInputError(f"the Composer file names strategies not given: {', '.join(unknown)} (given: {given})")
    for row in rows:
        grouped[names[_key(row.strategy)]].append(row)
    return grouped


def normalised(found: dict[str, float]) -> dict[str, float]:
    kept = {s: w for s, w in found.items() if w > DUST}
    total = sum(kept.values())
    return {s: w / total for s, w in sorted(kept.items())} if total > 0 else {}


def difference(a: dict[str, float], b: dict[str, float]) -> tuple[float, str]:
    """The largest absolute weight difference and the symbol it is on."""
    worst, where = 0.0, ""
    for symbol in sorted(set(a) | set(b)):
        gap = abs(a.get(symbol, 0.0) - b.get(symbol, 0.0))
        if gap > worst:
            worst, where = gap, symbol
    return worst, where


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _weights_text(weights: dict[str, float]) -> str:
    return "{" + ", ".join(f"{s}: {w:.3f}" for s, w in sorted(weights.items())) + "}"


class Explainer:
    """The first decision on the engine's path for one day that Composer's holdings contradict."""

    def __init__(self, day: DayEvaluator, engine: dict[str, float], composer: dict[str, float]) -> None:
        self.day = day
        self.missing = set(composer) - set(engine)  # Composer holds, the engine does not
        self.extra = set(engine) - set(composer)  # the engine holds, Composer does not

    def symbols(self, node: n.Allocation) -> set[str] | None:
        from the_alchemiser.strategy_v2.dsl.day import DayFailure

        try:
            return {s for s, w in self.day.allocation(node).items() if w > DUST}
        except DayFailure:
            return None

    def first(self, node: n.Allocation, path: tuple[str, ...] = ()) -> str | None:
        from the_alchemiser.strategy_v2.dsl import nodes as n

        if isinstance(node, n.Group):
            return self.first(node.body, (*path, node.name))
        if isinstance(node, n.WeightEqual | n.WeightSpecified | n.WeightInverseVolatility):
            for child in node.children:
                found = self.first(child, path)
                if found:
                    return found
            return None
        if isinstance(node, n.If):
            return self._if(node, path)
        if isinstance(node, n.Filter):
            return self._filter(node, path)
        return None

    def _contradicts(self, taken: set[str] | None, other: set[str] | None) -> bool:
        return bool(taken and other and (other & self.missing) and (taken & self.extra))

    def _if(self, node: n.If, path: tuple[str, ...]) -> str | None:
        from the_alchemiser.strategy_v2.dsl.trace import condition_text

        truth = self.day.truth(node.condition)
        taken, other = (node.then, node.otherwise) if truth else (node.otherwise, node.then)
        if not self._contradicts(self.symbols(taken), self.symbols(other)):
            return self.first(taken, path)
        where = f"[{' > '.join(path)}] " if path else ""
        sides = "; ".join(self._comparisons(node.condition))
        return (
            f"{where}if {condition_text(node.condition)}: {sides}; the engine took "
            f"{'then' if truth else 'else'}, Composer's holdings are in {'else' if truth else 'then'}"
        )

    def _comparisons(self, condition: n.Condition) -> list[str]:
        from the_alchemiser.strategy_v2.dsl import nodes as n
        from the_alchemiser.strategy_v2.dsl.trace import expr_label

        if isinstance(condition, n.Compare):
            left, right = self.day.value_or_none(condition.left), self.day.value_or_none(condition.right)
            margin = None if left is None or right is None else left - right
            sides = [
                label if label == _fmt(value) else f"{label}={_fmt(value)}"
                for label, value in ((expr_label(condition.left), left), (expr_label(condition.right), right))
            ]
            return [f"{sides[0]} {condition.op} {sides[1]} (margin {_fmt(margin)})"]
        if isinstance(condition, n.Not):
            return self._comparisons(condition.item)
        if isinstance(condition, n.And | n.Or):
            return [text for item in condition.items for text in self._comparisons(item)]
        return []

    def _filter(self, node: n.Filter, path: tuple[str, ...]) -> str | None:
        from the_alchemiser.strategy_v2.dsl.evaluator import OK, describe

        scores, fails, selected = self.day.filter_decision(node)
        held = {i: self.symbols(child) for i, child in enumerate(node.children)}
        kept = [i for i in range(len(node.children)) if selected[i]]
        dropped = [i for i in range(len(node.children)) if not selected[i] and fails[i] == OK]
        wrong = [i for i in kept if held[i] and held[i] & self.extra]  # type: ignore[operator]
        wanted = [j for j in dropped if held[j] and held[j] & self.missing]  # type: ignore[operator]
        if not (wrong and wanted):
            for i in kept:
                found = self.first(node.children[i], path)
                if found:
                    return found
            return None
        i, j = wrong[0], wanted[0]
        where = f"[{' > '.join(path)}] " if path else ""
        return (
            f"{where}filter {node.metric.label} select-{node.select} {node.count}: the engine kept "
            f"{describe(node.children[i])}={_fmt(scores[i])}, Composer's holdings are in "
            f"{describe(node.children[j])}={_fmt(scores[j])} (margin {_fmt(scores[i] - scores[j])})"
        )


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.market_data import MarketDataError
    from the_alchemiser.shared.market_data.location import open_market_data
    from the_alchemiser.strategy_v2.dsl import DslError, Market, load_strategy
    from the_alchemiser.strategy_v2.dsl.day import DayEvaluator
    from the_alchemiser.strategy_v2.dsl.evaluator import Evaluator

    configure_logging(level="WARNING", stream=sys.stderr)
    try:
        rows = read_composer(args.composer)
        strategies = {Path(f): load_strategy(Path(f)) for f in args.files}
        grouped = match_strategies(rows, strategies)
        market_data = open_market_data(args.data)
    except (CompareInputError, DslError, MarketDataError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2

    matched = total = 0
    for path, days in grouped.items():
        if not days:
            continue
        strategy = strategies[path]
        try:
            bars = market_data.daily_bars(sorted(strategy.universe), end=max(d.day for d in days))
            market = Market(bars, strategy.universe, end=max(d.day for d in days))
        except (MarketDataError, DslError) as exc:
            print(f"error: {path.name}: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        root = DayEvaluator(Evaluator(market), len(market) - 1)
        for row in sorted(days, key=lambda r: r.day):
            total += 1
            matched += compare_day(strategy, market, root, row)
    print(f"{matched}/{total} strategy-days match")
    return 0 if matched == total else 1


Answer = tuple[str, int, "dict[str, float] | None", str]  # timing, axis index, weights, why not


def _answers(strategy: Strategy, market: Any, root: DayEvaluator, day: date) -> list[Answer]:
    """The engine's weights as of D-1 (the previous trading day in the data) and as of D."""
    import numpy as np

    from the_alchemiser.strategy_v2.dsl.day import DayFailure

    at_d = int(np.searchsorted(market.dates, np.datetime64(day, "D"), side="right")) - 1
    at_prev = int(np.searchsorted(market.dates, np.datetime64(day, "D"), side="left")) - 1
    answers: list[Answer] = []
    for label, index in (("as of D-1", at_prev), ("as of D", at_d)):
        if index < 0:
            answers.append((label, index, None, "no bars yet"))
            continue
        try:
            answers.append((label, index, normalised(root.at(index).allocation(strategy.root)), ""))
        except DayFailure as failure:
            answers.append((label, index, None, root.ev.reason(failure.code)))
    return answers


def compare_day(strategy: Strategy, market: Any, root: DayEvaluator, row: ComposerDay) -> bool:
    """Print one strategy-day's verdict; True when it matches."""
    composer = normalised(_composer_symbols(row.weights, strategy.universe))
    answers = _answers(strategy, market, root, row.day)
    head = f"{row.day}  {strategy.name}"
    for label, index, weights, _ in answers:
        if weights is not None and difference(weights, composer)[0] <= TOLERANCE:
            print(f"{head}  match ({label} = {market.day(index)})")
            return True
    print(f"{head}  MISMATCH: Composer {_weights_text(composer)}")
    for label, _, weights, reason in answers:
        if weights is None:
            print(f"    engine {label}: cannot evaluate ({reason})")
    evaluated = [(label, index, w) for label, index, w, _ in answers if w is not None]
    if not evaluated:
        return False
    label, index, weights = min(evaluated, key=lambda a: difference(a[2], composer)[0])
    gap, symbol = difference(weights, composer)
    print(f"    engine {label} ({market.day(index)}): {_weights_text(weights)} (largest gap {gap:.3f} on {symbol})")
    explained = Explainer(root.at(index), weights, composer).first(strategy.root)
    print(f"    first differing decision: {explained or 'none on the path: same holdings, different weights'}")
    return False


def _composer_symbols(weights: dict[str, float], universe: Any) -> dict[str, float]:
    """Composer may write `BRK.B` for the strategy's `BRK/B`."""
    out: dict[str, float] = {}
    for symbol, weight in weights.items():
        name = symbol if symbol in universe or symbol.replace(".", "/") not in universe else symbol.replace(".", "/")
        out[name] = out.get(name, 0.0) + weight
    return out
