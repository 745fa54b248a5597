"""Markets written by hand for the backtest tests, and the ways to run a backtest (in process, CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tests.support.strategy_v2.dsl_helpers import InMemoryMarketData, frame
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.strategy_v2.backtest import BacktestRequest, BacktestResult, StrategyInput, run_backtest
from the_alchemiser.strategy_v2.dsl import parse_strategy

REPO = Path(__file__).resolve().parents[4]


def days(count: int, end: date = date(2024, 6, 28)) -> pd.DatetimeIndex:
    return pd.bdate_range(end=pd.Timestamp(end), periods=count, name="date")


def market(closes: Mapping[str, Sequence[float]], end: date = date(2024, 6, 28)) -> dict[str, pd.DataFrame]:
    """Symbols with closes on the same business days ending at `end`."""
    count = len(next(iter(closes.values())))
    index = days(count, end)
    return {symbol: frame(list(values), dates=index) for symbol, values in closes.items()}


def growth(start: float, rate: float, count: int) -> list[float]:
    """Closes growing by `rate` every day (the same daily return each day)."""
    return [start * (1.0 + rate) ** i for i in range(count)]


def random_closes(count: int, seed: int, vol: float = 0.02) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(50.0 * np.exp(np.cumsum(rng.normal(0.0003, vol, size=count))))


@dataclass(frozen=True)
class Book:
    text: str
    allocation: float = 1.0
    file: str = "s.clj"


def backtest(
    bars: Mapping[str, pd.DataFrame],
    books: Sequence[Book] | str,
    *,
    start: date | None = None,
    end: date | None = None,
    timing: str = "composer",
    cost_bps: float = 0.0,
    benchmark: str | None = None,
) -> BacktestResult:
    """run_backtest in process on bars held in memory."""
    if isinstance(books, str):
        books = [Book(books)]
    first = min(f.index[0] for f in bars.values()).date()
    last = max(f.index[-1] for f in bars.values()).date()
    strategies = tuple(StrategyInput(parse_strategy(b.text, file=b.file), b.allocation, b.file) for b in books)
    request = BacktestRequest(strategies, start or first, end or last, timing, cost_bps, benchmark)  # type: ignore[arg-type]
    return run_backtest(request, InMemoryMarketData(bars))


def write_market(directory: Path, bars: Mapping[str, pd.DataFrame]) -> Path:
    port = CsvDirectoryMarketData(directory)
    for symbol, bar_frame in bars.items():
        port.write(symbol, bar_frame)
    return directory


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "the_alchemiser", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def read_json(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
