"""`data fetch` (real daily bars from Alpaca into a local cache) and `data synth` (a synthetic market).

    python -m the_alchemiser data fetch --symbols-from strategies/ --start 2019-01-02 --out bars/ [--end D]
                                        [--format csv|parquet]
    python -m the_alchemiser data synth --symbols-from strategies/ --days 1300 --out DIR [--end D] [--seed N]
    python -m the_alchemiser data synth --symbols SPY,QQQ,TQQQ --days 300 --out DIR

`csv` (the default) writes dsl.md's CSV directory: one `<SYMBOL>.csv` per symbol (`/` written as `.`),
header date,open,high,low,close,volume, prices adjusted for splits and dividends. `parquet` writes the
datalake layout (`<SYMBOL>/daily.parquet`, raw bars plus the adjusted close, metadata in the footer, beside
`<SYMBOL>/daily.csv`, the adjusted bars the strategy worker reads without pandas).
Both are what `signals`, `backtest`, `compare` and `run` read with `--data DIR`.

`fetch` asks Alpaca (ALPACA_API_KEY/ALPACA_SECRET_KEY; ALPACA_DATA_URL to point elsewhere, e.g. the local
paper broker) through the data refresh's own machinery (shared/market_data/refresh.py): a second fetch
asks only for the days after the cache's last bar (plus a few stored days, to notice a changed history),
leaves files untouched when nothing is new, and re-seeds a symbol whose adjusted history changed (a
split). Symbols Alpaca has no bars for are named on stderr; the others are written. An earlier --start
than a symbol's cached first bar does not backfill: delete that symbol's file to fetch it again."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from the_alchemiser.shared.market_data.csv_directory import bars_to_csv, csv_file_name, write_atomically

if TYPE_CHECKING:
    from the_alchemiser.shared.market_data.refresh import BarStore, RefreshReport

NAME = "data"
HELP = "market-data tools: `data fetch` caches real daily bars from Alpaca, `data synth` writes a synthetic market"

DEFAULT_DAYS = 1300  # about five years: enough for the longest lookbacks in real strategies


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    synth = sub.add_parser(
        "synth",
        help="write synthetic daily bars for strategy universes or listed symbols",
        description="Write one CSV per symbol (date,open,high,low,close,volume) from the synthetic market.",
    )
    synth.add_argument(
        "--symbols-from",
        action="append",
        default=[],
        metavar="PATH",
        help=".clj strategy file or directory of them; every symbol each mentions (repeatable)",
    )
    synth.add_argument("--symbols", action="append", default=[], metavar="A,B,...", help="explicit symbols")
    synth.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"trading days per symbol ({DEFAULT_DAYS})")
    synth.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write the CSVs into")
    synth.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="last day (the last trading day on or before it is used); default today",
    )
    synth.add_argument("--seed", type=int, default=7, help="market seed (7)")

    fetch = sub.add_parser(
        "fetch",
        help="fetch real daily bars (split- and dividend-adjusted) from Alpaca into a local cache",
        description="Fetch daily bars from the Alpaca data API (ALPACA_API_KEY/ALPACA_SECRET_KEY; free paper keys "
        "suffice; ALPACA_DATA_URL points elsewhere) into DIR; a second fetch adds only what is new.",
    )
    fetch.add_argument(
        "--symbols-from",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help=".clj strategy files or directories of them: every symbol each mentions",
    )
    fetch.add_argument(
        "--symbols", action="extend", nargs="+", default=[], metavar="SYM", help="symbols (spaces or commas)"
    )
    fetch.add_argument("--start", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD", help="first day")
    fetch.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="last day (default: the last complete trading day)",
    )
    fetch.add_argument("--out", required=True, type=Path, metavar="DIR", help="the cache directory")
    fetch.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help="csv: <SYMBOL>.csv (dsl.md); parquet: <SYMBOL>/daily.parquet (the datalake layout)",
    )


def strategy_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*.clj"))
            if not found:
                raise FileNotFoundError(f"no .clj files under {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such strategy file or directory: {path}")
    return files


def collect_symbols(symbols_from: list[str], explicit: list[str]) -> list[str]:
    """The union of the strategies' universes and the explicit symbols, sorted."""
    symbols = {s.strip() for chunk in explicit for s in chunk.split(",") if s.strip()}
    files = strategy_files(symbols_from)
    if files:
        from the_alchemiser.strategy_v2.dsl import load_strategy

        for path in files:
            symbols |= load_strategy(path).universe
    return sorted(symbols)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if args.data_command == "fetch":
        return run_fetch(args)
    if args.data_command != "synth":  # argparse enforces the choices; kept for clarity
        return _fail(f"unknown data command {args.data_command!r}")
    from the_alchemiser.strategy_v2.dsl import DslError

    try:
        symbols = collect_symbols(args.symbols_from, args.symbols)
    except (DslError, FileNotFoundError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if not symbols:
        print("error: no symbols: give --symbols-from PATH or --symbols A,B", file=sys.stderr)
        return 2

    from the_alchemiser.local.synthetic_market import generate_market

    try:
        market = generate_market(symbols, end=args.end or date.today(), days=args.days, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for symbol, frame in market.items():
        write_atomically(out / csv_file_name(symbol), bars_to_csv(frame))
    first = next(iter(market.values())).index
    print(
        f"wrote {len(market)} symbols x {len(first)} days ({first[0].date()} .. {first[-1].date()}) to {out}",
    )
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from the_alchemiser.shared.logging import configure_logging
    from the_alchemiser.strategy_v2.dsl import DslError

    configure_logging(level="ERROR", stream=sys.stderr)  # progress and the outcome are printed below
    try:
        symbols = collect_symbols(args.symbols_from, args.symbols)
    except (DslError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if not symbols:
        return _fail("no symbols: give --symbols SYM... or --symbols-from PATH...")
    if args.end is not None and args.end < args.start:
        return _fail(f"--end {args.end} is before --start {args.start}")

    from the_alchemiser.shared.broker.errors import BrokerError
    from the_alchemiser.shared.calendar import SystemClock, nyse_calendar
    from the_alchemiser.shared.config.settings import Settings
    from the_alchemiser.shared.market_data.alpaca_bars import AlpacaBarsSource
    from the_alchemiser.shared.market_data.refresh import MarketDataRefresher, RefreshPolicy

    try:
        source = AlpacaBarsSource.from_settings(Settings())
    except BrokerError as exc:
        return _fail(f"{exc} (free Alpaca paper keys suffice for daily bars)")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is not a directory")
    store = _store(out, args.format)
    calendar = nyse_calendar()

    def progress(done: int, total: int, batch: list[str]) -> None:
        shown = ", ".join(batch[:5]) + (" ..." if len(batch) > 5 else "")
        print(f"  fetched {done}/{total} symbols ({shown})", file=sys.stderr)

    refresher = MarketDataRefresher(
        store,
        source,
        clock=SystemClock(),
        calendar=calendar,
        policy=RefreshPolicy(seed_start=args.start),
        progress=progress,
    )
    latest = refresher.target_day()
    target = calendar.latest_trading_day(min(args.end, latest) if args.end is not None else latest)
    if target < args.start:
        return _fail(f"no trading day from {args.start} to {args.end or latest}")
    print(f"fetching {len(symbols)} symbols, {args.start} .. {target}, into {out} ({args.format})", file=sys.stderr)
    report = refresher.refresh(symbols, target)
    return _report(report, source.requests_made)


def _store(out: Path, format_: str) -> BarStore:
    if format_ == "parquet":
        from the_alchemiser.shared.market_data.datalake import Datalake

        return Datalake.in_directory(out)
    from the_alchemiser.shared.market_data.csv_store import CsvBarStore

    return CsvBarStore(out)


def _report(report: RefreshReport, requests: int) -> int:
    unknown = [r.symbol for r in report.results if r.action == "no_data"]
    others = [r for r in report.problems if r.action != "no_data"]
    if unknown:
        print(f"error: Alpaca has no bars for: {', '.join(unknown)} (unknown or not listed then)", file=sys.stderr)
    for result in others:
        print(f"error: {result.symbol}: {result.action} {result.detail}".rstrip(), file=sys.stderr)
    for result in report.results:
        if result.action == "reseeded":
            print(f"  {result.symbol}: history changed, fetched again ({result.detail})", file=sys.stderr)
    counts = ", ".join(f"{action} {count}" for action, count in report.counts().items())
    print(f"{len(report.results)} symbols through {report.target}: {counts} ({requests} requests)")
    return 0 if report.ok else 1
