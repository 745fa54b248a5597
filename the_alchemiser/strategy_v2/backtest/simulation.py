"""From each day's target weights to an equity curve: what is held, what it earns, what trading costs.

Pure numpy over a calendar of `days` rows and `symbols` columns. Weights are fractions of the book's
equity; whatever is not invested is cash, which earns nothing.

- A trade at the close of day i moves the drifted holdings `d` to `h`; `h` earns the assets' returns
  from the close of i to the close of i+1. The day's return is h . R(i+1) minus `cost` times the
  trade's one-way turnover (max of what was bought and what was sold, as fractions of equity). Costs
  are charged against the whole book, so they do not change the weights.
- Timing: `composer` trades at day i into the weights decided as of i; `live` trades at day i into the
  weights decided as of i-1 (the 15:30 run on completed bars), so its first day is held in cash.
- The corridor (a strategy's `rebalance_threshold`) is the live planner's rule, one definition in
  `shared/corridor.py`, in weight units over the book. Buys are scaled down when the cash after sells
  cannot pay for them (the planner's rule without share rounding or minimum notional). Without any
  threshold every day trades to the target (daily rebalancing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from the_alchemiser.shared.corridor import symbols_inside_corridor

Array = npt.NDArray[Any]
Timing = Literal["composer", "live"]
TIMINGS: tuple[Timing, ...] = ("composer", "live")
BPS = 1e-4
# Buys exceeding the cash by less than this are float noise of weights summing to 1, not a shortfall.
CASH_SLACK = 1e-12


@dataclass(frozen=True)
class Sleeve:
    """One strategy inside a book: its own target weights per day (rows sum to 1), its share of the
    book and its corridor (None: rebalanced daily)."""

    targets: Array  # (days, symbols)
    allocation: float
    threshold: float | None = None


@dataclass(frozen=True)
class Curve:
    """A simulated book. `equity[0]` is 1; `returns[i]`, `turnover[i]` belong to the trade at day i and
    the holding from i to i+1 (so both have days - 1 entries); `holdings[i]` is what was held after
    the trade at day i."""

    equity: Array
    returns: Array
    turnover: Array
    holdings: Array


def merged_targets(sleeves: Sequence[Sleeve]) -> Array:
    """The book's target per day: the allocation-weighted sum of the sleeves' weights (the aggregator's
    merge, ConsolidatedPortfolio.merge, in floats)."""
    total = np.zeros_like(sleeves[0].targets, dtype=float)
    for sleeve in sleeves:
        total += sleeve.allocation * sleeve.targets
    return total


def decisions_for(targets: Array, timing: Timing) -> tuple[Array, Array]:
    """(weights traded into at each day, whether that day has a decision to trade) for a timing."""
    days = len(targets)
    if timing == "composer":
        return targets, np.ones(days, dtype=bool)
    shifted = np.zeros_like(targets)
    shifted[1:] = targets[:-1]
    decided = np.ones(days, dtype=bool)
    if days:
        decided[0] = False  # nothing decided yet: the first day is held in cash
    return shifted, decided


def simulate(
    sleeves: Sequence[Sleeve], asset_returns: Array, timing: Timing = "composer", cost_bps: float = 0.0
) -> Curve:
    """The book of `sleeves` over the calendar; `asset_returns[i]` = C(i)/C(i-1) - 1 per symbol (row 0 unused)."""
    if not sleeves:
        raise ValueError("a book needs at least one sleeve")
    targets, decided = decisions_for(merged_targets(sleeves), timing)
    if any(s.threshold is not None for s in sleeves):
        holdings = _with_corridor(sleeves, targets, decided, asset_returns, timing)
    else:
        holdings = np.where(decided[:, None], targets, 0.0)
    return _account(holdings, asset_returns, cost_bps * BPS)


def _account(holdings: Array, asset_returns: Array, cost: float) -> Curve:
    """Returns, turnover and equity of a sequence of post-trade holdings."""
    days = len(holdings)
    if days == 0:
        return Curve(np.ones(0), np.zeros(0), np.zeros(0), holdings)
    held, ahead = holdings[:-1], asset_returns[1:]
    gross = np.einsum("ij,ij->i", held, ahead)
    before = np.zeros_like(holdings)  # the drifted weights just before each day's trade
    before[1:] = held * (1.0 + ahead) / (1.0 + gross)[:, None]
    change = holdings - before
    bought = np.where(change > 0, change, 0.0).sum(axis=1)
    sold = np.where(change < 0, -change, 0.0).sum(axis=1)
    turnover = np.maximum(bought, sold)[:-1]
    returns = gross - cost * turnover
    equity = np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    return Curve(equity, returns, turnover, holdings)


def _with_corridor(
    sleeves: Sequence[Sleeve], targets: Array, decided: Array, asset_returns: Array, timing: Timing
) -> Array:
    """Post-trade holdings day by day: each day's trade depends on how the last one drifted."""
    days, symbols = targets.shape
    own = np.stack([decisions_for(s.targets, timing)[0] for s in sleeves], axis=1)  # (days, sleeves, symbols)
    allocations = np.array([s.allocation for s in sleeves])
    thresholds = np.array([np.nan if s.threshold is None else s.threshold for s in sleeves], dtype=float)
    holdings = np.zeros((days, symbols))
    drifted = np.zeros(symbols)
    for day in range(days):
        if day:
            previous = holdings[day - 1]
            grown = previous * (1.0 + asset_returns[day])
            drifted = grown / (grown.sum() + (1.0 - previous.sum()))
        if decided[day]:
            holdings[day] = rebalance(drifted, targets[day], own[day], allocations, thresholds)
    return holdings


def rebalance(drifted: Array, target: Array, sleeve_targets: Array, allocations: Array, thresholds: Array) -> Array:
    """The holdings after one day's trade (the planner's corridor rule, then its cash check).

    `sleeve_targets` is (sleeves, symbols): each strategy's own weights that day; `thresholds` has NaN
    for strategies without a corridor."""
    keep = np.zeros(len(target), dtype=bool)
    keep[[int(s) for s in _inside_corridor(drifted, target, sleeve_targets, allocations, thresholds)]] = True
    after = np.where(keep, drifted, target)
    change = after - drifted
    wanted = float(change[change > 0].sum())
    available = max(0.0, 1.0 - float(drifted.sum()) - float(change[change < 0].sum()))
    if wanted > available + CASH_SLACK:
        after = drifted + np.where(change > 0, change * (available / wanted), change)
    return after


def _inside_corridor(
    drifted: Array, target: Array, sleeve_targets: Array, allocations: Array, thresholds: Array
) -> set[str]:
    """`shared.corridor` over one day's arrays: symbols and sleeves keyed by their column and row numbers."""
    banded = {str(k): float(t) for k, t in enumerate(thresholds.tolist()) if not math.isnan(t)}
    held = np.flatnonzero(drifted > 0)
    if not banded or not np.all(target[held] > 0):
        return set()
    contributions = {
        str(k): {str(i): allocations[k] * sleeve_targets[k, i] for i in np.flatnonzero(sleeve_targets[k] > 0).tolist()}
        for k in range(len(allocations))
    }
    return symbols_inside_corridor(
        current={str(i): float(drifted[i]) for i in held.tolist()},
        target={str(i): float(target[i]) for i in np.flatnonzero(target > 0).tolist()},
        contributions=contributions,
        allocations={str(k): float(a) for k, a in enumerate(allocations.tolist())},
        thresholds=banded,
    )
