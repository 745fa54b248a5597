"""Performance statistics of a daily return series: the formulas quantstats uses (rf = 0, 252 days a
year), written out in numpy so the runtime needs no quantstats (tests check them against it to 1e-9).

The same definitions serve a portfolio, each strategy and a benchmark. Everything is a fraction
(0.12 = 12 %). Where a figure has no meaning it is None (null in JSON), never a division error:
- no returns at all (a one-day backtest): total_return 0, max_drawdown 0, every other figure None;
- volatility, sharpe: None with fewer than two returns (no sample deviation) and sharpe None when
  the deviation is 0 (a flat series);
- sortino: None when no return is negative (no downside deviation);
- calmar: None when there is no drawdown;
- win_rate: the share of winning days among days that moved; 0 when no day moved (quantstats' value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

TRADING_DAYS = 252
STATS_KEYS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "turnover",
    "days",
)


@dataclass(frozen=True)
class PerformanceStats:
    total_return: float
    cagr: float | None
    volatility: float | None  # annualised: daily sample deviation * sqrt(252)
    sharpe: float | None  # annualised, risk-free rate 0
    sortino: float | None  # annualised; downside deviation over all days (quantstats' definition)
    max_drawdown: float  # a positive fraction (0.25 = the equity fell 25 % from a peak)
    calmar: float | None  # cagr / max_drawdown
    win_rate: float | None
    turnover: float | None  # mean daily one-way turnover (max of bought and sold, fraction of equity)
    days: int  # daily returns the figures are computed on

    def to_json(self) -> dict[str, float | int | None]:
        return asdict(self)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def performance_stats(
    returns: Sequence[float] | npt.NDArray[Any], turnover: Sequence[float] | npt.NDArray[Any] | None = None
) -> PerformanceStats:
    """Statistics of daily simple returns (one per trading day after the first); `turnover` is the
    one-way turnover of each day's trade (same length), or None where it does not apply."""
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1 or not np.all(np.isfinite(r)):
        raise ValueError("returns must be a one-dimensional series of finite numbers")
    days = len(r)
    mean_turnover = None if turnover is None or len(turnover) == 0 else float(np.mean(np.asarray(turnover, float)))
    if days == 0:
        return PerformanceStats(0.0, None, None, None, None, 0.0, None, None, mean_turnover, 0)
    growth = np.cumprod(1.0 + r)
    total = float(growth[-1] - 1.0)
    wealth = 1.0 + total
    cagr = None if wealth < 0 else _finite(wealth ** (TRADING_DAYS / days) - 1.0)
    root = math.sqrt(TRADING_DAYS)
    mean = float(r.mean())
    deviation = float(r.std(ddof=1)) if days > 1 else math.nan
    volatility = _finite(deviation * root)
    sharpe = _finite(mean / deviation * root) if days > 1 and deviation > 0 else None
    downside = math.sqrt(float(np.sum(np.square(r[r < 0]))) / days)
    sortino = _finite(mean / downside * root) if downside > 0 else None
    peaks = np.maximum.accumulate(np.concatenate(([1.0], growth)))[1:]  # the starting equity 1 is a peak
    max_drawdown = float(np.max(1.0 - growth / peaks))
    calmar = _finite(cagr / max_drawdown) if cagr is not None and max_drawdown > 0 else None
    moved = int(np.count_nonzero(r))
    win_rate = int(np.count_nonzero(r > 0)) / moved if moved else 0.0
    return PerformanceStats(
        total_return=total,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_drawdown,
        calmar=calmar,
        win_rate=win_rate,
        turnover=mean_turnover,
        days=days,
    )
