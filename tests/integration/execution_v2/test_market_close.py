"""The close (issue 14, finding 3): a redelivery that finds the market closed reports what earlier deliveries
placed and filled (the broker's view by order id), not "SKIPPED, 0 filled"; and no order is ever placed
after the close, because the broker's clock is checked before each placement, not only at the start.
Real alpaca-py over HTTP against the local paper broker, DynamoDB Local."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY, fast_retry
from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.concurrency_support import net_fills
from tests.support.execution_v2.plans import buy, planned, sell, sqs_event
from tests.support.execution_v2.sim_support import Crash, DyingBroker, market_buy
from the_alchemiser.execution_v2.clock import SimulatedMarketWaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import process_sqs_event
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.local.sim_broker.engine import parse_time
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import InMemoryPublisher, TradeExecuted, WorkflowFailed
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
    max_workers=1,
)
PRICES = {"SPY": D("500"), "QQQ": D("430"), "GLD": D("215"), "TLT": D("92")}
OK = {"batchItemFailures": []}
FAILED = {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def ours(coid: str) -> bool:
    return coid.startswith("alc-")


def start(factory: Callable[..., SimBrokerHandle], *, displayed_size: int = 4) -> tuple[SimBrokerHandle, AlpacaBroker]:
    handle = factory(price_source=DictPriceSource(PRICES))
    broker = AlpacaBroker(
        SIM_API_KEY, SIM_SECRET_KEY, paper=True, base_url=handle.base_url, data_url=handle.base_url, retry=fast_retry()
    )
    market_buy(broker, "QQQ", "9", "setup-qqq")
    handle.set_fill_behaviour(inside_fill_probability=0.0, displayed_size=displayed_size)
    return handle, broker


def test_a_redelivery_that_finds_the_market_closed_reports_what_earlier_deliveries_filled(
    sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    day = handle.now().astimezone(NEW_YORK).date()
    event = planned(
        [sell("QQQ", "6", "430", held="9"), buy("SPY", "5", "500")],
        correlation_id="closed-redelivery",
        trading_date=day,
    )
    publisher, now = InMemoryPublisher(), datetime.now(UTC)
    # the first delivery dies right after QQQ's third order (midpoint: nothing, far touch: 4, market: 2)
    dying = DyingBroker(broker, Crash(), after_placement=3)
    first = ExecutionService(dying, ledger, publisher, clock=VirtualWaitClock(now), config=CONFIG)
    assert process_sqs_event(sqs_event(event), None, first, None) == FAILED
    assert net_fills(broker, ours) == {("QQQ", "sell"): D(6)}

    handle.set_clock(datetime.combine(day, time(17, 0), tzinfo=NEW_YORK))  # the redelivery comes after the close
    later = ExecutionService(
        broker, ledger, publisher, clock=VirtualWaitClock(now + timedelta(minutes=15)), config=CONFIG
    )
    assert process_sqs_event(sqs_event(event, receive_count=2), None, later, None) == OK
    [traded] = publisher.of_type(TradeExecuted)
    assert isinstance(traded, TradeExecuted)
    by_symbol = {r.symbol: r for r in traded.execution_data.orders}
    # before: QQQ SKIPPED with 0 filled while the broker had sold 6
    assert (by_symbol["QQQ"].outcome, by_symbol["QQQ"].filled_qty) == (OrderOutcome.FILLED, D(6))
    assert len(by_symbol["QQQ"].client_order_ids) == 3
    assert (by_symbol["SPY"].outcome, by_symbol["SPY"].filled_qty) == (OrderOutcome.SKIPPED, D(0))
    assert traded.execution_data.total_sell_value > 0 and not traded.execution_data.market_open
    failed = publisher.events[-1]
    assert isinstance(failed, WorkflowFailed) and "market closed" in failed.failure_reason
    assert net_fills(broker, ours) == {("QQQ", "sell"): D(6)}


def test_no_order_is_placed_after_the_close_even_by_a_delivery_that_started_before_it(
    sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    # far touch fills only 1 share a match: each item walks midpoint (4 s), far touch (4 s), market
    handle, broker = start(sim_broker_factory, displayed_size=1)
    day = handle.now().astimezone(NEW_YORK).date()
    close = datetime.combine(day, time(16, 0), tzinfo=NEW_YORK)
    handle.set_clock(close - timedelta(seconds=12))
    items = [buy("SPY", "2", "500"), buy("GLD", "2", "215"), buy("TLT", "2", "92")]
    event = planned(items, correlation_id="late-start", trading_date=day)
    publisher = InMemoryPublisher()
    service = ExecutionService(
        broker, ledger, publisher, clock=SimulatedMarketWaitClock(handle.base_url), config=CONFIG
    )
    assert process_sqs_event(sqs_event(event), None, service, None) == OK
    placed = [o for o in handle.all_orders() if ours(o["client_order_id"])]
    assert placed, "the delivery started before the close and placed something"
    late = [(o["symbol"], o["submitted_at"]) for o in placed if parse_time(o["submitted_at"]) >= close]
    assert late == []  # before: the later items' orders went in after 16:00 (accepted, queued for tomorrow)
    assert [o for o in broker.list_orders(status="open") if ours(o.client_order_id)] == []
    [traded] = publisher.of_type(TradeExecuted)
    assert isinstance(traded, TradeExecuted)
    filled = {r.symbol: r.filled_qty for r in traded.execution_data.orders}
    assert filled == {s: net_fills(broker, ours).get((s, "buy"), D(0)) for s in ("SPY", "GLD", "TLT")}
    assert not traded.execution_data.market_open
    failed = publisher.events[-1]
    assert isinstance(failed, WorkflowFailed) and "market closed" in failed.failure_reason
