"""`run`: one whole trading day locally (the default command)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

NAME = "run"
HELP = "run one whole trading day locally: emulated AWS from template.yaml, local paper broker, synthetic market"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=date.fromisoformat, help="trading day YYYY-MM-DD (default: most recent)")
    parser.add_argument(
        "--strategies",
        nargs="+",
        metavar="FILE",
        help="only these strategy files, by name or path (allocations renormalised to sum to 1)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="a fresh account and tables (needed to trade a day before the last one)"
    )
    parser.add_argument("--output", type=Path, default=None, help="output folder (default: ./output)")
    parser.add_argument("--no-dynamodb-local", action="store_true", help="use moto for DynamoDB too")
    parser.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="real daily bars from `data fetch` (CSV or datalake directory, s3://bucket/prefix): the local broker "
        "quotes around their closes instead of the synthetic market",
    )
    parser.add_argument(
        "--paper",
        action="store_true",
        help="trade the real Alpaca paper account (needs ALPACA_API_KEY/ALPACA_SECRET_KEY) instead of the local broker",
    )


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.local import local_group_missing

    missing = local_group_missing("run")
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    from the_alchemiser.local.stack import runs

    if not (args.paper and args.date is not None):  # a weekend or holiday: answered before anything loads
        today = runs.today_in_new_york()
        day = today if args.paper else runs.choose_day(args.date, today)
        closed = runs.not_a_trading_day(day)
        if closed is not None:
            runs.record_closed_day(runs.new_run_dir(args.output or runs.DEFAULT_OUTPUT, day), day, closed, print)
            return 0

    if not args.no_dynamodb_local and not args.fresh:  # its JVM starts while the stack imports (--fresh wipes it)
        from the_alchemiser.local.dynamodb_local import prelaunch

        prelaunch(runs.state_dir(args.output or runs.DEFAULT_OUTPUT) / "dynamodb")
    from the_alchemiser.local.stack.day import DEFAULT_OUTPUT, DayOptions, run_trading_day
    from the_alchemiser.shared.market_data import MarketDataError

    if args.data and args.paper:
        print("error: --data feeds the local broker; --paper trades Alpaca's own market: give one", file=sys.stderr)
        return 2
    options = DayOptions(
        market_data=args.data,
        paper=args.paper,
        day=args.date,
        strategies=args.strategies,
        fresh_broker=args.fresh,
        output_dir=args.output or DEFAULT_OUTPUT,
        use_dynamodb_local=not args.no_dynamodb_local,
    )
    try:
        result = run_trading_day(options)
    except MarketDataError as exc:  # a bad --data: one line, before anything trades
        print(f"error: market data: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if result.outcome == "none" and result.notes:
        return 0  # a holiday, or the day already ran: nothing to do is a success
    return 0 if result.outcome == "completed" else 1
