"""The one pro-rata rule the planner and execution share (shared/budget.py)."""

from decimal import Decimal

from the_alchemiser.shared.budget import budget_scale

D = Decimal


def test_buys_within_the_money_are_not_scaled() -> None:
    assert budget_scale(D(100), D(100)) == 1
    assert budget_scale(D(0), D(0)) == 1


def test_buys_beyond_it_are_all_scaled_by_one_factor() -> None:
    assert budget_scale(D(200), D(50)) == D("0.25")
    assert budget_scale(D(200), D(-5)) == 0
