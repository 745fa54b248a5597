"""Every way of giving up leaves nothing working and reports exactly what filled (issue 14, finding 2).

Out of time (any delivery), a worker failing (the others abort), the last delivery: the plan's working
orders are cancelled, waited for until terminal, and their fills counted; on the last delivery the
WorkflowFailed carries exactly what the broker filled, item by item. Real alpaca-py over HTTP against the
local paper broker, DynamoDB Local."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY, fast_retry
from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.concurrency_support import net_fills
from tests.support.execution_v2.plans import buy, planned, sell, sqs_event
from tests.support.execution_v2.sim_support import market_buy
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import MAX_RECEIVE_COUNT, process_sqs_event
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import Order, OrderRequest, Quote
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned, WorkflowFailed
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.schemas import OrderOutcome

pytestmark = pytest.mark.dynamodb_local
D = Decimal
CONFIG = ExecutionConfig(
    limit_step_fractions=(D(0), D(1)),
    step_wait_seconds=4,
    poll_interval_seconds=1,
    market_wait_seconds=2,
    cancel_wait_seconds=2,
    max_workers=4,
)
PRICES = {"SPY": D("500"), "QQQ": D("430"), "GLD": D("215")}
OURS: Callable[[str], bool] = lambda coid: coid.startswith("alc-")  # noqa: E731
OK = {"batchItemFailures": []}
FAILED = {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def start(factory: Callable[..., SimBrokerHandle]) -> tuple[SimBrokerHandle, AlpacaBroker]:
    handle = factory(price_source=DictPriceSource(PRICES))
    broker = AlpacaBroker(
        SIM_API_KEY, SIM_SECRET_KEY, paper=True, base_url=handle.base_url, data_url=handle.base_url, retry=fast_retry()
    )
    market_buy(broker, "QQQ", "9", "setup-qqq")
    # limits inside the spread never fill; the far touch shows 4: step 1 fills 4 of 5 and the rest rests
    handle.set_fill_behaviour(inside_fill_probability=0.0, displayed_size=4)
    return handle, broker


def event_for(handle: SimBrokerHandle, correlation_id: str) -> RebalancePlanned:
    items = [sell("QQQ", "6", "430", held="9"), buy("SPY", "5", "500"), buy("GLD", "3", "215")]
    return planned(items, correlation_id=correlation_id, trading_date=handle.now().astimezone(NEW_YORK).date())


class Counting:
    """The broker port, counting placements (time runs out after the n-th)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.placed = 0

    def place_order(self, request: OrderRequest) -> Order:
        order: Order = self._inner.place_order(request)
        self.placed += 1
        return order

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Context:
    """A Lambda context with plenty of time until `placements` orders are out, then 10 s (inside the margin)."""

    def __init__(self, broker: Counting, placements: int) -> None:
        self._broker = broker
        self._placements = placements

    def get_remaining_time_in_millis(self) -> int:
        return 120_000 if self._broker.placed < self._placements else 10_000


def working(broker: AlpacaBroker) -> list[Order]:
    return [o for o in broker.list_orders(status="open") if OURS(o.client_order_id)]


def fills_by_item(broker: AlpacaBroker) -> dict[str, Decimal]:
    return {symbol: qty for (symbol, _), qty in net_fills(broker, OURS).items()}


def reported(event: WorkflowFailed) -> dict[str, Decimal]:
    return {r.symbol: r.filled_qty for r in event.execution_data.orders if r.filled_qty > 0}


def service(broker: Any, ledger: DynamoTradeLedger, publisher: InMemoryPublisher, at: datetime) -> ExecutionService:
    return ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock(at), config=CONFIG)


