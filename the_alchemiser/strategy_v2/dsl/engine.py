"""The public entry points: evaluate a loaded strategy for one day or over a date range.

No pandas at import (the live path never needs it): `evaluate_range` imports it, since the DataFrame
it returns is what its users get."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from the_alchemiser.shared.logging import get_logger
from the_alchemiser.strategy_v2.dsl.errors import DslEvaluationError
from the_alchemiser.strategy_v2.dsl.evaluator import OK, DayEvaluator, DayFailure, Evaluator
from the_alchemiser.strategy_v2.dsl.market import Market
from the_alchemiser.strategy_v2.dsl.strategy import Strategy
from the_alchemiser.strategy_v2.dsl.trace import Tracer, summarise

if TYPE_CHECKING:
    import pandas as pd

    from the_alchemiser.shared.market_data import MarketDataPort
    from the_alchemiser.shared.market_data.bars import DailyBars

logger = get_logger(__name__)
# Weights below this are float dust from masking, not allocations.
DUST = 1e-12


@dataclass(frozen=True)
class StrategyResult:
    """One day's answer: weights summing to 1 (zero weights left out) and why (trace)."""

    name: str
    as_of: date  # the evaluation day actually used (last bar date on or before the requested day)
    weights: dict[str, float]
    trace: list[dict[str, Any]] = field(default_factory=list)
    trace_summary: list[str] = field(default_factory=list)
    rebalance_threshold: float | None = None
    requested_as_of: date | None = None
    mode: str = "completed-bars"  # or "live-bar": today's bar built from the latest quote was appended

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.name,
            "as_of": self.as_of.isoformat(),
            "requested_as_of": None if self.requested_as_of is None else self.requested_as_of.isoformat(),
            "mode": self.mode,
            "weights": self.weights,
            "rebalance_threshold": self.rebalance_threshold,
            "trace_summary": self.trace_summary,
            "trace": self.trace,
        }


@contextmanager
def _recursion_as_error(strategy: Strategy) -> Iterator[None]:
    """A tree too deep for the interpreter is the strategy's error, reported like any other."""
    try:
        yield
    except RecursionError:
        raise DslEvaluationError(f"{strategy.name}: nesting too deep to evaluate") from None


def _normalised(found: dict[str, float]) -> dict[str, float]:
    kept = {s: w for s, w in found.items() if w > DUST}
    total = sum(kept.values())
    return {s: kept[s] / total for s in sorted(kept)}


def evaluate_on(
    strategy: Strategy, market: Market, requested: date | None = None, *, whole_axis: bool = False
) -> StrategyResult:
    """Evaluate on a prepared market; the answer is the market's last day.

    By default the day is evaluated top-down, only the branches taken (the live path); with
    `whole_axis=True` every node is evaluated over the whole date axis and the last day is read off
    (the backtest path). Both give the same weights; the choice is only about speed."""
    evaluator = Evaluator(market)
    day = len(market) - 1
    as_of = market.day(day)
    live = DayEvaluator(evaluator, day)
    with _recursion_as_error(strategy):
        if whole_axis:
            evaluator.allocation(strategy.root)  # the day evaluator below then reads the root's column
        try:
            found = live.allocation(strategy.root)
        except DayFailure as failure:
            raise DslEvaluationError(f"{strategy.name}: {evaluator.reason(failure.code)} (as of {as_of})") from None
        trace = Tracer(live).walk(strategy.root)
    result_weights = _normalised(found)
    return StrategyResult(
        name=strategy.name,
        as_of=as_of,
        weights=result_weights,
        trace=trace,
        trace_summary=summarise(trace, result_weights),
        rebalance_threshold=strategy.rebalance_threshold,
        requested_as_of=requested,
    )


def evaluate_strategy(strategy: Strategy, market_data: MarketDataPort, as_of: date) -> StrategyResult:
    """Weights as of `as_of` (closes up to and including the last bar date on or before it)."""
    symbols = sorted(strategy.universe)
    bars: dict[str, DailyBars | pd.DataFrame] = dict(market_data.daily_bars(symbols, end=as_of))
    listed_later = [s for s in symbols if s in bars and len(bars[s]) == 0]
    if listed_later:  # no bar up to as_of: not missing if it lists later, and the errors name its first bar
        bars |= market_data.daily_bars(listed_later)
    result = evaluate_on(strategy, Market(bars, strategy.universe, end=as_of), requested=as_of)
    logger.info(
        "strategy evaluated",
        strategy=strategy.name,
        file=strategy.file,
        as_of=result.as_of.isoformat(),
        weights=result.weights,
        decisions=len(result.trace),
        near_ties=sum(1 for e in result.trace if e.get("near_tie")),
    )
    return result


def evaluate_range(
    strategy: Strategy,
    bars: Mapping[str, DailyBars | pd.DataFrame],
    start: date,
    end: date,
    *,
    late_start: bool = False,
) -> pd.DataFrame:
    """Daily weights for every calendar day in [start, end]: one evaluation over the whole date axis.

    Rows are days, columns the symbols ever held in the range. A day the strategy cannot be evaluated
    on (too-short history...) is an error naming the first such day, never a silent row of zeros.
    With `late_start`, the days before the strategy's first evaluable day in the range are left out
    (history too short or a symbol not listed yet at `start`); a failing day after it is still an error,
    and so is a range with no evaluable day."""
    import pandas as pd

    market = Market(bars, strategy.universe, end=end)
    evaluator = Evaluator(market)
    with _recursion_as_error(strategy):
        weights = evaluator.allocation(strategy.root)
    days = market.dates
    in_range = (days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))
    if late_start:
        evaluable = np.flatnonzero(in_range & (weights.fail == OK))
        if len(evaluable):
            in_range &= np.arange(len(days)) >= evaluable[0]
    failing = np.flatnonzero(in_range & (weights.fail != OK))
    if len(failing):
        first = int(failing[0])
        raise DslEvaluationError(
            f"{strategy.name}: {evaluator.reason(int(weights.fail[first]))} (on {market.day(first)}; "
            f"{len(failing)} day(s) in the range cannot be evaluated)"
        )
    index = pd.DatetimeIndex(days[in_range], name="date")
    columns = {s: w[in_range] for s, w in sorted(weights.by_symbol.items()) if (w[in_range] > DUST).any()}
    frame = pd.DataFrame(columns, index=index)
    frame = frame.where(frame > DUST, 0.0)
    return frame.div(frame.sum(axis=1), axis=0) if len(frame.columns) else frame
