"""Strategy-engine benchmark (`make bench`): parse time per corpus file, one-day evaluation of all 16
corpus files together, and a 10-year daily backtest of all 16 (evaluation only), on the synthetic market.

Targets on a 2-core machine: one-day all 16 < 1 s in total, 10-year < 60 s, parsing the 2.2 MB file
< 0.3 s. The corpus lives in ../shared/corpus/symphonies relative to the repository.

Each figure is wall time and the process's CPU time: on a shared machine the CPU time is the steadier
one (the load average is printed first). The one-day figure is measured on both evaluation paths (the
live top-down path and the whole-axis path) and on two history lengths (what the local stack loads, and
what production's datalake holds: every trading day since 2016)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.strategy_v2.dsl import (
    Market,
    Strategy,
    evaluate_on,
    evaluate_range,
    evaluate_strategy,
    parse_strategy,
)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "symphonies"
AS_OF = date(2026, 11, 20)
LOCAL_HISTORY_DAYS = 900  # the local stack's synthetic history (longest corpus lookback is 560)
PRODUCTION_HISTORY_DAYS = 2740  # the datalake is seeded from 2016-01-04
BACKTEST_DAYS = 2520  # 10 years of trading days
WARM_UP_DAYS = 600  # history before the first backtest day (longest lookback 560)
REPEATS = 3
TARGET_ONE_DAY_S = 1.0
TARGET_BACKTEST_S = 60.0
TARGET_PARSE_S = 0.3


class FramesMarketData:
    """MarketDataPort over frames in memory (the benchmark measures evaluation, not I/O)."""

    def __init__(self, bars: dict[str, pd.DataFrame]) -> None:
        self.bars = bars

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, pd.DataFrame]:
        if end is None:
            return {s: self.bars[s] for s in symbols}
        limit = pd.Timestamp(end)
        out = {}
        for symbol in symbols:
            frame = self.bars[symbol]
            cut = frame.index.searchsorted(limit, side="right")
            out[symbol] = frame if cut == len(frame) else frame.iloc[:cut]
        return out


def timed(repeats: int, run: Callable[[], object]) -> tuple[float, float]:
    """(best wall, best CPU) seconds of `run()` over `repeats` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def verdict(wall: float, cpu: float, target: float) -> str:
    """Met on wall time, or met on CPU time only (the wall time then shows a loaded machine)."""
    if wall < target:
        return f"target < {target:g} s: met"
    if cpu < target:
        return f"target < {target:g} s: met on CPU time only (machine loaded)"
    return f"target < {target:g} s: MISSED"


def parse_all(files: list[Path]) -> list[Strategy]:
    print(f"parse (read + validate + share identical subtrees), best of {REPEATS}, wall / CPU:")
    strategies: list[Strategy] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        wall, cpu = timed(REPEATS, lambda text=text, path=path: parse_strategy(text, file=str(path)))  # type: ignore[misc]
        strategy = parse_strategy(text, file=str(path))
        strategies.append(strategy)
        check = f"  {verdict(wall, cpu, TARGET_PARSE_S)}" if len(text) > 2_000_000 else ""
        print(
            f"  {path.name:26s} {len(text) / 1e6:5.2f} MB  {wall * 1000:6.1f} / {cpu * 1000:6.1f} ms  "
            f"nodes {strategy.node_count:6d} -> distinct {strategy.distinct_nodes:5d}{check}"
        )
    return strategies


def one_day(strategies: list[Strategy], symbols: list[str], days: int) -> None:
    bars = generate_market(symbols, end=AS_OF, days=days)
    port = FramesMarketData(bars)
    print(f"one-day evaluation of all {len(strategies)} files, {days} days of history, best of {REPEATS}:")
    wall, cpu = timed(REPEATS, lambda: [evaluate_strategy(s, port, AS_OF) for s in strategies])
    print(
        f"  live path (evaluate_strategy, reads the port): {wall:6.3f} s wall, {cpu:6.3f} s CPU  "
        f"{verdict(wall, cpu, TARGET_ONE_DAY_S)}"
    )
    markets = [Market(bars, s.universe, end=AS_OF) for s in strategies]
    wall, cpu = timed(REPEATS, lambda: [evaluate_on(s, m) for s, m in zip(strategies, markets, strict=True)])
    print(f"  live path on prepared markets (evaluate_on):    {wall:6.3f} s wall, {cpu:6.3f} s CPU")
    wall, cpu = timed(1, lambda: [evaluate_on(s, m, whole_axis=True) for s, m in zip(strategies, markets, strict=True)])
    print(f"  whole-axis path (evaluate_on whole_axis=True):   {wall:6.3f} s wall, {cpu:6.3f} s CPU")


def backtest(strategies: list[Strategy], symbols: list[str]) -> None:
    history = BACKTEST_DAYS + WARM_UP_DAYS
    bars = generate_market(symbols, end=AS_OF, days=history)
    start = bars[symbols[0]].index[-BACKTEST_DAYS].date()
    rows = 0

    def run() -> None:
        nonlocal rows
        rows = sum(len(evaluate_range(s, bars, start, AS_OF)) for s in strategies)

    wall, cpu = timed(1, run)
    print(
        f"10-year daily backtest ({start} .. {AS_OF}, {BACKTEST_DAYS} days, {history} days of bars), all "
        f"{len(strategies)} files: {wall:.2f} s wall, {cpu:.2f} s CPU, {rows} strategy-days  "
        f"{verdict(wall, cpu, TARGET_BACKTEST_S)}"
    )


def main() -> int:
    configure_logging(level="WARNING", stream=sys.stderr)  # the engine logs each evaluation at info
    files = sorted(CORPUS.glob("*.clj"))
    if not files:
        print(f"corpus not found at {CORPUS}: nothing to measure")
        return 0
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    strategies = parse_all(files)
    symbols = sorted(set().union(*(s.universe for s in strategies)))
    print(f"{len(symbols)} distinct symbols in the corpus")
    one_day(strategies, symbols, LOCAL_HISTORY_DAYS)
    one_day(strategies, symbols, PRODUCTION_HISTORY_DAYS)
    backtest(strategies, symbols)
    return 0


if __name__ == "__main__":
    sys.exit(main())