# the drill's placements: QQQ mid (rests), QQQ far touch (4 fill, 2 rest), QQQ market (2), then the buys
@pytest.mark.parametrize("placements", [1, 2, 4, 5])
def test_running_out_of_time_leaves_nothing_working_and_the_redelivery_finishes_exactly(
    placements: int, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, f"out-of-time-{placements}")
    counting, publisher, now = Counting(broker), InMemoryPublisher(), datetime.now(UTC)
    context = Context(counting, placements)
    assert process_sqs_event(sqs_event(event), context, service(counting, ledger, publisher, now), None) == FAILED
    assert placements <= counting.placed <= placements + 1  # the buys are worked two at once
    assert working(broker) == []  # before: the resting limit order was left `new`
    again = service(broker, ledger, publisher, now + timedelta(minutes=15))
    assert process_sqs_event(sqs_event(event, receive_count=2), None, again, None) == OK
    assert fills_by_item(broker) == {"QQQ": D(6), "SPY": D(5), "GLD": D(3)}


@pytest.mark.parametrize("placements", [2, 4, 5])
def test_out_of_time_on_the_last_delivery_cancels_counts_and_reports_exactly(
    placements: int, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, f"last-out-of-time-{placements}")
    counting, publisher, now = Counting(broker), InMemoryPublisher(), datetime.now(UTC)
    last = sqs_event(event, receive_count=MAX_RECEIVE_COUNT)
    assert (
        process_sqs_event(last, Context(counting, placements), service(counting, ledger, publisher, now), None)
        == FAILED
    )
    assert working(broker) == []
    [failed] = publisher.of_type(WorkflowFailed)
    assert isinstance(failed, WorkflowFailed)
    assert reported(failed) == fills_by_item(broker)  # before: every item "not executed", 0 filled
    outcomes = {r.symbol: r.outcome for r in failed.execution_data.orders}
    assert outcomes["QQQ"] in (OrderOutcome.PARTIALLY_FILLED, OrderOutcome.FILLED, OrderOutcome.FAILED)
    # the plan is given up: a straggling duplicate of the message trades nothing more
    before = fills_by_item(broker)
    late = service(broker, ledger, publisher, now + timedelta(minutes=15))
    process_sqs_event(sqs_event(event, receive_count=1, message_id="m-2"), None, late, None)
    assert fills_by_item(broker) == before


class FailingWorker:
    """GLD's worker fails (a broker error nobody handles) while SPY's limit order rests at the broker."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._spy_resting = threading.Event()
        self._gld_failed = threading.Event()

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        if "GLD" in symbols and len(symbols) == 1:
            self._spy_resting.wait(timeout=10)
            self._gld_failed.set()
            raise RuntimeError("GLD: an unexpected broker answer")
        quotes: dict[str, Quote] = self._inner.get_latest_quotes(symbols)
        return quotes

    def get_order(self, order_id: str) -> Order:
        order: Order = self._inner.get_order(order_id)
        if order.symbol == "SPY" and not order.is_terminal:
            self._spy_resting.set()
            self._gld_failed.wait(timeout=10)
            time.sleep(0.3)  # the phase sees GLD's failure and aborts SPY's walk
        return order

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("receive_count", [1, MAX_RECEIVE_COUNT])
def test_a_failing_worker_aborts_the_others_and_leaves_nothing_working(
    receive_count: int, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    event = planned(
        [buy("SPY", "5", "500"), buy("GLD", "3", "215")],
        correlation_id=f"abort-{receive_count}",
        trading_date=handle.now().astimezone(NEW_YORK).date(),
    )
    publisher = InMemoryPublisher()
    failing = service(FailingWorker(broker), ledger, publisher, datetime.now(UTC))
    assert process_sqs_event(sqs_event(event, receive_count=receive_count), None, failing, None) == FAILED
    assert [o.symbol for o in broker.list_orders(status="all") if OURS(o.client_order_id)] == ["SPY"]
    assert working(broker) == []  # before: SPY's midpoint order stayed `new`
    if receive_count == MAX_RECEIVE_COUNT:
        [failed] = publisher.of_type(WorkflowFailed)
        assert isinstance(failed, WorkflowFailed)
        assert reported(failed) == fills_by_item(broker)
        assert "GLD: an unexpected broker answer" in failed.failure_reason
