"""A backtest run: strategies evaluated over the range by the signals engine, aligned on one calendar,
simulated as a book (the merged portfolio), one book per strategy, and a benchmark held throughout.

Days (docs/backtest.md): each strategy's days are its calendar (the union of its symbols' bar dates);
the portfolio's are the union of the strategies' days, from the latest strategy start. A strategy
starts at the first day on or after `start` by which every symbol it mentions that trades by then has
the closes its longest lookback needs, or later if the engine cannot evaluate it yet
(`evaluate_range(late_start=True)`); a failing day after that is an error naming the day."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from the_alchemiser.shared.market_data import MarketDataPort
from the_alchemiser.shared.market_data.bars import DailyBars, as_daily_bars
from the_alchemiser.shared.reporting.stats import PerformanceStats, performance_stats
from the_alchemiser.strategy_v2.backtest.simulation import TIMINGS, Curve, Sleeve, Timing, merged_targets, simulate
from the_alchemiser.strategy_v2.dsl import DslEvaluationError, Market, Strategy, evaluate_on, evaluate_range

Array = npt.NDArray[Any]
Progress = Callable[[str], None]
RESERVED_COLUMNS = ("date", "portfolio")


class BacktestError(Exception):
    """The backtest cannot run as asked (no trading day in the range, a benchmark without bars...)."""


@dataclass(frozen=True)
class StrategyInput:
    strategy: Strategy
    allocation: float  # share of the portfolio, 0..1
    file: str  # the file name the user gave (names the strategy in notes)


@dataclass(frozen=True)
class BacktestRequest:
    strategies: tuple[StrategyInput, ...]
    start: date
    end: date
    timing: Timing = "composer"
    cost_bps: float = 0.0
    benchmark: str | None = None


@dataclass(frozen=True)
class LateStart:
    """A strategy that could not be evaluated at the requested start, and why."""

    label: str
    file: str
    first_day: date
    reason: str

    def note(self, requested: date) -> str:
        return f"{self.label} ({self.file}) starts on {self.first_day}, not {requested}: {self.reason}"


@dataclass(frozen=True)
class StrategyRun:
    label: str  # the defsymphony name (made unique with the file name when two share one)
    file: str
    allocation: float
    threshold: float | None
    first_day: date  # its own first evaluable day (the portfolio may start later)
    targets: Array  # (days, symbols) its own weights decided each day, on the portfolio's calendar
    curve: Curve  # its own book, alone


@dataclass(frozen=True)
class BacktestResult:
    request: BacktestRequest
    dates: list[date]
    symbols: list[str]  # every symbol the portfolio targets on some day
    targets: Array  # (days, symbols) the merged portfolio's weights decided each day
    portfolio: Curve  # under request.timing
    other_timing: Curve  # the portfolio under the other timing (the one-day lag, seen both ways)
    strategies: list[StrategyRun]
    benchmark: Curve | None
    late_starts: list[LateStart]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def other_timing_name(self) -> Timing:
        return next(t for t in TIMINGS if t != self.request.timing)

    def stats(self) -> dict[str, Any]:
        """stats.json: the contract of issue #12 plus a few explanatory keys."""

        def of(curve: Curve) -> dict[str, float | int | None]:
            return curve_stats(curve).to_json()

        request = self.request
        return {
            "start": self.dates[0].isoformat(),
            "end": self.dates[-1].isoformat(),
            "timing": request.timing,
            "cost_bps": request.cost_bps,
            "portfolio": of(self.portfolio),
            "strategies": {run.label: of(run.curve) for run in self.strategies},
            "benchmark": None if self.benchmark is None else of(self.benchmark),
            "benchmark_symbol": request.benchmark,
            "requested_start": request.start.isoformat(),
            "requested_end": request.end.isoformat(),
            "late_starts": {
                late.label: {"file": late.file, "first_day": late.first_day.isoformat(), "reason": late.reason}
                for late in self.late_starts
            },
            "allocations": {run.label: run.allocation for run in self.strategies},
            "files": {run.label: run.file for run in self.strategies},
            "other_timing": {"timing": self.other_timing_name, "portfolio": of(self.other_timing)},
        }


def curve_stats(curve: Curve) -> PerformanceStats:
    return performance_stats(curve.returns, curve.turnover)


