"""Market conditions on the local paper broker (real alpaca-py over HTTP) and DynamoDB Local: fills that race
the cancel (both kinds Alpaca shows), a halted symbol, and a closed market."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal

import pytest

from tests.support.execution_v2.plans import buy, planned, sell
from tests.support.execution_v2.sim_support import holdings, market_buy, run_handler
from the_alchemiser.execution_v2.clock import SimulatedMarketWaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import InMemoryPublisher, TradeExecuted, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.schemas import ExecutionStatus, OrderOutcome

pytestmark = pytest.mark.dynamodb_local
D = Decimal
OK = {"batchItemFailures": []}
CONFIG = ExecutionConfig(step_wait_seconds=2, poll_interval_seconds=1, market_wait_seconds=3, cancel_wait_seconds=3)


def execute(handle: SimBrokerHandle, broker: AlpacaBroker, ledger: DynamoTradeLedger, items: list) -> InMemoryPublisher:  # type: ignore[type-arg]
    publisher = InMemoryPublisher()
    service = ExecutionService(
        broker, ledger, publisher, clock=SimulatedMarketWaitClock(handle.base_url), config=CONFIG
    )
    event = planned(items, trading_date=handle.now().astimezone(NEW_YORK).date())
    assert run_handler(service, event) == OK
    return publisher


def traded_of(publisher: InMemoryPublisher) -> TradeExecuted:
    [event] = publisher.of_type(TradeExecuted)
    assert isinstance(event, TradeExecuted)
    return event


@pytest.mark.parametrize("race", ["cancel_race", "cancel_fill_race"])
def test_a_fill_racing_the_cancel_is_counted_and_nothing_more_is_placed(
    race: str,
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
    ledger: DynamoTradeLedger,
) -> None:
    """cancel_race: the remainder fills first and the cancel gets 422. cancel_fill_race: the cancel is
    acknowledged (pending_cancel) and the remainder fills before it lands. Either way the midpoint order
    ends filled, the walk counts it and places nothing more: exactly the planned quantities trade."""
    handle = sim_broker_factory()
    broker = alpaca_broker_factory(handle)
    market_buy(broker, "QQQ", "9", "setup-qqq")
    handle.set_fill_behaviour(inside_fill_probability=0.0, **{race: True})  # only the race fills the midpoint
    posts_before = len(handle.requests("/v2/orders", "POST"))

    publisher = execute(handle, broker, ledger, [sell("QQQ", "6", "430", held="9"), buy("SPY", "5", "500")])

    result = traded_of(publisher).execution_data
    assert result.status == ExecutionStatus.SUCCESS
    assert [(o.symbol, o.outcome, o.filled_qty, o.steps) for o in result.orders] == [
        ("QQQ", OrderOutcome.FILLED, D(6), 1),
        ("SPY", OrderOutcome.FILLED, D(5), 1),
    ]
    assert len(handle.requests("/v2/orders", "POST")) == posts_before + 2  # one order each, no re-place
    positions, _ = holdings(broker)
    assert positions == {"QQQ": D(3), "SPY": D(5)}
    statuses = {
        o.symbol: o.status.value for o in broker.list_orders(status="all") if o.client_order_id.startswith("alc-")
    }
    assert statuses == {"QQQ": "filled", "SPY": "filled"}


def test_a_halted_symbol_gets_no_order_and_a_clear_reason(
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
    ledger: DynamoTradeLedger,
) -> None:
    handle = sim_broker_factory()
    broker = alpaca_broker_factory(handle)
    handle.halt("GLD")
    publisher = execute(handle, broker, ledger, [buy("SPY", "2", "500"), buy("GLD", "1", "215")])
    by_symbol = {o.symbol: o for o in traded_of(publisher).execution_data.orders}
    assert by_symbol["GLD"].outcome == OrderOutcome.SKIPPED and "not tradable" in (by_symbol["GLD"].error or "")
    assert by_symbol["SPY"].outcome == OrderOutcome.FILLED
    assert {o.symbol for o in broker.list_orders(status="all")} == {"SPY"}
    completed = publisher.events[-1]
    assert isinstance(completed, WorkflowCompleted) and not completed.success


def test_a_closed_market_places_nothing_and_says_so(
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
    ledger: DynamoTradeLedger,
) -> None:
    handle = sim_broker_factory()
    broker = alpaca_broker_factory(handle)
    day = handle.now().astimezone(NEW_YORK).date()
    handle.set_clock(datetime.combine(day, time(17, 0), tzinfo=NEW_YORK))  # after the close, same day
    publisher = execute(handle, broker, ledger, [buy("SPY", "2", "500")])
    assert broker.list_orders(status="all") == []
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowFailed"]
    failed = publisher.events[-1]
    assert isinstance(failed, WorkflowFailed) and "market closed" in failed.failure_reason
    assert traded_of(publisher).execution_data.orders[0].outcome == OrderOutcome.SKIPPED
