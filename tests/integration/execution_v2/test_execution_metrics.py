"""The execution service puts its orders' metrics once per plan (issue 14, Powertools Metrics): placed,
filled, failed (FailedOrdersAlarm's metric) and each filled order's slippage; a redelivery puts none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.fake_broker import FakeBroker
from tests.support.execution_v2.plans import buy, planned
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.broker.errors import OrderRejectedError
from the_alchemiser.shared.broker.models import Order, OrderRequest, Quote
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.metrics import InMemoryMetrics

pytestmark = pytest.mark.dynamodb_local
D = Decimal
FAST = ExecutionConfig(step_wait_seconds=1, poll_interval_seconds=1, market_wait_seconds=2, cancel_wait_seconds=1)


class RejectingBroker(FakeBroker):
    def place_order(self, request: OrderRequest) -> Order:
        if request.symbol == "BAD":
            raise OrderRejectedError("asset BAD is not active", status_code=422)
        return super().place_order(request)


def test_orders_placed_filled_failed_and_slippage_are_put_once(ledger: DynamoTradeLedger) -> None:
    broker = RejectingBroker(quotes={s: Quote(symbol=s, bid=D("99.95"), ask=D("100.05")) for s in ("SPY", "BAD")})
    metrics = InMemoryMetrics()
    service = ExecutionService(
        broker, ledger, InMemoryPublisher(), clock=VirtualWaitClock(), config=FAST, metrics=metrics
    )
    event = planned([buy("SPY", "3", "100"), buy("BAD", "2", "100")])
    result = service.execute(event)
    assert metrics.values("OrdersPlaced") == [result.orders_placed]
    assert metrics.values("OrdersFilled") == [1]
    assert metrics.values("OrdersFailed") == [1]
    assert len(metrics.values("SlippageBps")) == 1
    service.execute(event)  # a redelivery of the finished plan
    assert metrics.values("OrdersFailed") == [1]


def test_a_plan_given_up_on_its_last_delivery_puts_its_orders_once(ledger: DynamoTradeLedger) -> None:
    """The last delivery's WorkflowFailed reports what executed: FailedOrdersAlarm counts those orders too."""
    broker = RejectingBroker(quotes={s: Quote(symbol=s, bid=D("99.95"), ask=D("100.05")) for s in ("SPY", "BAD")})
    metrics = InMemoryMetrics()
    service = ExecutionService(
        broker, ledger, InMemoryPublisher(), clock=VirtualWaitClock(), config=FAST, metrics=metrics
    )
    event = planned([buy("SPY", "3", "100"), buy("BAD", "2", "100")])
    service.report_failure(event, RuntimeError("the invocation kept failing"))
    assert metrics.values("OrdersPlaced") == [0]
    assert metrics.values("OrdersFailed") == [2]  # neither item executed: both are reported failed
    service.report_failure(event, RuntimeError("a straggling duplicate"))
    assert metrics.values("OrdersFailed") == [2]
