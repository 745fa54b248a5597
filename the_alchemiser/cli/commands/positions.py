"""`positions`: the per-strategy positions and P&L view of the ledger's lot book.

Per strategy (and `external`, the shares the system never bought): each symbol's open lots, cost,
value at the last booked plan's prices, unrealised and realised P&L, then the account line. Reads the
kept local account (`output/state/`, through DynamoDB Local) or, with `--table`, a deployed ledger
table with the AWS credentials of the environment."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from the_alchemiser.shared.ledger.book import Book

NAME = "positions"
HELP = "per-strategy positions and P&L (open lots, value, unrealised and realised) from the trade ledger"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=None, help="the local run's folder (default: ./output)")
    parser.add_argument(
        "--table", default=None, help="a deployed TradeLedgerTable (AWS credentials from the environment)"
    )
    parser.add_argument("--lots", action="store_true", help="list every open lot")


def run(args: argparse.Namespace) -> int:
    from the_alchemiser.local import local_group_missing

    missing = None if args.table else local_group_missing("positions")
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    from the_alchemiser.local.dynamodb_local import DynamoDBLocalUnavailable

    try:
        book = read_deployed_book(args.table) if args.table else read_kept_book(args.output)
    except (DynamoDBLocalUnavailable, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from the_alchemiser.local.stack.summary import render_positions

    print(render_positions(book, lots=args.lots))
    return 0


def read_deployed_book(table: str) -> Book:
    import boto3

    from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

    return DynamoTradeLedger(boto3.client("dynamodb"), table).load_book()


def read_kept_book(output_dir: Path | None = None) -> Book:
    """The kept local account's book: DynamoDB Local on output/state/dynamodb, the local stack's table."""
    from the_alchemiser.local.stack.day import DEFAULT_OUTPUT, LOCAL_STAGE, PROJECT_ROOT
    from the_alchemiser.local.stack.model import load_stack_model
    from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

    tables = (output_dir or DEFAULT_OUTPUT) / "state" / "dynamodb"
    if not tables.is_dir():
        raise FileNotFoundError(f"no kept local account in {tables.parent}: run a trading day first (`make run`)")
    name = load_stack_model(PROJECT_ROOT / "template.yaml", LOCAL_STAGE).physical_names["TradeLedgerTable"]
    with _dynamodb_local(tables) as client:
        return DynamoTradeLedger(client, name).load_book()


@contextmanager
def _dynamodb_local(tables: Path) -> Iterator[Any]:
    import boto3

    from the_alchemiser.local.dynamodb_local import start_dynamodb_local
    from the_alchemiser.local.stack.intrinsics import REGION

    server = start_dynamodb_local(db_path=tables)
    try:
        yield boto3.client(
            "dynamodb",
            endpoint_url=server.endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
    finally:
        server.stop()