def run_backtest(
    request: BacktestRequest, market_data: MarketDataPort, progress: Progress | None = None
) -> BacktestResult:
    """Evaluate, align and simulate. Raises BacktestError, DslEvaluationError (naming the failing day)
    and the port's MarketDataError (MissingMarketDataError naming every symbol without bars)."""
    if not request.strategies:
        raise BacktestError("no strategy to backtest")
    if request.start > request.end:
        raise BacktestError(f"--start {request.start} is after --end {request.end}")
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    universe = sorted(set().union(*(s.strategy.universe for s in request.strategies)))
    wanted = sorted(set(universe) | ({request.benchmark} if request.benchmark else set()))
    say(f"reading bars of {len(wanted)} symbols")
    raw = market_data.daily_bars(wanted, end=request.end)
    bars = {symbol: as_daily_bars(frame).until(request.end) for symbol, frame in raw.items()}
    timings["data"] = time.perf_counter() - clock

    clock = time.perf_counter()
    frames: list[pd.DataFrame] = []
    late_starts: list[LateStart] = []
    labels = unique_labels(request.strategies, request.benchmark)
    for number, (item, label) in enumerate(zip(request.strategies, labels, strict=True), start=1):
        say(f"evaluating {number}/{len(request.strategies)}: {item.file}")
        frame, late = evaluate_strategy_range(item, label, raw, bars, start=request.start, end=request.end)
        frames.append(frame)
        if late is not None:
            late_starts.append(late)
    timings["evaluation"] = time.perf_counter() - clock

    clock = time.perf_counter()
    say("simulating")
    result = _simulate(request, bars, frames, labels, late_starts)
    timings["statistics"] = time.perf_counter() - clock
    result.timings.update(timings)
    return result


def unique_labels(strategies: Sequence[StrategyInput], benchmark: str | None) -> list[str]:
    """The defsymphony names, with the file name added where two share one or one takes a column name."""
    names = [s.strategy.name for s in strategies]
    taken = {*RESERVED_COLUMNS, *([benchmark] if benchmark else [])}
    return [
        f"{name} ({s.file})" if names.count(name) > 1 or name in taken else name
        for name, s in zip(names, strategies, strict=True)
    ]


def warm_up(strategy: Strategy, bars: Mapping[str, DailyBars], start: date) -> tuple[date, str] | None:
    """The first day by which every symbol the strategy mentions that trades by the start has the
    closes its longest lookback needs, when that is after `start`, with the reason."""
    need = strategy.max_lookback
    own = {s: bars[s] for s in strategy.universe if s in bars and len(bars[s])}
    if not own or need <= 1:
        return None
    base = max(np.datetime64(start, "D"), min(b.dates[0] for b in own.values()))
    latest: tuple[Any, str] | None = None
    for symbol in sorted(own):
        dates = own[symbol].dates
        if dates[0] > base or len(dates) < need:
            continue  # lists later (dsl.md's rules handle it), or never has that much history
        if latest is None or dates[need - 1] > latest[0]:
            latest = (dates[need - 1], symbol)
    if latest is None or latest[0] <= np.datetime64(start, "D"):
        return None
    day, symbol = latest
    first = own[symbol].first_date
    return (
        date.fromisoformat(str(day)),
        f"its longest lookback needs {need} closes and the bars of {symbol} begin on {first}",
    )


def evaluate_strategy_range(
    item: StrategyInput,
    label: str,
    raw: Mapping[str, Any],
    bars: Mapping[str, DailyBars],
    *,
    start: date,
    end: date,
) -> tuple[pd.DataFrame, LateStart | None]:
    """The strategy's daily weights from its first evaluable day (the signals engine's whole-axis path)."""
    strategy = item.strategy
    warm = warm_up(strategy, bars, start)
    begin = warm[0] if warm else start
    universe = {s: raw[s] for s in strategy.universe}
    try:
        # the engine turns non-finite values into named failures: numpy's warnings about them are noise
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frame = evaluate_range(strategy, universe, begin, end, late_start=True)
    except DslEvaluationError as exc:
        raise DslEvaluationError(f"{item.file}: {exc}") from exc
    if frame.empty:
        raise BacktestError(f"{label} ({item.file}): no trading day between {begin} and {end}")
    first = frame.index[0].date()
    requested_first = first_trading_day(strategy, bars, start)
    if requested_first is None or first <= requested_first:
        return frame, None
    if warm and first == _first_on_or_after(frame, warm[0]):
        reason = warm[1]
    else:
        reason = f"it cannot be evaluated before then ({why_not(strategy, raw, first)})"
    return frame, LateStart(label, item.file, first, reason)


def first_trading_day(strategy: Strategy, bars: Mapping[str, DailyBars], start: date) -> date | None:
    """The strategy's first calendar day on or after `start` (its calendar: its symbols' bar dates)."""
    limit = np.datetime64(start, "D")
    found = [
        b.dates[np.searchsorted(b.dates, limit)]
        for s in strategy.universe
        if len(b := bars[s]) and b.dates[-1] >= limit
    ]
    return date.fromisoformat(str(min(found))) if found else None


