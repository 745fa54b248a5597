"""Market-data benchmark (`make bench`): reading a CSV directory and a datalake directory the size of
ftl_starburst's universe (91 symbols x 1500 trading days, the synthetic market written as `data synth`
and `data fetch --format parquet` write it), side by side in one run.

- CSV: the numpy reader the signals path uses (dates and closes; the other columns on first use), the
  same with every column forced, and pandas.read_csv on the same files;
- Parquet (zstd, fastparquet + cramjam): read of every object, write of every object, bytes on disk;
- import: a fresh interpreter importing the CSV port, against one importing pandas.

Best of several rounds, wall time. Exits non-zero if a reader disagrees with pandas or nothing was read."""

from __future__ import annotations

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
from the_alchemiser.shared.market_data.datalake import Datalake

SYMBOLS = 91
DAYS = 1500
ROUNDS = 5


def best(action: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def import_time(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)]
    runs += [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)]
    return min(runs)


def main() -> int:
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    symbols = [f"S{i:02d}" for i in range(SYMBOLS - 3)] + ["SPY", "QQQ", "BRK/B"]
    market = generate_market(symbols, end=date(2024, 12, 31), days=DAYS)
    with tempfile.TemporaryDirectory() as tmp:
        csv_dir, lake_dir = Path(tmp) / "csv", Path(tmp) / "lake"
        csv = CsvDirectoryMarketData(csv_dir)
        lake = Datalake.in_directory(lake_dir)
        for symbol, frame in market.items():
            csv.write(symbol, frame)
        files = sorted(csv_dir.glob("*.csv"))
        write = best(lambda: [lake.write(s, f.assign(adjusted=f["close"])) for s, f in market.items()], 2)

        def numpy_all() -> None:
            for path in files:
                bars = read_csv_bars(path)
                bars.volume  # noqa: B018 - force the lazy columns

        figures = {
            "csv numpy (dates+close)": best(lambda: [read_csv_bars(p) for p in files]),
            "csv numpy (all columns)": best(numpy_all),
            "csv pandas.read_csv": best(lambda: [pd.read_csv(p) for p in files]),
            "parquet read (fastparquet)": best(lambda: [lake.read(s) for s in market], 3),
            "parquet write (fastparquet)": write,
        }
        for path in files[:5]:  # the numpy reader agrees bit for bit with Python's float() of each field
            ours, text = read_csv_bars(path), pd.read_csv(path, dtype=str)
            for column in ("open", "high", "low", "close", "volume"):
                if not np.array_equal(getattr(ours, column), np.array([float(v) for v in text[column]])):
                    print(f"FAIL: {path.name} {column} differs from pandas")
                    return 1
        if len(files) != SYMBOLS or len(read_csv_bars(files[0])) != DAYS:
            print("FAIL: nothing to measure")
            return 1
        csv_bytes = sum(p.stat().st_size for p in files)
        lake_bytes = sum(p.stat().st_size for p in lake_dir.rglob("daily.parquet"))
    print(f"{SYMBOLS} symbols x {DAYS} days")
    for name, seconds in figures.items():
        print(f"  {name:<30} {seconds * 1000:8.1f} ms")
    print(f"  {'csv bytes':<30} {csv_bytes / 1e6:8.2f} MB")
    print(f"  {'parquet bytes (zstd)':<30} {lake_bytes / 1e6:8.2f} MB")
    port = import_time("import the_alchemiser.shared.market_data.csv_directory")
    pandas = import_time("import pandas")
    print(f"  {'import csv port (fresh process)':<30} {port * 1000:8.1f} ms")
    print(f"  {'import pandas (fresh process)':<30} {pandas * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
