"""The DTOs' own rules: weights sum to 1, the merge keeps per-strategy contributions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal
from the_alchemiser.shared.types import to_decimal


def make_signal(strategy: str, allocation: Decimal, weights: dict[str, Decimal]) -> StrategySignal:
    return StrategySignal(
        strategy=strategy, strategy_name=strategy, allocation=allocation, weights=weights, as_of=date(2026, 11, 23)
    )


def test_merge_is_the_weighted_sum_and_keeps_contributions() -> None:
    nuclear = make_signal("nuclear.clj", Decimal("0.5"), {"TQQQ": Decimal("0.6"), "BIL": Decimal("0.4")})
    tecl = make_signal("tecl.clj", Decimal("0.3"), {"TECL": Decimal("1")})
    klm = make_signal("klm.clj", Decimal("0.2"), {"TQQQ": Decimal("0.5"), "SPY": Decimal("0.5")})
    merged = ConsolidatedPortfolio.merge([nuclear, tecl, klm])
    assert merged.target_weights == {
        "BIL": Decimal("0.20"),
        "SPY": Decimal("0.10"),
        "TECL": Decimal("0.3"),
        "TQQQ": Decimal("0.40"),
    }
    assert merged.strategy_contributions["nuclear.clj"] == {"TQQQ": Decimal("0.30"), "BIL": Decimal("0.20")}
    assert merged.attribution("TQQQ") == {"nuclear.clj": Decimal("0.75"), "klm.clj": Decimal("0.25")}
    assert merged.attribution("NOPE") == {}


def test_allocations_must_sum_to_one() -> None:
    a = make_signal("a.clj", Decimal("0.5"), {"SPY": Decimal(1)})
    with pytest.raises(ValueError, match="allocations sum"):
        ConsolidatedPortfolio.merge([a])


def test_signal_weights_must_sum_to_one_and_be_non_negative() -> None:
    with pytest.raises(ValidationError, match="sum"):
        make_signal("a.clj", Decimal(1), {"SPY": Decimal("0.5")})
    with pytest.raises(ValidationError, match="negative"):
        make_signal("a.clj", Decimal(1), {"SPY": Decimal("1.5"), "QQQ": Decimal("-0.5")})


def test_portfolio_rejects_contributions_that_do_not_add_up() -> None:
    with pytest.raises(ValidationError, match="contributions"):
        ConsolidatedPortfolio(
            as_of=date(2026, 11, 23),
            target_weights={"SPY": Decimal(1)},
            strategy_contributions={"a.clj": {"SPY": Decimal("0.5")}},
            strategy_allocations={"a.clj": Decimal(1)},
        )


def levered_portfolio(**fields: object) -> dict[str, object]:
    weights = {"SPY": Decimal("1.5"), "OLD": Decimal("-0.5")}
    return {
        "as_of": date(2026, 11, 23),
        "target_weights": weights,
        "strategy_contributions": {"a.clj": weights},
        "strategy_allocations": {"a.clj": Decimal(1)},
        **fields,
    }


def test_portfolio_weights_each_lie_in_zero_to_one() -> None:
    """#14 finding 8: {SPY 1.5, OLD -0.5} sums to 1 with consistent contributions, and must still be refused."""
    with pytest.raises(ValidationError, match=r"SPY: target weight 1.5 outside \[0, 1\]"):
        ConsolidatedPortfolio(**levered_portfolio())  # type: ignore[arg-type]
    fine = {"SPY": Decimal("0.5"), "OLD": Decimal("0.5")}
    with pytest.raises(ValidationError, match=r"b.clj: contribution -0.1 to SPY outside \[0, 1\]"):
        ConsolidatedPortfolio(
            as_of=date(2026, 11, 23),
            target_weights=fine,
            strategy_contributions={
                "a.clj": {"SPY": Decimal("0.6"), "OLD": Decimal("0.5")},
                "b.clj": {"SPY": Decimal("-0.1")},
            },
            strategy_allocations={"a.clj": Decimal("1.1"), "b.clj": Decimal("-0.1")},
        )
    with pytest.raises(ValidationError, match=r"b.clj: allocation -0.1 outside \[0, 1\]"):
        ConsolidatedPortfolio(
            as_of=date(2026, 11, 23),
            target_weights=fine,
            strategy_contributions={"a.clj": fine},
            strategy_allocations={"a.clj": Decimal("1.1"), "b.clj": Decimal("-0.1")},
        )


def test_the_merge_refuses_signals_that_escaped_their_validation() -> None:
    """The aggregator's merge: a signal built without validation still cannot make a levered portfolio."""
    levered = StrategySignal.model_construct(
        strategy="a.clj",
        strategy_name="a",
        allocation=Decimal(1),
        weights={"SPY": Decimal("1.5"), "OLD": Decimal("-0.5")},
        as_of=date(2026, 11, 23),
        rebalance_threshold=None,
        trace_summary=[],
        trace_s3_key=None,
    )
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        ConsolidatedPortfolio.merge([levered])


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "abc", True, None, [1]])
def test_money_rejects_non_finite_and_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError):
        to_decimal(bad)


def test_money_from_float_keeps_the_decimal_written() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
