"""`signals FILE.clj --data DIR --as-of YYYY-MM-DD [--json]`: evaluate one strategy offline."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from the_alchemiser.shared.market_data import MarketDataPort

NAME = "signals"
HELP = "evaluate a strategy file on a directory of <SYMBOL>.csv bars and print its weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.clj", help="strategy file")
    parser.add_argument("--data", required=True, metavar="DIR", help="directory of <SYMBOL>.csv daily bars")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="evaluate with closes up to and including this day (default: the last bar in the data)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _fail(message: str, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError
    from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
    from the_alchemiser.strategy_v2.dsl import (
        DslEvaluationError,
        DslParseError,
        DslValidationError,
        evaluate_strategy,
        load_strategy,
    )

    # stdout carries exactly the result; the engine's log lines (warnings and up) go to stderr.
    configure_logging(level="WARNING", stream=sys.stderr)
    market = CsvDirectoryMarketData(args.data)
    try:
        strategy = load_strategy(Path(args.file))
        as_of = args.as_of or _last_bar_day(market, sorted(strategy.universe))
        result = evaluate_strategy(strategy, market, as_of)
    except DslParseError as exc:
        return _fail(f"parse error: {exc}", 2)
    except DslValidationError as exc:
        return _fail(f"invalid strategy: {exc}", 2)
    except MissingMarketDataError as exc:
        files = ", ".join(str(market.path_for(s)) for s in exc.symbols)
        return _fail(f"missing market data: {exc} (expected {files})", 3)
    except MarketDataError as exc:
        return _fail(f"market data: {exc}", 3)
    except DslEvaluationError as exc:
        return _fail(f"cannot evaluate: {exc}", 4)
    if args.json:
        print(json.dumps(result.to_json(), allow_nan=False))
    else:
        print(f"{result.name}  as of {result.as_of}")
        for line in result.trace_summary:
            print(f"  {line}")
    return 0


def _last_bar_day(market: MarketDataPort, symbols: list[str]) -> date:
    """Without --as-of: the newest bar date among the strategy's symbols."""
    import pandas as pd

    bars = market.daily_bars(symbols)
    newest: date = max(pd.Timestamp(frame.index.max()) for frame in bars.values() if len(frame)).date()
    return newest
