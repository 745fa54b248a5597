"""RebalancePlanner: pure unit tests on hand-built snapshots."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.support.portfolio_v2.builders import D, portfolio, signal, snapshot
from the_alchemiser.portfolio_v2.core.planner import (
    UNATTRIBUTED,
    MissingPriceError,
    PlannerConfig,
    PlanningError,
    RebalancePlanner,
    allocation_comparison,
    plan_id_for,
)
from the_alchemiser.shared.schemas import RebalancePlan, TradeAction

CID = "corr-2026-11-24"


def plan(pf, snap, **config) -> RebalancePlan:  # type: ignore[no-untyped-def]
    return RebalancePlanner(PlannerConfig(**config)).plan(pf, snap, correlation_id=CID)


def test_liquidation_of_a_fractional_position_sells_exactly_the_held_quantity() -> None:
    held = "3.141592653589793238"  # more decimals than Alpaca's 9: must not be rounded either way
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="0", positions={"TQQQ": held}, prices={"TQQQ": "71.23", "SPY": "600"})
    result = plan(pf, snap)
    item = result.item("TQQQ")
    assert item.action == TradeAction.SELL
    assert item.full_liquidation is True
    assert item.quantity == Decimal(held)
    assert str(item.quantity) == held
    assert item.target_weight == 0
    assert item.trade_value == -(Decimal(held) * D("71.23"))


def test_liquidation_happens_even_below_minimum_notional() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="1000", positions={"DUST": "0.000000123"}, prices={"DUST": "10", "SPY": "100"})
    item = plan(pf, snap).item("DUST")
    assert (item.action, item.quantity, item.full_liquidation) == (TradeAction.SELL, D("0.000000123"), True)


def test_liquidation_round_trips_the_exact_quantity_on_the_wire() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="0", positions={"UVXY": "12.987654321"}, prices={"UVXY": "9.99", "SPY": "600"})
    wire = plan(pf, snap).model_dump_json()
    again = RebalancePlan.model_validate_json(wire)
    assert again.item("UVXY").quantity == D("12.987654321")


def test_non_fractionable_buy_rounds_down_to_whole_shares() -> None:
    pf = portfolio(signal("a.clj", "1", {"BRK/B": "1"}))
    snap = snapshot(cash="1000", prices={"BRK/B": "301"}, fractionable=[])
    item = plan(pf, snap).item("BRK/B")
    assert item.action == TradeAction.BUY
    assert item.quantity == 3  # 1000 / 301 = 3.32 -> 3, never 4
    assert item.trade_value == 903
    assert item.fractionable is False


def test_fractionable_buy_rounds_down_to_nine_decimals() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="1000", prices={"SPY": "3"})
    item = plan(pf, snap).item("SPY")
    assert item.quantity == D("333.333333333")
    assert item.trade_value <= 1000


def test_non_fractionable_buy_below_one_share_is_a_hold_with_a_reason() -> None:
    pf = portfolio(signal("a.clj", "0.5", {"SPY": "1"}), signal("b.clj", "0.5", {"BIG": "1"}))
    snap = snapshot(cash="1000", prices={"SPY": "100", "BIG": "900"}, fractionable=["SPY"])
    result = plan(pf, snap)
    assert result.item("BIG").action == TradeAction.HOLD
    assert "whole share" in result.item("BIG").reason
    assert result.item("SPY").action == TradeAction.BUY


def test_targets_are_weight_times_deployable_equity() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.6", "TLT": "0.4"}))
    snap = snapshot(cash="10000", prices={"SPY": "100", "TLT": "50"})
    result = plan(pf, snap, deployment_fraction=D("0.9"), cash_buffer=D("100"))
    assert result.deployable_equity == D("8900")
    assert result.item("SPY").target_value == D("5340")
    assert result.item("TLT").target_value == D("3560")
    assert result.item("SPY").quantity == D("53.4")
    assert result.estimated_cash_after == D("1100")


def test_small_differences_are_holds_with_a_reason() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}))
    snap = snapshot(cash="3", positions={"SPY": "10", "TLT": "20"}, prices={"SPY": "100", "TLT": "50"})
    result = plan(pf, snap)  # each is 1.50 under target, below the minimum
    assert [i.action for i in result.items] == [TradeAction.HOLD, TradeAction.HOLD]
    assert all("minimum trade value" in i.reason for i in result.items)


def test_hold_only_plan_is_valid_and_round_trips() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="0", positions={"SPY": "10"}, prices={"SPY": "100"})
    result = plan(pf, snap)
    assert result.trades == []
    assert [i.action for i in result.items] == [TradeAction.HOLD]
    assert result.total_buy_value == 0 and result.total_sell_value == 0
    assert result.estimated_cash_after == result.cash
    assert RebalancePlan.model_validate_json(result.model_dump_json()) == result


def test_empty_account_and_all_cash_targets_make_an_empty_valid_plan() -> None:
    pf = portfolio(signal("a.clj", "1", {}))
    result = plan(pf, snapshot(cash="500", prices={}))
    assert result.items == [] and result.trades == []


def test_buys_never_exceed_cash_after_sells() -> None:
    # equity says 10000 but cash is only 100: the sells free 2000, so buys get at most 2100
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "QQQ": "0.5"}))
    snap = snapshot(
        cash="100",
        positions={"OLD": "20"},
        prices={"OLD": "100", "SPY": "10", "QQQ": "7"},
        equity="10000",
    )
    result = plan(pf, snap)
    assert result.total_sell_value == 2000
    assert result.total_buy_value <= D("2100")
    assert result.total_buy_value > D("2099")  # scaled, not dropped
    assert all("scaled" in i.reason for i in result.buys)
    assert result.estimated_cash_after >= 0


def test_buys_respect_buying_power_and_cash_buffer() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="1000", buying_power="600", prices={"SPY": "10"}, equity="1000")
    result = plan(pf, snap, cash_buffer=D("50"))
    assert result.total_buy_value <= D("550")


def test_no_cash_means_buys_become_holds() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="0", prices={"SPY": "10"}, equity="1000")
    item = plan(pf, snap).item("SPY")
    assert item.action == TradeAction.HOLD
    assert "scaled" in item.reason


def test_partial_sell_rounds_down_and_never_sells_more_than_held() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}))
    snap = snapshot(cash="0", positions={"SPY": "10.5"}, prices={"SPY": "100", "TLT": "33"}, fractionable=["TLT"])
    result = plan(pf, snap)
    spy = result.item("SPY")
    assert spy.action == TradeAction.SELL
    assert spy.full_liquidation is False
    assert spy.quantity == 5  # wants 5.25, whole shares only
    assert result.item("TLT").trade_value <= 500


def test_every_item_carries_per_strategy_attribution() -> None:
    pf = portfolio(
        signal("a.clj", "0.6", {"SPY": "0.5", "TLT": "0.5"}),
        signal("b.clj", "0.4", {"SPY": "1"}),
    )
    snap = snapshot(cash="1000", positions={"OLD": "5", "SPY": "1"}, prices={"OLD": "10", "SPY": "100", "TLT": "50"})
    result = plan(pf, snap)
    for item in result.items:
        assert item.strategy_attribution, item.symbol
        assert sum(item.strategy_attribution.values()) == 1
    assert result.item("SPY").strategy_attribution == {"a.clj": D("0.3") / D("0.7"), "b.clj": D("0.4") / D("0.7")}
    assert result.item("TLT").strategy_attribution == {"a.clj": D(1)}
    assert result.item("OLD").strategy_attribution == {UNATTRIBUTED: D(1)}


def test_missing_price_is_an_error_naming_every_symbol() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "XYZ": "0.5"}))
    snap = snapshot(cash="1000", positions={"OLD": "1"}, prices={"SPY": "10", "OLD": "5"})
    unpriced = snap.symbols["OLD"].model_copy(update={"price": None})
    snap = snap.model_copy(update={"symbols": {**snap.symbols, "OLD": unpriced}})
    with pytest.raises(MissingPriceError) as info:
        plan(pf, snap)
    assert info.value.symbols == ["OLD", "XYZ"]
    assert "OLD" in str(info.value) and "XYZ" in str(info.value)


def test_non_positive_equity_is_an_error() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    with pytest.raises(PlanningError, match="equity"):
        plan(pf, snapshot(cash="0", prices={"SPY": "1"}))


def test_untradable_assets_are_held_with_a_reason() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "HALT": "0.5"}))
    snap = snapshot(
        cash="1000",
        positions={"GONE": "1"},
        prices={"SPY": "10", "HALT": "5", "GONE": "3"},
        untradable=["HALT", "GONE"],
    )
    result = plan(pf, snap)
    assert result.item("HALT").action == TradeAction.HOLD and "not tradable" in result.item("HALT").reason
    assert result.item("GONE").action == TradeAction.HOLD and "not tradable" in result.item("GONE").reason


def test_plan_id_is_deterministic_from_the_correlation_id() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="1000", prices={"SPY": "10"})
    first, second = plan(pf, snap), plan(pf, snap)
    assert first.plan_id == second.plan_id == plan_id_for(CID)
    assert plan_id_for("other") != plan_id_for(CID)
    assert first == second
    assert first.trading_date == date(2026, 11, 24)


def test_allocation_comparison_has_both_sides() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "1"}))
    snap = snapshot(cash="500", positions={"SPY": "5"}, prices={"SPY": "100"})
    comparison = allocation_comparison(plan(pf, snap))
    assert comparison["SPY"] == {
        "target_weight": D(1),
        "current_weight": D("0.5"),
        "target_value": D(1000),
        "current_value": D(500),
    }


class TestCorridor:
    def test_inside_the_band_holds(self) -> None:
        pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}, threshold="0.05"))
        # SPY 54%, TLT 46%: drift 4 points < 5
        snap = snapshot(cash="0", positions={"SPY": "54", "TLT": "46"}, prices={"SPY": "100", "TLT": "100"})
        result = plan(pf, snap)
        assert result.trades == []
        assert all("corridor" in i.reason for i in result.items)

    def test_outside_the_band_trades_the_whole_strategy_back(self) -> None:
        pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.3", "GLD": "0.2"}, threshold="0.05"))
        # SPY 56% (6 points out); GLD 19% (1 point, inside, but the strategy rebalances as a whole)
        snap = snapshot(
            cash="0",
            positions={"SPY": "56", "TLT": "25", "GLD": "19"},
            prices={"SPY": "100", "TLT": "100", "GLD": "100"},
        )
        result = plan(pf, snap)
        assert result.item("SPY").action == TradeAction.SELL
        assert result.item("TLT").action == TradeAction.BUY
        assert result.item("GLD").action == TradeAction.BUY

    def test_a_new_target_lifts_the_corridor(self) -> None:
        pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}, threshold="0.5"))
        prices = {"SPY": "100", "TLT": "100", "GLD": "100"}
        snap = snapshot(cash="0", positions={"SPY": "60", "GLD": "40"}, prices=prices)
        result = plan(pf, snap)
        assert result.item("GLD").full_liquidation
        assert result.item("SPY").action == TradeAction.SELL
        assert result.item("TLT").action == TradeAction.BUY

    def test_threshold_is_in_the_strategys_own_units(self) -> None:
        # a.clj has 25% of the portfolio and a 10-point corridor: a 2-point portfolio drift on its own
        # symbol is an 8-point drift in its sleeve (inside); b.clj has no corridor and trades.
        pf = portfolio(
            signal("a.clj", "0.25", {"SPY": "1"}, threshold="0.10"),
            signal("b.clj", "0.75", {"TLT": "1"}),
        )
        snap = snapshot(cash="0", positions={"SPY": "27", "TLT": "73"}, prices={"SPY": "100", "TLT": "100"})
        result = plan(pf, snap)
        assert result.item("SPY").action == TradeAction.HOLD and "corridor" in result.item("SPY").reason
        assert result.item("TLT").action == TradeAction.HOLD  # nothing to buy with: SPY is not sold
        # a 3-point portfolio drift is 12 sleeve points: outside
        snap = snapshot(cash="0", positions={"SPY": "28", "TLT": "72"}, prices={"SPY": "100", "TLT": "100"})
        result = plan(pf, snap)
        assert result.item("SPY").action == TradeAction.SELL
        assert result.item("TLT").action == TradeAction.BUY

    def test_shared_symbol_holds_only_when_every_owner_holds(self) -> None:
        pf = portfolio(
            signal("a.clj", "0.5", {"SPY": "1"}, threshold="0.2"),
            signal("b.clj", "0.5", {"SPY": "0.5", "TLT": "0.5"}),
        )
        snap = snapshot(cash="0", positions={"SPY": "80", "TLT": "20"}, prices={"SPY": "100", "TLT": "100"})
        result = plan(pf, snap)
        assert result.item("SPY").action == TradeAction.SELL  # b.clj has no corridor

    def test_corridors_can_be_switched_off(self) -> None:
        pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}, threshold="0.05"))
        snap = snapshot(cash="0", positions={"SPY": "54", "TLT": "46"}, prices={"SPY": "100", "TLT": "100"})
        result = plan(pf, snap, use_corridors=False)
        assert result.item("SPY").action == TradeAction.SELL


@pytest.mark.parametrize(
    "config",
    [
        {"deployment_fraction": D(0)},
        {"deployment_fraction": D("1.1")},
        {"cash_buffer": D(-1)},
        {"min_trade_value": D(-1)},
    ],
)
def test_config_rejects_nonsense(config: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError):
        PlannerConfig(**config)


def test_a_fifteen_dollar_leg_is_skipped_by_default_and_reported_as_such() -> None:
    """The default minimum trade value keeps $15 orders off the book (they cost more than they correct)."""
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}))
    snap = snapshot(cash="30", positions={"SPY": "500", "TLT": "1000"}, prices={"SPY": "100", "TLT": "50"})
    result = RebalancePlanner().plan(pf, snap, correlation_id=CID)  # each is $15 under target
    for item in result.items:
        assert item.action == TradeAction.HOLD, item
        assert item.skipped_trade_value == D(15)
        assert "minimum trade value" in item.reason


def test_the_minimum_trade_value_is_configurable() -> None:
    pf = portfolio(signal("a.clj", "1", {"SPY": "0.5", "TLT": "0.5"}))
    snap = snapshot(cash="30", positions={"SPY": "500", "TLT": "1000"}, prices={"SPY": "100", "TLT": "50"})
    result = plan(pf, snap, min_trade_value=D(10))
    assert [item.action for item in result.items] == [TradeAction.BUY, TradeAction.BUY]
    assert all(item.skipped_trade_value is None for item in result.items)


def test_the_deployed_minimum_trade_value_comes_from_min_trade_value() -> None:
    from the_alchemiser.portfolio_v2.core.planner import DEFAULT_MIN_TRADE_VALUE
    from the_alchemiser.portfolio_v2.wiring import planner_config_from
    from the_alchemiser.shared.config.settings import Settings

    assert planner_config_from(Settings(MIN_TRADE_VALUE="12.5")).min_trade_value == D("12.5")  # type: ignore[call-arg]
    unset = planner_config_from(Settings())
    assert unset.min_trade_value == DEFAULT_MIN_TRADE_VALUE and unset.deployment_fraction == D("0.995")
