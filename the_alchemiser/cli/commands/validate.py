"""`validate PATH...`: check strategy files without data (parse, operators, universe, lookback)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NAME = "validate"
HELP = "check .clj strategy files (or directories of them): syntax, operators, universe, longest lookback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".clj files or directories holding them")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found.extend(sorted(path.glob("*.clj")) if path.is_dir() else [path])
    return found


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.strategy_v2.dsl import DslError, load_strategy

    failures = 0
    files = _files(args.paths)
    if not files:
        print("error: no .clj files found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    for path in files:
        try:
            strategy = load_strategy(path)
        except DslError as exc:
            failures += 1
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            continue
        report: dict[str, Any] = {
            "file": str(path),
            "strategy": strategy.name,
            "universe": sorted(strategy.universe),
            "traded": sorted(strategy.traded_symbols),
            "indicator_only": sorted(strategy.indicator_only_symbols),
            "max_lookback": strategy.max_lookback,
            "rebalance_threshold": strategy.rebalance_threshold,
            "nodes": strategy.node_count,
            "distinct_nodes": strategy.distinct_nodes,
        }
        if args.json:
            print(json.dumps(report))
        else:
            print(f"{path}: OK  {strategy.name!r}")
            print(f"  universe ({len(report['universe'])}): {' '.join(report['universe'])}")
            print(f"  traded ({len(report['traded'])}): {' '.join(report['traded'])}")
            print(f"  indicator-only ({len(report['indicator_only'])}): {' '.join(report['indicator_only']) or '-'}")
            print(f"  longest lookback: {strategy.max_lookback} daily closes")
    return 1 if failures else 0
