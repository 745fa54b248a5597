"""The rebalance corridor: which targeted symbols a rebalance leaves as they drifted.

One definition, used by the live planner (Decimal dollars over deployable equity) and the backtest
(float weights over the book). A strategy's `rebalance_threshold` t is in the strategy's own weight
units (0.05 = 5 points of its sleeve). A merged symbol's drift d (current minus target weight) is shared
among its strategies pro rata to their contributions, so strategy s sees |d| * c_s / (T * A_s), with c_s
its contribution to the merged target T and A_s its allocation. A strategy holds only when it has a
threshold and an allocation, it targets something, holds all its targets already (none is new), no held
symbol has left every target (someone's target set changed), and each of its symbols is within its
band. A symbol is left alone only when every strategy contributing to it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypeVar

Num = TypeVar("Num", Decimal, float)


def symbols_inside_corridor(
    current: Mapping[str, Num],
    target: Mapping[str, Num],
    contributions: Mapping[str, Mapping[str, Num]],
    allocations: Mapping[str, Num],
    thresholds: Mapping[str, Num],
) -> set[str]:
    """The targeted symbols to leave as they are.

    Requires: `current` holds only held symbols (weight > 0), `target` only targeted ones (> 0);
    `contributions` is strategy -> symbol -> its part of the merged target; `thresholds` names only the
    strategies that have a corridor."""
    if not thresholds or any(symbol not in target for symbol in current):
        return set()  # nothing banded, or a holding left every target: trade everything to target
    holding = {
        s
        for s, t in thresholds.items()
        if _strategy_holds(current, target, contributions.get(s, {}), allocations.get(s), t)
    }
    return {
        symbol
        for symbol in target
        if (owners := {s for s, c in contributions.items() if c.get(symbol, 0) > 0}) and owners <= holding
    }


def _strategy_holds(
    current: Mapping[str, Num],
    target: Mapping[str, Num],
    contributions: Mapping[str, Num],
    allocation: Num | None,
    threshold: Num,
) -> bool:
    own = {symbol: c for symbol, c in contributions.items() if c > 0}
    if allocation is None or allocation <= 0 or not own or any(symbol not in current for symbol in own):
        return False  # nothing to hold, or a new target: trade to target
    return all(
        abs(current[symbol] - target[symbol]) * contribution / (target[symbol] * allocation) <= threshold
        for symbol, contribution in own.items()
    )
