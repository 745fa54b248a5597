"""The local day's summary.txt as golden text: every strategy's whole decision path, the plan with its
skipped legs, the executions in placement order, the account and the P&L by strategy.

Regenerate after an intended change with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/local -k golden`."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.support.notifications_v2.scenarios import (
    BOOKED_AT,
    EVENT_TIME,
    TRADING_DATE,
    history_book,
    portfolio,
    signals,
    success_day,
    success_trades,
    today_plan,
)
from tests.unit.notifications_v2.test_golden_emails import check_golden as check_golden_file
from the_alchemiser.local.stack.summary import render_positions, render_summary
from the_alchemiser.notifications_v2.report import build_daily_report
from the_alchemiser.shared.events import (
    BaseEvent,
    RebalancePlanned,
    SignalGenerated,
    TradeExecuted,
    WorkflowStarted,
)
from the_alchemiser.shared.ledger.book import book_plan, fills_of
from the_alchemiser.shared.schemas import RebalancePlan, RebalancePlanItem, TradeAction

GOLDEN = Path(__file__).parent / "golden"
CORRELATION_ID = "corr-success-2026-11-24"


def check_golden(name: str, text: str) -> None:
    check_golden_file(name, text, GOLDEN)


def plan_with_a_skipped_leg() -> RebalancePlan:
    plan = today_plan(CORRELATION_ID, success_trades())
    skipped = RebalancePlanItem(
        symbol="UPRO",
        action=TradeAction.HOLD,
        current_qty=D(0),
        current_value=D(0),
        price=D("15.20"),
        target_weight=D("0.001"),
        target_value=D("15.20"),
        trade_value=D(0),
        fractionable=True,
        reason="buy of 15.20 below the minimum trade value 50.00",
        strategy_attribution={"klm.clj": D(1)},
        skipped_trade_value=D("15.20"),
    )
    return plan.model_copy(update={"items": [*plan.items, skipped]})


def day_events(plan: RebalancePlan) -> list[BaseEvent]:
    scenario = success_day()
    merged = portfolio()
    result = scenario.event.execution_data
    assert result is not None
    common = {"correlation_id": CORRELATION_ID, "timestamp": EVENT_TIME, "source_module": "x", "source_component": "y"}
    return [
        WorkflowStarted(
            **common,
            causation_id="schedule",
            trading_date=TRADING_DATE,
            stage="local",
            session_id="s",
            strategies=merged.strategy_allocations,
            deadline=EVENT_TIME,
        ),
        SignalGenerated(
            **common,
            causation_id="partials",
            session_id="s",
            signals_data=signals(),
            consolidated_portfolio=merged,
            signal_count=3,
        ),
        RebalancePlanned(
            **common,
            causation_id="signal",
            rebalance_plan=plan,
            allocation_comparison={},
            trades_required=True,
            consolidated_portfolio=merged,
        ),
        TradeExecuted(
            **common,
            causation_id="plan",
            execution_data=result.model_copy(update={"orders": list(reversed(result.orders))}),  # buys listed first
            orders_placed=result.orders_placed,
            orders_succeeded=result.orders_succeeded,
        ),
        scenario.event,
    ]


def test_golden_summary_of_a_traded_day() -> None:
    plan = plan_with_a_skipped_leg()
    result = success_day().event.execution_data
    assert result is not None
    book, booking = book_plan(history_book(), plan, fills_of(result), booked_at=BOOKED_AT)
    text = render_summary(day_events(plan), [], build_daily_report(booking, book)) + "\n"
    check_golden("summary_success_day", text)
    for signal in signals():
        for line in signal.trace_summary[1:]:
            assert f"why: {line}\n" in text  # every decision, in full
    execution = text[text.index("Execution:") :]
    assert execution.index("sell BIL") < execution.index("buy  SPY")  # placement order: sells went first
    assert "Equity $20,047.73" in text and "P&L BY STRATEGY" in text
    assert "SKIPPED (1 leg below the minimum trade value, not traded)" in text and "UPRO" in text


def test_golden_positions_view() -> None:
    check_golden("positions_success_day", render_positions(success_day().book, lots=True) + "\n")
