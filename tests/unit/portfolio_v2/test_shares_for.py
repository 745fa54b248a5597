"""Shares bought for a dollar budget never cost more than the budget, whatever the division's last digit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from the_alchemiser.portfolio_v2.core.planner import shares_for


def test_a_quotient_that_rounds_up_at_28_digits_buys_one_step_less() -> None:
    # found by test_planner_properties: 0.1 of $5000.01 at $0.50 was 1000.002 shares costing $500.001
    budget = Decimal("0.09999999999999999999999999999") * Decimal("5000.01")
    shares = shares_for(budget, Decimal("0.5000"), fractionable=True)
    assert shares * Decimal("0.5000") <= budget
    assert shares == Decimal("1000.001999999")


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e7"), places=28, allow_nan=False),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e5"), places=4, allow_nan=False),
    st.booleans(),
)
def test_shares_never_cost_more_than_the_dollars(dollars: Decimal, price: Decimal, fractionable: bool) -> None:
    shares = shares_for(dollars, price, fractionable)
    assert shares >= 0
    assert shares * price <= dollars
