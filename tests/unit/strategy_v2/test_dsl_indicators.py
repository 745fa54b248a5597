"""Each indicator against hand-computed values (closes 10, 11, 12, 11, 13 unless stated)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from the_alchemiser.strategy_v2.dsl.indicators import compute, smooth
from the_alchemiser.strategy_v2.dsl.nodes import PPO, PPO_SIGNAL, IndicatorSpec

CLOSES = np.array([10.0, 11.0, 12.0, 11.0, 13.0])


def last(name: str, closes: np.ndarray = CLOSES, **params: int) -> float:
    return float(compute(IndicatorSpec(name, **params), closes)[-1])


def test_current_price_is_the_last_close() -> None:
    assert last("current-price") == 13.0


def test_moving_average_price() -> None:
    assert last("moving-average-price", window=3) == pytest.approx((12 + 11 + 13) / 3)


def test_cumulative_return_in_percent() -> None:
    assert last("cumulative-return", window=2) == pytest.approx((13 / 12 - 1) * 100)


def test_moving_average_return_in_percent() -> None:
    expected = ((11 / 12 - 1) + (13 / 11 - 1)) / 2 * 100
    assert last("moving-average-return", window=2) == pytest.approx(expected)


def test_stdev_return_is_population_daily_percent() -> None:
    a, b = 11 / 12 - 1, 13 / 11 - 1
    assert last("stdev-return", window=2) == pytest.approx(abs(a - b) / 2 * 100)


def test_stdev_price_is_population() -> None:
    assert last("stdev-price", window=3) == pytest.approx(math.sqrt(2 / 3))


def test_max_drawdown_is_positive_percent_within_window() -> None:
    # window [11, 12, 11, 13]: worst is 11 after the running max 12.
    assert last("max-drawdown", window=4) == pytest.approx((1 - 11 / 12) * 100)
    # window [11, 13]: never below its running max.
    assert last("max-drawdown", window=2) == 0.0


def test_exponential_moving_average_seeded_with_mean() -> None:
    # alpha 0.5, seed mean(10, 11, 12) = 11; then 0.5*11 + 0.5*11 = 11; then 0.5*13 + 0.5*11 = 12.
    values = compute(IndicatorSpec("exponential-moving-average-price", window=3), CLOSES)
    assert np.isnan(values[:2]).all()
    assert values[2:].tolist() == pytest.approx([11.0, 11.0, 12.0])


def test_rsi_wilder_by_hand() -> None:
    # changes 1, 1, -1, 2. Seed gains (1+1)/2 = 1, losses 0 -> 100.
    # then gains (1*1+0)/2 = .5, losses (0+1)/2 = .5 -> 50; then gains (.5+2)/2 = 1.25, losses .25 -> 100-100/6.
    values = compute(IndicatorSpec("rsi", window=2), CLOSES)
    assert np.isnan(values[:2]).all()
    assert values[2:].tolist() == pytest.approx([100.0, 50.0, 100 - 100 / 6])


def test_rsi_of_strictly_rising_series_is_100() -> None:
    rising = np.linspace(10, 50, 300)
    values = compute(IndicatorSpec("rsi", window=14), rising)
    assert np.isnan(values[:14]).all()
    assert (values[14:] == 100.0).all()


def test_rsi_of_flat_series_is_50_and_falling_is_0() -> None:
    assert last("rsi", np.full(30, 7.0), window=10) == 50.0
    assert last("rsi", np.linspace(50, 10, 30), window=10) == 0.0


def test_rsi_runs_over_all_history() -> None:
    # The same last 20 closes with different earlier history give different RSI (Wilder memory).
    tail = np.linspace(100, 110, 20)
    a = last("rsi", np.concatenate([np.linspace(50, 100, 100), tail]), window=14)
    b = last("rsi", np.concatenate([np.linspace(150, 100, 100), tail]), window=14)
    assert a != pytest.approx(b)


def test_percentage_price_oscillator_and_signal() -> None:
    ema2 = [10.5]  # alpha 2/3, seed mean(10, 11)
    for price in (12.0, 11.0, 13.0):
        ema2.append(2 / 3 * price + 1 / 3 * ema2[-1])
    ema3 = [11.0, 11.0, 12.0]  # from index 2
    ppo = [(ema2[i + 1] - ema3[i]) / ema3[i] * 100 for i in range(3)]  # indexes 2, 3, 4
    values = compute(IndicatorSpec(PPO, short=2, long=3), CLOSES)
    assert np.isnan(values[:2]).all()
    assert values[2:].tolist() == pytest.approx(ppo)
    signal_seed = (ppo[0] + ppo[1]) / 2  # smooth 2: mean of the first two PPO values, at index 3
    signal = compute(IndicatorSpec(PPO_SIGNAL, short=2, long=3, smooth=2), CLOSES)
    assert np.isnan(signal[:3]).all()
    assert signal[3:].tolist() == pytest.approx([signal_seed, 2 / 3 * ppo[2] + 1 / 3 * signal_seed])


@pytest.mark.parametrize(
    ("spec", "need"),
    [
        (IndicatorSpec("current-price"), 1),
        (IndicatorSpec("moving-average-price", window=5), 5),
        (IndicatorSpec("exponential-moving-average-price", window=5), 5),
        (IndicatorSpec("stdev-price", window=5), 5),
        (IndicatorSpec("max-drawdown", window=5), 5),
        (IndicatorSpec("rsi", window=5), 6),
        (IndicatorSpec("cumulative-return", window=5), 6),
        (IndicatorSpec("moving-average-return", window=5), 6),
        (IndicatorSpec("stdev-return", window=5), 6),
        (IndicatorSpec(PPO), 26),
        (IndicatorSpec(PPO_SIGNAL), 34),
    ],
)
def test_minimum_history(spec: IndicatorSpec, need: int) -> None:
    assert spec.need == need
    closes = 100 + np.sin(np.arange(60.0))
    values = compute(spec, closes)
    assert np.isnan(values[: need - 1]).all()
    assert np.isfinite(values[need - 1 :]).all()
    assert np.isnan(compute(spec, closes[: need - 1])).all()


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.5, 0.9, 13 / 14, 0.995])
def test_closed_form_smoothing_matches_the_loop(keep: float) -> None:
    rng = np.random.default_rng(3)
    for values in (np.abs(rng.normal(size=3000)), rng.normal(size=500)):
        expected, level = [0.7], 0.7
        for v in values:
            level = keep * level + (1 - keep) * v
            expected.append(level)
        assert smooth(0.7, values, keep) == pytest.approx(expected, rel=1e-12, abs=1e-12)
