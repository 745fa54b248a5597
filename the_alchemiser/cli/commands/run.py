"""`run`: one whole trading day locally (the default command)."""

from __future__ import annotations

import argparse
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
        "--paper",
        action="store_true",
        help="trade the real Alpaca paper account (needs ALPACA_API_KEY/ALPACA_SECRET_KEY) instead of the local broker",
    )


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.local.stack import runs

    if not (args.paper and args.date is not None):  # a weekend or holiday: answered before anything loads
        today = runs.today_in_new_york()
        day = today if args.paper else runs.choose_day(args.date, today)
        closed = runs.not_a_trading_day(day)
        if closed is not None:
            runs.record_closed_day(runs.new_run_dir(args.output or runs.DEFAULT_OUTPUT, day), day, closed, print)
            return 0

    from the_alchemiser.local.stack.day import DEFAULT_OUTPUT, DayOptions, run_trading_day

    options = DayOptions(
        paper=args.paper,
        day=args.date,
        strategies=args.strategies,
        fresh_broker=args.fresh,
        output_dir=args.output or DEFAULT_OUTPUT,
        use_dynamodb_local=not args.no_dynamodb_local,
    )
    result = run_trading_day(options)
    if result.outcome == "none" and result.notes:
        return 0  # a holiday, or the day already ran: nothing to do is a success
    return 0 if result.outcome == "completed" else 1
