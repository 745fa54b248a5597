"""Backtests of strategy files with the signals engine (spec: docs/backtest.md). Pure: no AWS.

run_backtest(request: BacktestRequest, market_data: MarketDataPort, progress=None) -> BacktestResult
    BacktestRequest(strategies=(StrategyInput(strategy, allocation, file), ...), start, end,
                    timing="composer" | "live", cost_bps=0.0, benchmark=None)
    BacktestResult: .dates, .symbols, .targets (the merged portfolio's weights decided each day),
    .portfolio / .other_timing / .benchmark (Curve: equity, returns, turnover, holdings),
    .strategies (StrategyRun: its own targets and curve), .late_starts, .stats() (stats.json).
Raises BacktestError (no trading day, a benchmark without bars), DslEvaluationError (a day in the
range that cannot be evaluated, named), the port's MarketDataError.

simulation.simulate(sleeves, asset_returns, timing, cost_bps) -> Curve: the book arithmetic alone.
output.write_outputs(result, out, report_html); report.build_report(result) -> str.
"""

from the_alchemiser.strategy_v2.backtest.run import (
    BacktestError,
    BacktestRequest,
    BacktestResult,
    LateStart,
    StrategyInput,
    StrategyRun,
    run_backtest,
)
from the_alchemiser.strategy_v2.backtest.simulation import Curve, Sleeve, simulate

__all__ = [
    "BacktestError",
    "BacktestRequest",
    "BacktestResult",
    "Curve",
    "LateStart",
    "Sleeve",
    "StrategyInput",
    "StrategyRun",
    "run_backtest",
    "simulate",
]
