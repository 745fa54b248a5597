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
    from the_alchemiser.strategy_v2.dsl.evaluator import DayEvaluator

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


def explainer(day: DayEvaluator, engine: dict[str, float], composer: dict[str, float]) -> Any:
    """The first decision on the engine's path for one day that Composer's holdings contradict: the day's
    trace walk (each node's own `trace`), stopped at the first `if` or `filter` whose other choice holds
    what Composer holds instead of what the engine holds."""
    from the_alchemiser.strategy_v2.dsl.evaluator import OK, DayFailure
    from the_alchemiser.strategy_v2.dsl.trace import Tracer

    missing = set(composer) - set(engine)  # Composer holds, the engine does not
    extra = set(engine) - set(composer)  # the engine holds, Composer does not

    class Explainer(Tracer):
        found: str | None = None

        def explain(self, root: n.Allocation) -> str | None:
            self._walk(root, ())
            return self.found

        def _walk(self, node: n.Allocation, path: tuple[str, ...]) -> None:
            if self.found:
                return
            before = len(self.entries)
            inner, children = node.trace(self, path)
            if len(self.entries) > before:
                self.found = self._contradiction(node, self.entries[-1])
            for child in children:
                self._walk(child, inner)

        def symbols(self, node: n.Allocation) -> set[str] | None:
            try:
                return {s for s, w in self.day.allocation(node).items() if w > DUST}
            except DayFailure:
                return None

        def contradicts(self, taken: set[str] | None, other: set[str] | None) -> bool:
            return bool(taken and other and (other & missing) and (taken & extra))

        def _contradiction(self, node: Any, entry: dict[str, Any]) -> str | None:
            where = f"[{entry['path']}] " if entry["path"] else ""
            if entry["type"] == "if":
                taken, other = (node.then, node.otherwise) if entry["result"] else (node.otherwise, node.then)
                if not self.contradicts(self.symbols(taken), self.symbols(other)):
                    return None
                sides = "; ".join(_comparison_text(c) for c in entry["comparisons"])
                return (
                    f"{where}if {entry['condition']}: {sides}; the engine took {entry['taken']}, Composer's "
                    f"holdings are in {'else' if entry['result'] else 'then'}"
                )
            if entry["type"] == "filter":
                scores, fails, _, kept = node.decision(self.day)
                held = [self.symbols(child) for child in node.children]
                wrong = [i for i, keep in enumerate(kept) if keep and held[i] and held[i] & extra]  # type: ignore[operator]
                wanted = [
                    j
                    for j, keep in enumerate(kept)
                    if not keep and fails[j] == OK and held[j] and held[j] & missing  # type: ignore[operator]
                ]
                if not (wrong and wanted):
                    return None
                i, j = wrong[0], wanted[0]
                return (
                    f"{where}filter {entry['metric']} {entry['select']} {entry['count']}: the engine kept "
                    f"{node.children[i].describe()}={_fmt(scores[i])}, Composer's holdings are in "
                    f"{node.children[j].describe()}={_fmt(scores[j])} (margin {_fmt(scores[i] - scores[j])})"
                )
            return None

    return Explainer(day)


def _comparison_text(c: dict[str, Any]) -> str:
    left = f"{c['left']}={_fmt(c['left_value'])}"
    right = c["right"] if c["right"] == _fmt(c["right_value"]) else f"{c['right']}={_fmt(c['right_value'])}"
    return f"{left} {c['op']} {right} (margin {_fmt(c['margin'])})"


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.market_data import MarketDataError
    from the_alchemiser.shared.market_data.location import open_market_data
    from the_alchemiser.strategy_v2.dsl import DslError, Market, load_strategy
    from the_alchemiser.strategy_v2.dsl.evaluator import DayEvaluator, Evaluator

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

    from the_alchemiser.strategy_v2.dsl.evaluator import DayFailure

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
    explained = explainer(root.at(index), weights, composer).explain(strategy.root)
    print(f"    first differing decision: {explained or 'none on the path: same holdings, different weights'}")
    return False


def _composer_symbols(weights: dict[str, float], universe: Any) -> dict[str, float]:
    """Composer may write `BRK.B` for the strategy's `BRK/B`."""
    out: dict[str, float] = {}
    for symbol, weight in weights.items():
        name = symbol if symbol in universe or symbol.replace(".", "/") not in universe else symbol.replace(".", "/")
        out[name] = out.get(name, 0.0) + weight
    return out
