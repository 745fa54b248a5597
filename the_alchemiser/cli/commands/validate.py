"""`validate PATH... [--json]`: check strategy files without data (parse, operators, universe, lookback).

Each file's errors are all reported (every invalid node; a malformed text stops at its first parse
error), with its warnings (weights that are normalised, ...). Text: a block per valid file on stdout,
one `error:`/`warning:` line each on stderr. `--json`: one object per file on stdout, valid or not
(`file`, `ok`, `errors`, `warnings`, and for a valid file `universe`, `max_lookback` and the rest).
Exit 1 when any file has an error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.dsl import DslError, Strategy

NAME = "validate"
HELP = "check .clj strategy files (or directories of them): syntax, operators, universe, longest lookback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".clj files or directories holding them")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file, errors included")


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found.extend(sorted(path.glob("*.clj")) if path.is_dir() else [path])
    return found


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error(error: DslError) -> dict[str, Any]:
    return {
        "message": _one_line(str(getattr(error, "message", error))),
        "line": getattr(error, "line", None),
        "column": getattr(error, "column", None),
        "text": _one_line(str(error)),
    }


def _report(path: Path, strategy: Strategy) -> dict[str, Any]:
    return {
        "file": str(path),
        "ok": True,
        "errors": [],
        "warnings": list(strategy.warnings),
        "strategy": strategy.name,
        "universe": sorted(strategy.universe),
        "traded": sorted(strategy.traded_symbols),
        "indicator_only": sorted(strategy.indicator_only_symbols),
        "max_lookback": strategy.max_lookback,
        "rebalance_threshold": strategy.rebalance_threshold,
        "nodes": strategy.node_count,
        "distinct_nodes": strategy.distinct_nodes,
    }


def _print_text(path: Path, report: dict[str, Any]) -> None:
    for warning in report["warnings"]:
        print(f"warning: {_one_line(warning)}", file=sys.stderr)
    for error in report["errors"]:
        print(f"error: {error['text']}", file=sys.stderr)
    if report["ok"]:
        print(f"{path}: OK  {report['strategy']!r}")
        print(f"  universe ({len(report['universe'])}): {' '.join(report['universe'])}")
        print(f"  traded ({len(report['traded'])}): {' '.join(report['traded'])}")
        print(f"  indicator-only ({len(report['indicator_only'])}): {' '.join(report['indicator_only']) or '-'}")
        print(f"  longest lookback: {report['max_lookback']} daily closes")


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.strategy_v2.dsl import DslError, DslValidationError, load_strategy

    files = _files(args.paths)
    if not files:
        print("error: no .clj files found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    failures = 0
    for path in files:
        try:
            report = _report(path, load_strategy(path))
        except DslError as exc:
            failures += 1
            found = exc.errors if isinstance(exc, DslValidationError) else [exc]
            warnings = exc.warnings if isinstance(exc, DslValidationError) else ()
            report = {"file": str(path), "ok": False, "errors": [_error(e) for e in found], "warnings": list(warnings)}
        if args.json:
            print(json.dumps(report))
        else:
            _print_text(path, report)
    return 1 if failures else 0
