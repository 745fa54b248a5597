"""Market-data benchmark (`make bench`): reading a CSV directory and a datalake directory the size of
ftl_starburst's universe (91 symbols x 1500 trading days, the synthetic market written as `data synth`
and `data fetch --format parquet` write it), side by side in one run.

- CSV: the numpy reader the signals path uses (dates and closes; the other columns on first use), the
  same with every column forced, and pandas.read_csv on the same files;
- Parquet (zstd): the datalake's write of every symbol (flat_parquet, with its CSV copy) and read of every
  object (flat_parquet), against fastparquet writing and reading the same bars (what schema 2 did, and what
  the fallback for older objects still does), and the bytes of each; flat_parquet's read must equal
  fastparquet's of the same object;
- import: a fresh interpreter importing the CSV port, against one importing pandas.

The symbols are ftl_starburst.clj's universe from the corpus (`--corpus DIR`, default
../shared/corpus/symphonies beside the repo). Best of several rounds, wall time. Exits non-zero when there
is nothing to measure (no corpus, no ftl_starburst.clj), a reader disagrees with pandas or nothing was read.

    python benchmarks/market_data.py [--corpus DIR]"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData, read_csv_bars
from the_alchemiser.shared.market_data.datalake import Datalake, from_parquet, to_parquet
from the_alchemiser.shared.market_data.stored_bars import DATALAKE_COLUMNS, StoredBars
from the_alchemiser.strategy_v2.dsl import load_strategy

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # fastparquet's side is the tests' schema-2 writer
from tests.support.shared.market_data.bars import fastparquet_object  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "symphonies"
UNIVERSE_FILE = "ftl_starburst.clj"
DAYS = 1500
ROUNDS = 5


def best(action: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def fastparquet_read(body: bytes) -> pd.DataFrame:
    import io

    import fastparquet

    return fastparquet.ParquetFile(io.BytesIO(body)).to_pandas(index=False)


def import_time(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)]
    runs += [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)]
    return min(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, metavar="DIR", help=f"the .clj corpus (default {CORPUS})"
    )
    args = parser.parse_args(argv)
    universe_file = args.corpus / UNIVERSE_FILE
    if not universe_file.is_file():
        print(f"error: {universe_file} not found: nothing to measure (give --corpus DIR)", file=sys.stderr)
        return 1
    symbols = sorted(load_strategy(universe_file).universe)
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    market = generate_market(symbols, end=date(2024, 12, 31), days=DAYS)
    with tempfile.TemporaryDirectory() as tmp:
        csv_dir, lake_dir = Path(tmp) / "csv", Path(tmp) / "lake"
        csv = CsvDirectoryMarketData(csv_dir)
        lake = Datalake.in_directory(lake_dir)
        for symbol, frame in market.items():
            csv.write(symbol, frame)
        files = sorted(csv_dir.glob("*.csv"))
        stored = {s: StoredBars.from_frame(f.assign(adjusted=f["close"])) for s, f in market.items()}
        write = best(lambda: [lake.write(s, bars) for s, bars in stored.items()], 2)
        objects = {s: (lake_dir / s.replace("/", ".") / "daily.parquet").read_bytes() for s in stored}
        frames = {s: bars.to_frame() for s, bars in stored.items()}
        old_objects = {s: fastparquet_object(frame, {}) for s, frame in frames.items()}

        def numpy_all() -> None:
            for path in files:
                bars = read_csv_bars(path)
                bars.volume  # noqa: B018 - force the lazy columns

        figures = {
            "csv numpy (dates+close)": best(lambda: [read_csv_bars(p) for p in files]),
            "csv numpy (all columns)": best(numpy_all),
            "csv pandas.read_csv": best(lambda: [pd.read_csv(p) for p in files]),
            "datalake read (flat_parquet)": best(lambda: [lake.read(s) for s in market], 3),
            "parquet read (fastparquet)": best(lambda: [fastparquet_read(b) for b in old_objects.values()], 3),
            "parquet write (flat_parquet)": best(lambda: [to_parquet(b) for b in stored.values()], 2),
            "parquet write (fastparquet)": best(lambda: [fastparquet_object(f, {}) for f in frames.values()], 2),
            "datalake write (+ csv copy)": write,
        }
        for symbol, body in list(objects.items())[:10]:  # flat_parquet's read equals fastparquet's
            ours, theirs = from_parquet(symbol, body), fastparquet_read(body)
            if not all(np.array_equal(getattr(ours, c), theirs[c].to_numpy()) for c in DATALAKE_COLUMNS):
                print(f"FAIL: {symbol}: flat_parquet and fastparquet read different bars")
                return 1
        for path in files[:5]:  # the numpy reader agrees bit for bit with Python's float() of each field
            ours, text = read_csv_bars(path), pd.read_csv(path, dtype=str)
            for column in ("open", "high", "low", "close", "volume"):
                if not np.array_equal(getattr(ours, column), np.array([float(v) for v in text[column]])):
                    print(f"FAIL: {path.name} {column} differs from pandas")
                    return 1
        if len(files) != len(symbols) or len(read_csv_bars(files[0])) != DAYS:
            print("FAIL: nothing to measure")
            return 1
        csv_bytes = sum(p.stat().st_size for p in files)
        lake_bytes = sum(len(b) for b in objects.values())
        old_bytes = sum(len(b) for b in old_objects.values())
    print(f"{len(symbols)} symbols ({UNIVERSE_FILE}'s universe) x {DAYS} days")
    for name, seconds in figures.items():
        print(f"  {name:<32} {seconds * 1000:8.1f} ms")
    print(f"  {'csv bytes':<32} {csv_bytes / 1e6:8.2f} MB")
    print(f"  {'parquet bytes (flat_parquet)':<32} {lake_bytes / 1e6:8.2f} MB")
    print(f"  {'parquet bytes (fastparquet)':<32} {old_bytes / 1e6:8.2f} MB")
    port = import_time("import the_alchemiser.shared.market_data.csv_directory")
    pandas = import_time("import pandas")
    print(f"  {'import csv port (fresh process)':<32} {port * 1000:8.1f} ms")
    print(f"  {'import pandas (fresh process)':<32} {pandas * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
