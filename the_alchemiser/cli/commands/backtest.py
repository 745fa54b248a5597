"""`backtest FILE.clj [FILE.clj ...] --data DIR --start D --end D --out OUTDIR [--json] [--timing composer|live]
[--cost-bps N] [--benchmark SYMBOL] [--allocations FILE.toml --stage STAGE]`: what the strategies would
have done (docs/backtest.md). Writes equity.csv, weights.csv, stats.json and report.html into OUTDIR."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from the_alchemiser.strategy_v2.backtest import StrategyInput

NAME = "backtest"
HELP = "backtest strategy files (or a stage's allocations) on daily bars: equity, weights, statistics, report"
# Set to 1 to get the phases' wall times as one JSON line on stderr (benchmarks/backtest.py reads it).
TIMINGS_ENV = "ALCHEMISER_BACKTEST_TIMINGS"
ALLOCATIONS_NAME = "allocations.toml"


class UsageError(Exception):
    """A bad argument: one line on stderr, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE.clj", help="strategy files (equal allocation)")
    parser.add_argument("--data", required=True, metavar="DIR", help="market data: a directory of <SYMBOL>.csv bars")
    parser.add_argument(
        "--start", required=True, metavar="YYYY-MM-DD", help="first day (the first trading day on or after it)"
    )
    parser.add_argument(
        "--end", required=True, metavar="YYYY-MM-DD", help="last day (the last trading day on or before it)"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="OUTDIR", help="directory for the output files")
    parser.add_argument("--json", action="store_true", help="print stats.json on stdout")
    parser.add_argument(
        "--timing",
        choices=("composer", "live"),
        default="composer",
        help="composer: weights decided at the close of t held from t to t+1 (default); "
        "live: weights decided as of t-1 traded at t (this system's 15:30 run)",
    )
    parser.add_argument(
        "--cost-bps", default="0", metavar="N", help="trading cost in basis points of one-way turnover (0)"
    )
    parser.add_argument("--benchmark", default=None, metavar="SYMBOL", help="a symbol bought on the first day and held")
    parser.add_argument(
        "--allocations", type=Path, default=None, metavar="FILE.toml", help="strategies/allocations.toml"
    )
    parser.add_argument(
        "--stage", default=None, metavar="STAGE", help="the stage table of --allocations (dev, prod...)"
    )


def _fail(message: str, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _day(flag: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def _cost(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--cost-bps {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--cost-bps must be a non-negative number, not {text}")
    return value


def _strategies(args: argparse.Namespace) -> list[StrategyInput]:
    from the_alchemiser.strategy_v2.backtest import StrategyInput
    from the_alchemiser.strategy_v2.dsl import load_strategy

    if args.allocations is None and args.stage is None:
        if not args.files:
            raise UsageError("give one or more strategy files, or --allocations FILE.toml --stage STAGE")
        share = 1.0 / len(args.files)
        return [StrategyInput(load_strategy(Path(f)), share, Path(f).name) for f in args.files]
    if args.files:
        raise UsageError("give strategy files or --allocations/--stage, not both")
    if args.allocations is None or args.stage is None:
        raise UsageError("--allocations and --stage go together")
    from the_alchemiser.coordinator_v2.allocations import load_allocations

    if args.allocations.name != ALLOCATIONS_NAME:
        raise UsageError(f"--allocations must be a strategies directory's {ALLOCATIONS_NAME}, not {args.allocations}")
    directory = args.allocations.parent
    allocations = load_allocations(directory, args.stage)
    return [StrategyInput(load_strategy(directory / f), float(a), f) for f, a in allocations.items()]


def _progress() -> tuple[Callable[[str], None] | None, Callable[[], None]]:
    """A one-line progress display on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None

    def show(message: str) -> None:
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()

    def done() -> None:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    return show, done


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.coordinator_v2.allocations import AllocationConfigError
    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError
    from the_alchemiser.shared.market_data.location import open_market_data
    from the_alchemiser.strategy_v2.backtest import BacktestError, BacktestRequest, run_backtest
    from the_alchemiser.strategy_v2.backtest.output import REPORT_FILE, stats_text, write_outputs
    from the_alchemiser.strategy_v2.backtest.report import build_report
    from the_alchemiser.strategy_v2.dsl import DslEvaluationError, DslParseError, DslValidationError

    entered = time.time()  # start-up (interpreter and imports) ends here
    configure_logging(level="WARNING", stream=sys.stderr)  # stdout carries only the result
    show, done = _progress()
    try:
        start, end = _day("--start", args.start), _day("--end", args.end)
        if start > end:
            raise UsageError(f"--start {start} is after --end {end}")
        cost_bps = _cost(args.cost_bps)
        strategies = _strategies(args)
        request = BacktestRequest(tuple(strategies), start, end, args.timing, cost_bps, args.benchmark)
        result = run_backtest(request, open_market_data(args.data), progress=show)
        clock = time.perf_counter()
        html = build_report(result)
        result.timings["report"] = time.perf_counter() - clock
        clock = time.perf_counter()
        paths = write_outputs(result, args.out, html)
        result.timings["write"] = time.perf_counter() - clock
    except UsageError as exc:
        return _fail(str(exc), 2)
    except DslParseError as exc:
        return _fail(f"parse error: {exc}", 2)
    except DslValidationError as exc:
        return _fail(f"invalid strategy: {exc}", 2)
    except AllocationConfigError as exc:
        return _fail(f"allocations: {exc}", 2)
    except MissingMarketDataError as exc:
        return _fail(f"missing market data: {exc} (in {args.data})", 3)
    except MarketDataError as exc:
        return _fail(f"market data: {exc}", 3)
    except BacktestError as exc:
        return _fail(str(exc), 3)
    except DslEvaluationError as exc:
        return _fail(f"cannot evaluate: {exc}", 4)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}", 5)
    finally:
        done()

    for late in result.late_starts:
        print(f"note: {late.note(start)}", file=sys.stderr)
    if result.late_starts and result.dates[0] > start:
        print(f"note: the portfolio starts on {result.dates[0]} (the latest strategy start)", file=sys.stderr)
    if os.environ.get(TIMINGS_ENV) == "1":
        print(json.dumps({"timings": {"entered": entered, **result.timings}}), file=sys.stderr)
    if args.json:
        sys.stdout.write(stats_text(result))
    else:
        stats = result.stats()["portfolio"]
        print(
            f"{result.dates[0]} .. {result.dates[-1]} ({args.timing} timing): total return "
            f"{stats['total_return']:.2%}, max drawdown {stats['max_drawdown']:.2%}"
        )
        print(f"wrote {paths[REPORT_FILE]} and the CSV/JSON files beside it")
    return 0
