"""Buys that want more than the money there is are all scaled by one factor: the planner's rule (cash after
sells) and execution's (buying power confirmed after the sells) are this one definition."""

from __future__ import annotations

from decimal import Decimal


def budget_scale(wanted: Decimal, available: Decimal) -> Decimal:
    """The factor every buy is scaled by: 1 when `available` covers `wanted`, else available / wanted
    (0 when nothing is available)."""
    if wanted <= available:
        return Decimal(1)
    return max(Decimal(0), available) / wanted
