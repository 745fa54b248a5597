"""The simulation's fast paths equal the day-by-day rule they stand for."""

from __future__ import annotations

import numpy as np
import pytest

from the_alchemiser.strategy_v2.backtest.simulation import Sleeve, decisions_for, merged_targets, rebalance, simulate


def _targets(rng: np.random.Generator, days: int, symbols: int) -> np.ndarray:
    """Weights that switch between a few target sets, some days repeating the last one."""
    sets = [rng.uniform(0.1, 1, symbols) * (rng.uniform(size=symbols) < 0.5) for _ in range(4)]
    sets = [w / w.sum() if w.any() else np.eye(symbols)[0] for w in sets]
    choice = rng.integers(0, 4, size=days)
    choice[rng.uniform(size=days) < 0.7] = 0  # mostly the same target: the corridor gets to hold
    return np.array([sets[c] for c in choice])


def _reference(sleeves: list[Sleeve], returns: np.ndarray, timing: str) -> np.ndarray:
    """Holdings by applying `rebalance` (the planner's rule) every day."""
    merged, decided = decisions_for(merged_targets(sleeves), timing)  # type: ignore[arg-type]
    own = np.stack([decisions_for(s.targets, timing)[0] for s in sleeves], axis=1)  # type: ignore[arg-type]
    allocations = np.array([s.allocation for s in sleeves])
    thresholds = np.array([np.nan if s.threshold is None else s.threshold for s in sleeves])
    holdings = np.zeros_like(merged)
    drifted = np.zeros(merged.shape[1])
    for day in range(len(merged)):
        if day:
            grown = holdings[day - 1] * (1 + returns[day])
            drifted = grown / (grown.sum() + 1 - holdings[day - 1].sum())
        if decided[day]:
            holdings[day] = rebalance(drifted, merged[day], own[day], allocations, thresholds)
    return holdings


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("timing", ["composer", "live"])
def test_fast_paths_equal_the_daily_rule(seed: int, timing: str) -> None:
    rng = np.random.default_rng(seed)
    days, symbols = 300, 6
    returns = rng.normal(0, 0.02, size=(days, symbols))
    one = [Sleeve(_targets(rng, days, symbols), 1.0, 0.05)]
    daily = [Sleeve(_targets(rng, days, symbols), 1.0, None)]
    book = [
        Sleeve(_targets(rng, days, symbols), 0.5, 0.05),
        Sleeve(_targets(rng, days, symbols), 0.3, None),
        Sleeve(_targets(rng, days, symbols), 0.2, 0.1),
    ]
    for sleeves in (one, daily, book):
        curve = simulate(sleeves, returns, timing)  # type: ignore[arg-type]
        np.testing.assert_allclose(curve.holdings, _reference(sleeves, returns, timing), atol=1e-12)
    assert (simulate(one, returns).turnover == 0).sum() > 20  # the corridor did hold on some days


def test_a_book_needs_a_sleeve() -> None:
    with pytest.raises(ValueError, match="at least one sleeve"):
        simulate([], np.zeros((3, 1)))