def _first_on_or_after(frame: pd.DataFrame, day: date) -> date:
    found: date = pd.Timestamp(frame.index.values[int(frame.index.searchsorted(pd.Timestamp(day)))]).date()
    return found


def why_not(strategy: Strategy, raw: Mapping[str, Any], first: date) -> str:
    """The engine's reason for the last day before `first` (one day, the live path)."""
    universe = {s: raw[s] for s in strategy.universe}
    try:
        market = Market(universe, strategy.universe, end=first)
        day_before = market.day(len(market) - 2) if len(market) > 1 else first
        evaluate_on(strategy, Market(universe, strategy.universe, end=day_before))
    except DslEvaluationError as exc:
        return str(exc).removeprefix(f"{strategy.name}: ")
    except Exception as exc:  # the reason is a courtesy; the start is known either way
        return f"{type(exc).__name__} on the day before"
    return "the day before evaluates on its own but not within the range"


def _calendar(frames: Sequence[pd.DataFrame]) -> Array:
    start = max(frame.index[0] for frame in frames)
    days = np.unique(np.concatenate([frame.index.values.astype("datetime64[D]") for frame in frames]))
    return days[days >= np.datetime64(start.date(), "D")]


def calendar_returns(bars: DailyBars, calendar: Array) -> Array:
    """C(t)/C(t-1) - 1 on the calendar, closes carried forward over days the symbol lacks; 0 before it
    trades (it cannot be held then)."""
    pos = np.searchsorted(bars.dates, calendar, side="right") - 1
    closes = np.where(pos >= 0, bars.close[np.maximum(pos, 0)], np.nan) if len(bars) else np.full(len(calendar), np.nan)
    found = np.zeros(len(calendar))
    with np.errstate(divide="ignore", invalid="ignore"):
        found[1:] = closes[1:] / closes[:-1] - 1.0
    found[~np.isfinite(found)] = 0.0
    return found


def alone(sleeve: Sleeve, returns: Array, timing: Timing, cost_bps: float) -> Curve:
    """A strategy's own book (allocation 1), simulated on the symbols it ever holds only."""
    own = np.flatnonzero((sleeve.targets > 0).any(axis=0))
    return simulate([Sleeve(sleeve.targets[:, own], 1.0, sleeve.threshold)], returns[:, own], timing, cost_bps)


def _simulate(
    request: BacktestRequest,
    bars: Mapping[str, DailyBars],
    frames: list[pd.DataFrame],
    labels: list[str],
    late_starts: list[LateStart],
) -> BacktestResult:
    calendar = _calendar(frames)
    index = pd.DatetimeIndex(calendar.astype("datetime64[ns]"))
    symbols = sorted(set().union(*(frame.columns for frame in frames)))
    aligned = [
        frame.reindex(frame.index.union(index)).ffill().reindex(index).reindex(columns=symbols).fillna(0.0).to_numpy()
        for frame in frames
    ]
    returns = (
        np.column_stack([calendar_returns(bars[s], calendar) for s in symbols])
        if symbols
        else np.zeros((len(calendar), 0))
    )
    sleeves = [
        Sleeve(targets, item.allocation, item.strategy.rebalance_threshold)
        for targets, item in zip(aligned, request.strategies, strict=True)
    ]
    other: Timing = next(t for t in TIMINGS if t != request.timing)
    portfolio = simulate(sleeves, returns, request.timing, request.cost_bps)
    runs = [
        StrategyRun(
            label=label,
            file=item.file,
            allocation=item.allocation,
            threshold=item.strategy.rebalance_threshold,
            first_day=frame.index[0].date(),
            targets=sleeve.targets,
            curve=alone(sleeve, returns, request.timing, request.cost_bps),
        )
        for label, item, frame, sleeve in zip(labels, request.strategies, frames, sleeves, strict=True)
    ]
    benchmark = None
    if request.benchmark:
        series = bars[request.benchmark]
        if not len(series) or series.dates[0] > calendar[0]:
            raise BacktestError(f"benchmark {request.benchmark} has no bars on or before {calendar[0]}")
        held = np.ones((len(calendar), 1))
        # bought on the first day and held, whatever the timing (it decides nothing)
        benchmark = simulate(
            [Sleeve(held, 1.0)], calendar_returns(series, calendar)[:, None], "composer", request.cost_bps
        )
    return BacktestResult(
        request=request,
        dates=[date.fromisoformat(str(d)) for d in calendar],
        symbols=symbols,
        targets=merged_targets(sleeves),
        portfolio=portfolio,
        other_timing=simulate(sleeves, returns, other, request.cost_bps),
        strategies=runs,
        benchmark=benchmark,
        late_starts=late_starts,
    )
