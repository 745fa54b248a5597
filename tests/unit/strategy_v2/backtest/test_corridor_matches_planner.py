"""The backtest's corridor is the live planner's: on random books the holdings after one trade are what
RebalancePlanner's plan leaves (fractional shares, no minimum notional, all equity deployed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest

from the_alchemiser.portfolio_v2.core.planner import PlannerConfig, RebalancePlanner
from the_alchemiser.portfolio_v2.core.snapshot import HeldPosition, PortfolioSnapshot, PriceSource, SymbolState
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal, TradeAction
from the_alchemiser.strategy_v2.backtest.simulation import rebalance
from the_alchemiser.strategy_v2.worker_service import decimal_weights

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE"]
EQUITY = Decimal(1_000_000)


def _case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sleeves = []
    for _ in range(3):
        raw = rng.uniform(0.1, 1, size=len(SYMBOLS)) * (rng.uniform(size=len(SYMBOLS)) < 0.6)
        if not raw.any():
            raw[rng.integers(len(SYMBOLS))] = 1.0
        sleeves.append(raw / raw.sum())
    weights = np.array(sleeves)
    allocations = np.array([0.5, 0.3, 0.2])
    thresholds = np.array([rng.choice([np.nan, 0.02, 0.05, 0.1]) for _ in range(3)])
    target = allocations @ weights
    noise = rng.normal(0, rng.choice([0.002, 0.01, 0.05]), size=len(SYMBOLS))
    drifted = np.clip(target + noise * (target > 0), 0, None)
    if rng.uniform() < 0.2:
        drifted[rng.integers(len(SYMBOLS))] += 0.05  # sometimes a held symbol nobody targets, or a new target
    drifted = drifted / max(1.0, drifted.sum()) * rng.choice([1.0, 0.97])
    return drifted, target, weights, allocations, thresholds


def _planned(drifted: np.ndarray, weights: np.ndarray, allocations: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    signals = []
    for i, (own, allocation, threshold) in enumerate(zip(weights, allocations, thresholds, strict=True)):
        signals.append(
            StrategySignal(
                strategy=f"s{i}.clj",
                strategy_name=f"S{i}",
                allocation=Decimal(repr(float(allocation))),
                weights=decimal_weights({s: float(w) for s, w in zip(SYMBOLS, own, strict=True) if w > 0}),
                as_of=date(2024, 6, 3),
                rebalance_threshold=None if np.isnan(threshold) else Decimal(repr(float(threshold))),
            )
        )
    portfolio = ConsolidatedPortfolio.merge(signals)
    values = {s: (EQUITY * Decimal(repr(float(w)))) for s, w in zip(SYMBOLS, drifted, strict=True) if w > 0}
    cash = EQUITY - sum(values.values(), Decimal(0))
    snapshot = PortfolioSnapshot(
        as_of=datetime(2024, 6, 3, 19, 30, tzinfo=UTC),
        equity=EQUITY,
        cash=cash,
        buying_power=cash,
        positions={
            s: HeldPosition(symbol=s, qty=v, market_value=v, current_price=Decimal(1)) for s, v in values.items()
        },
        symbols={
            s: SymbolState(symbol=s, price=Decimal(1), price_source=PriceSource.MIDPOINT, fractionable=True)
            for s in SYMBOLS
        },
    )
    plan = RebalancePlanner(PlannerConfig(min_trade_value=Decimal(0))).plan(portfolio, snapshot, correlation_id="c")
    after = {s: float(values.get(s, Decimal(0))) for s in SYMBOLS}
    for item in plan.items:
        if item.action != TradeAction.HOLD:
            after[item.symbol] = float(item.current_value + item.trade_value)
    return np.array([after[s] / float(EQUITY) for s in SYMBOLS])


@pytest.mark.parametrize("seed", range(60))
def test_one_trade_leaves_what_the_planner_leaves(seed: int) -> None:
    drifted, target, weights, allocations, thresholds = _case(seed)
    ours = rebalance(drifted, target, weights, allocations, thresholds)
    np.testing.assert_allclose(ours, _planned(drifted, weights, allocations, thresholds), atol=1e-8)


def test_the_cases_cover_holding_and_trading() -> None:
    held = traded = 0
    for seed in range(60):
        drifted, target, weights, allocations, thresholds = _case(seed)
        after = rebalance(drifted, target, weights, allocations, thresholds)
        kept = np.isclose(after, drifted) & ~np.isclose(after, target) & (target > 0)
        held += bool(kept.any())
        traded += bool((~np.isclose(after, drifted)).any())
    assert held >= 5 and traded >= 20
