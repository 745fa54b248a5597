"""Each duplicate-handling layer of execution on its own (issue 14, finding 11). The other layers have theirs:
- look-up before placing: test_execution_sim's crash drill (`assert_never_resubmitted`);
- the broker-view remainder and the plan lease: test_concurrent_deliveries;
- outcome events once (deterministic ids + published markers): test_execution_sim's five-in-a-row;
- the lot book once per plan: tests/integration/shared/ledger/test_book_on_dynamodb;
- the adapter's adoption of its own duplicate: tests/shared (alpaca adapter).
This file: the walk's catch of a 422 "client_order_id must be unique" between its look-up and its placement,
and the published markers (an outcome event sent and noted is not sent again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY, fast_retry
from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.concurrency_support import QuoteView, net_fills
from tests.support.execution_v2.fake_broker import FakeBroker
from tests.support.execution_v2.plans import buy, planned
from tests.support.execution_v2.sim_support import Crash, DyingLedger, market_buy, run_handler
from the_alchemiser.execution_v2.book_walk import BookWalker, WalkRequest
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, OrderType, Quote, TimeInForce
from the_alchemiser.shared.events import InMemoryPublisher
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

D = Decimal
CONFIG = ExecutionConfig(
    limit_step_fractions=(D(0), D(1)), step_wait_seconds=2, poll_interval_seconds=1, market_wait_seconds=2
)


class Listener:
    def before_placement(self, step: int, client_order_id: str, request: OrderRequest, quote: Quote | None) -> None: ...

    def order_placed(self, step: int, order: Order) -> None: ...

    def order_settled(self, step: int, order: Order) -> None: ...

    def step_skipped(self, step: int, reason: str) -> None: ...


def test_an_order_placed_under_our_id_between_look_up_and_placement_is_worked_not_failed(
    sim_broker_factory: Callable[..., SimBrokerHandle],
) -> None:
    """Another delivery places step 0 (3 shares at the far touch: they fill) after this walk looked the id up
    and found nothing. Our placement bounces (422, and not the same order, so the adapter does not adopt
    it); the walk's own catch works the order found under the id and places only the 2 left."""
    handle = sim_broker_factory(price_source=DictPriceSource({"SPY": D("500")}))
    broker = AlpacaBroker(
        SIM_API_KEY, SIM_SECRET_KEY, paper=True, base_url=handle.base_url, data_url=handle.base_url, retry=fast_retry()
    )
    market_buy(broker, "SPY", "1", "setup")
    step0 = client_order_id("dup-layer", "SPY", "buy", 0)
    theirs: list[Order] = []

    def the_other_delivery_places_step_0() -> None:
        if not theirs:
            request = OrderRequest(
                symbol="SPY",
                side=OrderSide.BUY,
                type=OrderType.LIMIT,
                time_in_force=TimeInForce.DAY,
                qty=D(3),
                limit_price=D("500.25"),
                client_order_id=step0,
            )
            theirs.append(broker.place_order(request))

    walker = BookWalker(
        QuoteView(broker, "normal", on_quote=the_other_delivery_places_step_0), VirtualWaitClock(), CONFIG
    )
    result = walker.walk(
        WalkRequest(correlation_id="dup-layer", symbol="SPY", side=OrderSide.BUY, qty=D(5), fractionable=True),
        Listener(),
    )
    assert [r.status for r in handle.requests("/v2/orders", "POST")][-3:-1] == [200, 422]  # ours bounced
    assert result.error is None and result.filled_qty == D(5)
    assert net_fills(broker, lambda coid: coid.startswith("alc-")) == {("SPY", "buy"): D(5)}


@pytest.mark.dynamodb_local
def test_a_trade_executed_sent_and_noted_is_not_sent_again_by_the_redelivery(ledger: DynamoTradeLedger) -> None:
    """The published markers on their own: the first delivery dies right after it sent TradeExecuted and
    noted it; the redelivery sends only WorkflowCompleted (the same event id would be deduped by consumers,
    but nothing is sent twice in the first place)."""
    broker = FakeBroker(quotes={"SPY": Quote(symbol="SPY", bid=D("99.95"), ask=D("100.05"))})
    event = planned([buy("SPY", "3", "100")])
    publisher = InMemoryPublisher()
    crash = Crash()
    dying = DyingLedger(ledger, crash, ("mark_published:TradeExecuted", 1, "after"))
    first = ExecutionService(broker, dying, publisher, clock=VirtualWaitClock(), config=CONFIG)  # type: ignore[arg-type]
    assert run_handler(first, event)["batchItemFailures"]
    later = ExecutionService(
        broker, ledger, publisher, clock=VirtualWaitClock(datetime.now(UTC) + timedelta(hours=1)), config=CONFIG
    )
    assert run_handler(later, event, receive_count=2) == {"batchItemFailures": []}
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]
