"""`data synth`: write a synthetic market as the CSV-directory format the `signals` command reads.

    python -m the_alchemiser data synth --symbols-from strategies/ --days 1300 --out DIR [--end D] [--seed N]
    python -m the_alchemiser data synth --symbols SPY,QQQ,TQQQ --days 300 --out DIR

One `<SYMBOL>.csv` per symbol (`/` in a symbol written as `.`), header date,open,high,low,close,volume."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

NAME = "data"
HELP = "market-data tools: `data synth` writes a deterministic synthetic market as CSV files"

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


def csv_file_name(symbol: str) -> str:
    """`BRK/B` -> `BRK.B.csv` (dsl.md's CSV-directory format)."""
    return symbol.replace("/", ".") + ".csv"


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


CSV_HEADER = "date,open,high,low,close,volume\n"


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """Bars as CSV with `YYYY-MM-DD` dates and shortest round-trip floats (Arrow's C++ writer: fast)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    columns = {"date": pa.array(frame.index.values.astype("datetime64[D]"))}
    columns |= {
        name: pa.array(frame[name].to_numpy(dtype="float64")) for name in ("open", "high", "low", "close", "volume")
    }
    buffer = io.BytesIO()
    buffer.write(CSV_HEADER.encode("ascii"))
    pa_csv.write_csv(pa.table(columns), buffer, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return buffer.getvalue()


def _write_csv(content: bytes, target: Path) -> None:
    # Write beside the target, then rename: a reader never sees half a file.
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, target)


def run(args: argparse.Namespace) -> int:
    if args.data_command != "synth":  # argparse enforces the choices; kept for clarity
        print(f"error: unknown data command {args.data_command!r}", file=sys.stderr)
        return 2
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
        _write_csv(frame_to_csv(frame), out / csv_file_name(symbol))
    first = next(iter(market.values())).index
    print(
        f"wrote {len(market)} symbols x {len(first)} days ({first[0].date()} .. {first[-1].date()}) to {out}",
    )
    return 0
