"""The backtest's files: equity.csv, weights.csv and stats.json (report.html: report.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from the_alchemiser.strategy_v2.backtest.run import BacktestResult

EQUITY_FILE = "equity.csv"
WEIGHTS_FILE = "weights.csv"
STATS_FILE = "stats.json"
REPORT_FILE = "report.html"


def _number(value: float) -> str:
    return repr(float(value))  # the shortest text that reads back as the same float


def write_equity(result: BacktestResult, path: Path) -> None:
    """date, portfolio, one column per strategy, the benchmark: equity 1.0 on the first day."""
    columns: list[Any] = [result.portfolio.equity, *(run.curve.equity for run in result.strategies)]
    header = ["date", "portfolio", *(run.label for run in result.strategies)]
    if result.benchmark is not None and result.request.benchmark:
        columns.append(result.benchmark.equity)
        header.append(result.request.benchmark)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row, day in enumerate(result.dates):
            writer.writerow([day.isoformat(), *(_number(column[row]) for column in columns)])


def write_weights(result: BacktestResult, path: Path) -> None:
    """date, one column per symbol: the portfolio's target weights decided that day, empty where 0."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", *result.symbols])
        for day, weights in zip(result.dates, result.targets, strict=True):
            writer.writerow([day.isoformat(), *(_number(w) if w > 0 else "" for w in weights)])


def stats_text(result: BacktestResult) -> str:
    return json.dumps(result.stats(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_outputs(result: BacktestResult, out: Path, report_html: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (EQUITY_FILE, WEIGHTS_FILE, STATS_FILE, REPORT_FILE)}
    write_equity(result, paths[EQUITY_FILE])
    write_weights(result, paths[WEIGHTS_FILE])
    paths[STATS_FILE].write_text(stats_text(result), encoding="utf-8")
    paths[REPORT_FILE].write_text(report_html, encoding="utf-8")
    return paths
