"""The lot book in the ledger table, on the real DynamoDB Local: booked once per plan, versioned, exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.aws import unique_name
from tests.support.portfolio_v2.builders import portfolio, signal, snapshot
from the_alchemiser.portfolio_v2.core.planner import PlannerConfig, RebalancePlanner
from the_alchemiser.shared.ledger.book import Book, book_plan, fills_of
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.schemas import (
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
    RebalancePlan,
    TradeAction,
)

pytestmark = pytest.mark.dynamodb_local
D = Decimal
T0 = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
PLANNER = RebalancePlanner(PlannerConfig(min_trade_value=D(1)))


@pytest.fixture
def ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)


def executed(plan: RebalancePlan, *, market_open: bool = True) -> ExecutionResult:
    """Every trade filled at the plan's price."""
    orders = [
        OrderResult(
            symbol=item.symbol,
            side="buy" if item.action == TradeAction.BUY else "sell",
            outcome=OrderOutcome.FILLED if market_open else OrderOutcome.SKIPPED,
            requested_qty=item.quantity,
            filled_qty=item.quantity if market_open else D(0),
            avg_fill_price=item.price if market_open else None,
            filled_value=(item.quantity or D(0)) * item.price if market_open else D(0),
            client_order_ids=[f"alc-{plan.correlation_id}-{item.symbol}"] if market_open else [],
        )
        for item in plan.trades
    ]
    return ExecutionResult(
        plan_id=plan.plan_id,
        correlation_id=plan.correlation_id,
        status=ExecutionStatus.SUCCESS if market_open else ExecutionStatus.FAILURE,
        orders=orders,
        orders_placed=len(orders),
        orders_succeeded=len(orders),
        total_buy_value=D(0),
        total_sell_value=D(0),
        started_at=T0,
        completed_at=T0,
        market_open=market_open,
    )


def day_one() -> RebalancePlan:
    pf = portfolio(
        signal("nuclear.clj", "0.5", {"TQQQ": "1"}), signal("tecl.clj", "0.5", {"TECL": "0.5", "SPY": "0.5"})
    )
    snap = snapshot(cash="10000", prices={"TQQQ": "50", "TECL": "100", "SPY": "500"})
    return PLANNER.plan(pf, snap, correlation_id="corr-1")


def day_two() -> RebalancePlan:
    pf = portfolio(signal("nuclear.clj", "0.5", {"SHY": "1"}), signal("tecl.clj", "0.5", {"TECL": "1"}))
    snap = snapshot(
        cash="0",
        positions={"TQQQ": "100", "TECL": "25", "SPY": "5"},
        prices={"TQQQ": "55", "TECL": "90", "SPY": "510", "SHY": "80"},
    )
    return PLANNER.plan(pf, snap, correlation_id="corr-2")


def test_a_booked_plan_reads_back_as_the_pure_book(ledger: DynamoTradeLedger) -> None:
    expected = Book()
    for plan in (day_one(), day_two()):
        result = executed(plan)
        booking = ledger.book_plan(plan, result)
        assert booking is not None
        expected, pure = book_plan(expected, plan, fills_of(result), booked_at=booking.booked_at)
        assert booking == pure
        assert ledger.booking(plan.correlation_id) == booking
    assert ledger.load_book() == expected
    assert ledger.load_book().holding("nuclear.clj", "TQQQ").realised == D(500)


def test_a_redelivered_plan_is_booked_once(ledger: DynamoTradeLedger) -> None:
    plan = day_one()
    first = ledger.book_plan(plan, executed(plan))
    book = ledger.load_book()
    again = ledger.book_plan(plan, executed(plan))
    assert again == first
    assert ledger.load_book() == book


def test_concurrent_deliveries_of_one_plan_book_it_once(ledger: DynamoTradeLedger) -> None:
    ledger.book_plan(day_one(), executed(day_one()))
    plan = day_two()
    with ThreadPoolExecutor(max_workers=4) as pool:
        bookings = list(pool.map(lambda _: ledger.book_plan(plan, executed(plan)), range(4)))
    assert all(booking == bookings[0] for booking in bookings)
    book = ledger.load_book()
    assert book.qty("TQQQ") == 0 and book.holding("nuclear.clj", "TQQQ").realised == D(500)
    assert book.last is not None and book.last.correlation_id == "corr-2"


def test_a_closed_market_books_nothing(ledger: DynamoTradeLedger) -> None:
    plan = day_one()
    assert ledger.book_plan(plan, executed(plan, market_open=False)) is None
    assert ledger.booking(plan.correlation_id) is None and ledger.load_book() == Book()
