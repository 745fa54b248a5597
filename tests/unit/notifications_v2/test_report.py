"""The daily CSV report: laid out from the ledger's booking and lot book, money in cents, parsed back."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pandas as pd
import pytest

from tests.support.notifications_v2.helpers import service_for
from tests.support.notifications_v2.scenarios import (
    TRADING_DATE,
    Scenario,
    execution_interrupted,
    hold_day,
    partial_fill_day,
    success_day,
)
from the_alchemiser.notifications_v2.report import REPORT_COLUMNS, build_daily_report, parse_report, report_key
from the_alchemiser.shared.ledger.book import MovementKind


def report_body(scenario: Scenario) -> bytes:
    service, _, store, _ = service_for(scenario)
    result = service.handle_event(scenario.event)
    key = report_key(TRADING_DATE, scenario.event.correlation_id)
    assert result.report_key == key
    return store.objects[key]


def exact(body: bytes, section: str) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    return frame[frame["section"] == section]


@pytest.mark.parametrize("make", [success_day, partial_fill_day, execution_interrupted], ids=lambda m: m.__name__)
def test_csv_parses_back_and_its_trades_are_the_executions(make) -> None:
    scenario = make()
    body = report_body(scenario)
    frame = pd.read_csv(io.BytesIO(body))  # pandas' default parser reads it
    assert tuple(frame.columns) == REPORT_COLUMNS
    trades = exact(body, "trade")
    result = scenario.event.execution_data
    assert result is not None
    for kind, total in (("buy", result.total_buy_value), ("sell", result.total_sell_value)):
        in_csv = sum((D(v) for k, v in zip(trades["kind"], trades["value"], strict=True) if k == kind), D(0))
        assert abs(in_csv - total) <= D("0.01") * len(trades)  # each row in cents
    for order in result.orders:
        if order.filled_qty > 0:
            rows = trades[trades["symbol"] == order.symbol]
            assert sum((D(v) for v in rows["qty"]), D(0)) == order.filled_qty  # shares at full precision
    assert set(trades["correlation_id"]) == {scenario.event.correlation_id}
    assert set(trades["trading_date"]) == {TRADING_DATE.isoformat()}


def test_money_is_in_cents_quantities_at_the_brokers_precision() -> None:
    """report.csv once read 7462.49999997975 and realised 0.00000038624: Decimals, printed as cents."""
    body = report_body(success_day())
    for row in parse_report(body):
        for column in ("value", "cost_basis", "realised_pnl", "market_value", "unrealised_pnl"):
            value = row[column]
            assert value == "" or (value.count(".") == 1 and len(value.split(".")[1]) == 2), (column, value)
        assert len(row["qty"].partition(".")[2]) <= 9


def test_an_exit_is_the_strategy_that_bought_it_and_realises_first_in_first_out() -> None:
    """BIL was nuclear.clj's (history): its sale is nuclear's, not UNATTRIBUTED. TLT: klm bought 20 @ 90
    then 10 @ 93; 5 sold @ 92.10 come out of the 90 lot: +10.50."""
    body = report_body(success_day())
    trades = exact(body, "trade").set_index(["symbol", "strategy"])
    assert "UNATTRIBUTED" not in body.decode()
    bil = trades.loc[("BIL", "nuclear.clj")]
    assert (bil["kind"], bil["value"], bil["cost_basis"], bil["realised_pnl"]) == (
        "sell",
        "2745.00",
        "2730.00",
        "15.00",
    )
    tlt = trades.loc[("TLT", "klm.clj")]
    assert (tlt["qty"], tlt["cost_basis"], tlt["realised_pnl"]) == ("5", "450.00", "10.50")
    spy = trades.xs("SPY", level="symbol")
    assert set(spy.index) == {"nuclear.clj", "tecl.clj"}
    assert sum((D(v) for v in spy["qty"]), D(0)) == D("7.5")


def test_trades_are_listed_in_placement_order_sells_first() -> None:
    body = report_body(success_day())
    kinds = list(exact(body, "trade")["kind"])
    assert kinds == sorted(kinds, key=lambda kind: kind != "sell")


def test_positions_are_each_strategys_lots_after_the_day() -> None:
    scenario = success_day()
    positions = exact(report_body(scenario), "position").set_index(["strategy", "symbol"])
    tlt = positions.loc[("klm.clj", "TLT")]
    # 15 left of the 90 lot and the 10 @ 93 lot, at today's 92.11
    assert (tlt["kind"], tlt["qty"], tlt["lots"], tlt["cost_basis"]) == ("open", "25", "2", "2280.00")
    assert (tlt["market_value"], tlt["unrealised_pnl"], tlt["realised_pnl"]) == ("2302.75", "22.75", "10.50")
    bil = positions.loc[("nuclear.clj", "BIL")]
    assert (bil["kind"], bil["qty"], bil["realised_pnl"]) == ("closed", "0", "15.00")


def test_per_strategy_totals_add_up_to_the_day() -> None:
    scenario = success_day()
    assert scenario.booking is not None
    report = build_daily_report(scenario.booking, scenario.book)
    days = {day.strategy: day for day in report.by_strategy()}
    assert set(days) == {"klm.clj", "nuclear.clj", "tecl.clj"}
    assert sum((day.realised for day in days.values()), D(0)) == report.realised_today == D("25.50")
    bought = sum((m.value for m in scenario.booking.movements if m.kind == MovementKind.BUY), D(0))
    assert sum((day.bought for day in days.values()), D(0)) == bought == D("8001.70")


def test_a_day_without_trades_still_reports_the_positions() -> None:
    body = report_body(hold_day())
    assert exact(body, "trade").empty
    assert set(exact(body, "position")["strategy"]) == {"klm.clj", "nuclear.clj"}


def test_one_report_write_per_outcome_however_the_events_arrive() -> None:
    """TradeExecuted and WorkflowCompleted come from one function with the same data: one write, not two."""
    from tests.integration.notifications_v2.test_lambda_handler import trade_executed_for

    scenario = success_day()
    service, _, store, _ = service_for(scenario)
    writes: list[str] = []
    original = store.put_csv
    store.put_csv = lambda key, body: (writes.append(key), original(key, body))[1]  # type: ignore[method-assign]
    for event in (trade_executed_for(scenario.event), scenario.event, scenario.event):
        service.handle_event(event)
    assert writes == [report_key(TRADING_DATE, scenario.event.correlation_id)]
