"""The statistics equal quantstats' on the same daily returns (to 1e-9), edge cases included."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from the_alchemiser.shared.reporting.stats import STATS_KEYS, PerformanceStats, performance_stats

qs = pytest.importorskip("quantstats", reason="quantstats is in the dev group: `uv sync` installs it")


def quantstats_figures(returns: np.ndarray) -> dict[str, float]:
    series = pd.Series(returns, index=pd.bdate_range("2020-01-01", periods=len(returns)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return {
                "total_return": float(qs.stats.comp(series)),
                "cagr": float(qs.stats.cagr(series)),
                "volatility": float(qs.stats.volatility(series)),
                "sharpe": float(qs.stats.sharpe(series)),
                "sortino": float(qs.stats.sortino(series)),
                "max_drawdown": -float(qs.stats.max_drawdown(series)),
                "calmar": float(qs.stats.calmar(series)),
                "win_rate": float(qs.stats.win_rate(series)),
            }


def assert_same(ours: PerformanceStats, theirs: dict[str, float]) -> None:
    for key, expected in theirs.items():
        value = getattr(ours, key)
        if not math.isfinite(expected):
            assert value is None, (key, value, expected)  # quantstats' NaN/inf is our null
        else:
            assert value is not None, (key, expected)
            assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12), (key, value, expected)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_daily_returns_match_quantstats(seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0005, 0.015, size=2520)
    returns[rng.integers(0, 2520, 40)] = 0.0  # some days the book does not move
    assert_same(performance_stats(returns), quantstats_figures(returns))


def test_a_losing_series_matches_quantstats() -> None:
    returns = np.random.default_rng(9).normal(-0.002, 0.02, size=300)
    ours = performance_stats(returns)
    assert ours.total_return < 0 and ours.cagr is not None and ours.cagr < 0
    assert_same(ours, quantstats_figures(returns))


def test_flat_series_has_clear_values() -> None:
    returns = np.zeros(50)
    ours = performance_stats(returns, turnover=np.zeros(50))
    assert_same(ours, quantstats_figures(returns))
    assert (ours.total_return, ours.cagr, ours.volatility, ours.max_drawdown) == (0.0, 0.0, 0.0, 0.0)
    assert ours.sharpe is None and ours.sortino is None and ours.calmar is None
    assert ours.win_rate == 0.0 and ours.turnover == 0.0 and ours.days == 50


@pytest.mark.parametrize("value", [0.01, -0.02, 0.0])
def test_single_day_series_matches_quantstats(value: float) -> None:
    returns = np.array([value])
    ours = performance_stats(returns)
    assert_same(ours, quantstats_figures(returns))
    assert ours.volatility is None and ours.sharpe is None and ours.days == 1
    assert ours.total_return == pytest.approx(value)


def test_no_returns_at_all() -> None:
    ours = performance_stats([])
    assert ours.to_json() == {
        "total_return": 0.0,
        "cagr": None,
        "volatility": None,
        "sharpe": None,
        "sortino": None,
        "max_drawdown": 0.0,
        "calmar": None,
        "win_rate": None,
        "turnover": None,
        "days": 0,
    }


def test_keys_are_the_contract() -> None:
    assert tuple(performance_stats([0.01, -0.01]).to_json()) == STATS_KEYS


def test_first_day_loss_counts_as_drawdown() -> None:
    # the starting equity (1.0) is the first peak, as in quantstats
    assert performance_stats([-0.1, 0.05]).max_drawdown == pytest.approx(0.1)


def test_turnover_is_the_mean_of_the_daily_figures() -> None:
    assert performance_stats([0.0, 0.0, 0.0], turnover=[1.0, 0.2, 0.0]).turnover == pytest.approx(0.4)


def test_non_finite_returns_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        performance_stats([0.01, math.nan])
