"""`signals FILE.clj --data DIR --as-of YYYY-MM-DD [--json]`: evaluate one strategy offline."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from the_alchemiser.shared.market_data import MarketDataPort

NAME = "signals"
HELP = (
    "evaluate a strategy file on cached daily bars (CSV directory, datalake directory or s3://) and print its weights"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.clj", help="strategy file")
    parser.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help="daily bars: a directory of <SYMBOL>.csv, a datalake directory (<SYMBOL>/daily.parquet) or s3://bucket/prefix",
    )
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="evaluate with closes up to and including this day (default: the last bar in the data)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="append today's bar built from the latest quotes (ALPACA_API_KEY/ALPACA_SECRET_KEY; ALPACA_DATA_URL "
        'to point elsewhere), as Composer does near the close; the JSON says "mode": "live-bar"',
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _fail(message: str, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError
    from the_alchemiser.shared.market_data.location import expected_location, open_market_data
    from the_alchemiser.strategy_v2.dsl import (
        DslEvaluationError,
        DslParseError,
        DslValidationError,
        evaluate_strategy,
        load_strategy,
    )

    # stdout carries exactly the result; the engine's log lines (warnings and up) go to stderr.
    configure_logging(level="WARNING", stream=sys.stderr)
    if args.live and args.as_of is not None:
        return _fail("--live evaluates as of today: give --live or --as-of, not both", 2)
    try:
        market = open_market_data(args.data)
        strategy = load_strategy(Path(args.file))
        if args.live:
            from the_alchemiser.shared.market_data.live import live_market_data

            market, as_of = live_market_data(market, sorted(strategy.universe))
        else:
            as_of = args.as_of or _last_bar_day(market, sorted(strategy.universe))
        result = evaluate_strategy(strategy, market, as_of)
    except DslParseError as exc:
        return _fail(f"parse error: {exc}", 2)
    except DslValidationError as exc:
        return _fail(f"invalid strategy: {exc}", 2)
    except MissingMarketDataError as exc:
        files = ", ".join(expected_location(market, s) for s in exc.symbols)
        return _fail(f"missing market data: {exc} (expected {files})", 3)
    except MarketDataError as exc:
        return _fail(f"market data: {exc}", 3)
    except DslEvaluationError as exc:
        return _fail(f"cannot evaluate: {exc}", 4)
    if args.live:
        result = dataclasses.replace(result, mode="live-bar")
    elif args.as_of is not None:
        _say_if_data_ends_early(result.as_of, args.as_of)
    if args.json:
        print(json.dumps(result.to_json(), allow_nan=False))
    else:
        print(f"{result.name}  as of {result.as_of}" + ("  (live bar)" if args.live else ""))
        for line in result.trace_summary:
            print(f"  {line}")
    return 0


def _say_if_data_ends_early(evaluated: date, requested: date) -> None:
    """An --as-of after the last bar evaluates the last bar: say so, with the gap in trading days."""
    if evaluated >= requested:
        return
    from datetime import timedelta

    from the_alchemiser.shared.calendar import nyse_calendar

    gap = len(nyse_calendar().trading_days(evaluated + timedelta(days=1), requested))
    if gap:
        print(
            f"note: the data ends on {evaluated}, {gap} trading day{'s' if gap != 1 else ''} before the requested "
            f"as-of {requested}: evaluated as of {evaluated}",
            file=sys.stderr,
        )


def _last_bar_day(market: MarketDataPort, symbols: list[str]) -> date:
    """Without --as-of: the newest bar date among the strategy's symbols."""
    bars = market.daily_bars(symbols)
    newest = max((b.last_date for b in bars.values() if b.last_date is not None), default=None)
    if newest is None:
        from the_alchemiser.shared.market_data import MissingMarketDataError

        raise MissingMarketDataError(symbols)
    return newest
