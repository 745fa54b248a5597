"""Exactly-once execution against the local paper broker (real alpaca-py over HTTP) and DynamoDB Local.

- a handler that crashes after any order placement (and at the ledger's writes: the intent before an
  order, an item's final state, the buy phase's sizing, the outcome events), then gets the message again,
  ends with exactly the orders (and fills, positions, cash, ledger, results) of an uninterrupted run;
- the same message delivered five times (one after another, and all at once) places each order once;
- a sell that fails blocks the buys beyond the cash it would have freed.

The crash is injected at the ports: after the trigger, every broker and ledger call of the dying
delivery raises, as if the process had gone (threads still working stop at their next call).

Determinism for the drill: inside-spread limit orders never fill (probability 0) and the simulated clock
does not move (VirtualWaitClock), so fills come only from crossing the far touch (at most
`displayed_size` = 4 shares per match: partial fills) and from the market step."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.sim_broker import (
    FIXTURE_RATE_LIMIT,
    SIM_API_KEY,
    SIM_CLOCK_START,
    SIM_SECRET_KEY,
    fast_retry,
)
from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.plans import buy, planned, sell
from tests.support.execution_v2.sim_support import (
    Crash,
    DyingBroker,
    DyingLedger,
    LedgerCrashPoint,
    holdings,
    market_buy,
    our_orders,
    run_handler,
    step_names,
)
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.dynamodb_local import DynamoDBLocal
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle, start_sim_broker
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import OrderRequest, OrderSide, OrderType, TimeInForce
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned, TradeExecuted, WorkflowCompleted
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.schemas import ExecutionStatus, OrderOutcome, RebalancePlanItem

pytestmark = pytest.mark.dynamodb_local
D = Decimal
OK = {"batchItemFailures": []}
FAILED = {"batchItemFailures": [{"itemIdentifier": "m-1"}]}

# midpoint, then the far touch, then market: every kind of step with few orders
DRILL_CONFIG = ExecutionConfig(
    limit_step_fractions=(D(0), D(1)),
    step_wait_seconds=2,
    poll_interval_seconds=1,
    market_wait_seconds=2,
    cancel_wait_seconds=2,
    max_workers=4,
)
DRILL_PRICES = {"SPY": D("500"), "QQQ": D("430"), "TLT": D("92"), "GLD": D("215"), "BIL": D("91.50")}
# orders the uninterrupted drill places (checked on the reference run, so a change of the walk that
# changes the count fails loudly instead of silently leaving crash points untried)
DRILL_PLACEMENTS = 12


def drill_items() -> list[RebalancePlanItem]:
    return [
        sell("QQQ", "6", "430", held="9"),  # 4 at the far touch, 2 at market
        sell("TLT", "3.4", "92", held="3.4", full=True),  # the plan saw 3.4; 3.5 are held and all go
        buy("SPY", "5", "500"),  # 4 at the far touch, 1 at market
        buy("GLD", "3", "215"),
        buy("BIL", "2.5", "91.50"),  # fractional
    ]


def start_drill_broker(start: Callable[..., SimBrokerHandle]) -> tuple[SimBrokerHandle, AlpacaBroker]:
    handle = start(price_source=DictPriceSource(DRILL_PRICES))
    broker = AlpacaBroker(
        SIM_API_KEY,
        SIM_SECRET_KEY,
        paper=True,
        base_url=handle.base_url,
        data_url=handle.base_url,
        retry=fast_retry(),
    )
    handle.set_fill_behaviour(inside_fill_probability=0.0, displayed_size=4)
    market_buy(broker, "QQQ", "9", "setup-qqq")  # crosses 4 + 4 + 1: three matches at placement
    market_buy(broker, "TLT", "3.5", "setup-tlt")
    return handle, broker


def drill_event(correlation_id: str, handle: SimBrokerHandle) -> RebalancePlanned:
    return planned(drill_items(), correlation_id=correlation_id, trading_date=handle.now().astimezone(NEW_YORK).date())


def drill_service(
    broker: Any, ledger: Any, publisher: InMemoryPublisher, *, start: datetime | None = None
) -> ExecutionService:
    return ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock(start), config=DRILL_CONFIG)


def after_a_dead_deliverys_lease() -> datetime:
    """SQS redelivers a dead invocation's message after the queue's visibility timeout (900 s), long after
    that invocation's deadline (its Lambda timeout, 150 s) and so its plan lease have passed."""
    return datetime.now(UTC) + timedelta(seconds=900)


def names_for(correlation_id: str) -> dict[str, tuple[str, str, int]]:
    return step_names(correlation_id, DRILL_PRICES, DRILL_CONFIG)


def ledgered(ledger: DynamoTradeLedger, correlation_id: str) -> list[tuple[Any, ...]]:
    names = names_for(correlation_id)
    return sorted(
        (*names[o.client_order_id], o.status, o.filled_qty, o.avg_fill_price)
        for o in ledger.orders_for_correlation(correlation_id)
    )


def results(event: TradeExecuted) -> list[tuple[Any, ...]]:
    return [
        (r.symbol, r.side, r.outcome, r.requested_qty, r.filled_qty, r.avg_fill_price, r.steps)
        for r in event.execution_data.orders
    ]


@dataclass(frozen=True)
class Reference:
    orders: list[tuple[Any, ...]]
    holdings: tuple[dict[str, Decimal], Decimal]
    ledger: list[tuple[Any, ...]]
    results: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Drill:
    ledger: DynamoTradeLedger
    reference: Reference


@pytest.fixture(scope="module")
def drill(dynamodb_local: DynamoDBLocal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """One ledger table for the module's runs (each under its own correlation id) and the reference:
    the drill plan executed without interruption."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = unique_name("exec-drill")
    create_ledger_table(client, name)
    ledger = DynamoTradeLedger(client, name)
    state: Path = tmp_path_factory.mktemp("drill-reference") / "sim.sqlite"

    def start(**kwargs: Any) -> SimBrokerHandle:
        return start_sim_broker(
            state,
            clock_start=SIM_CLOCK_START,
            rate_limit_per_minute=FIXTURE_RATE_LIMIT,
            api_key=SIM_API_KEY,
            secret_key=SIM_SECRET_KEY,
            **kwargs,
        )

    handle, broker = start_drill_broker(start)
    try:
        publisher = InMemoryPublisher()
        correlation_id = "drill-reference"
        assert run_handler(drill_service(broker, ledger, publisher), drill_event(correlation_id, handle)) == OK
        orders = our_orders(broker, names_for(correlation_id))
        [traded] = publisher.of_type(TradeExecuted)
        assert isinstance(traded, TradeExecuted)
        assert traded.execution_data.status == ExecutionStatus.SUCCESS
        assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]
        # the walk really walked: a cancelled limit step that partially filled at the far touch, market
        # orders for the rest, and the whole fractional position sold
        kinds = {(o[3], o[6]) for o in orders}
        assert ("limit", "canceled") in kinds and ("market", "filled") in kinds
        assert any(o[3] == "limit" and o[6] == "canceled" and o[7] > 0 for o in orders)
        positions, cash = holdings(broker)
        assert "TLT" not in positions and positions["QQQ"] == D(3)
        assert len(orders) == DRILL_PLACEMENTS, orders
        reference = Reference(orders, (positions, cash), ledgered(ledger, correlation_id), results(traded))
    finally:
        handle.stop()
    yield Drill(ledger=ledger, reference=reference)


def fresh_broker(
    sim_broker_factory: Callable[..., SimBrokerHandle],
) -> tuple[SimBrokerHandle, AlpacaBroker]:
    return start_drill_broker(sim_broker_factory)


def assert_same_as_reference(drill: Drill, broker: AlpacaBroker, correlation_id: str) -> None:
    reference = drill.reference
    assert our_orders(broker, names_for(correlation_id)) == reference.orders
    assert holdings(broker) == reference.holdings
    assert ledgered(drill.ledger, correlation_id) == reference.ledger


def assert_never_resubmitted(handle: SimBrokerHandle) -> None:
    """Every order id was looked up before it was sent: no placement bounced off the broker as a duplicate
    (a duplicate would be caught and resumed too, but only a racing delivery has an excuse for sending one)."""
    assert [r.status for r in handle.requests("/v2/orders", "POST") if r.status >= 400] == []


def assert_reported_once(publisher: InMemoryPublisher, reference: Reference) -> None:
    """Outcome events: one TradeExecuted and one WorkflowCompleted by event id (a re-send after a crash
    between publishing and recording it carries the same id, so consumers drop it), with the reference's
    results."""
    by_id = {e.event_id: e for e in publisher.events}
    assert sorted(e.event_type for e in by_id.values()) == ["TradeExecuted", "WorkflowCompleted"]
    for event in by_id.values():
        if isinstance(event, TradeExecuted):
            assert results(event) == reference.results
        else:
            assert isinstance(event, WorkflowCompleted) and event.success


BROKER_CRASHES = [pytest.param(("broker", k), id=f"after-placement-{k}") for k in range(1, DRILL_PLACEMENTS + 1)]
LEDGER_CRASHES: list[Any] = [
    pytest.param(("ledger", ("intent", 1, "after")), id="intent-recorded-order-not-placed-1"),
    pytest.param(("ledger", ("intent", DRILL_PLACEMENTS // 2, "after")), id="intent-recorded-order-not-placed-mid"),
    pytest.param(("ledger", ("intent", DRILL_PLACEMENTS, "after")), id="intent-recorded-order-not-placed-last"),
    *[pytest.param(("ledger", ("item_done", k, "after")), id=f"after-item-{k}-finished") for k in range(1, 6)],
    pytest.param(("ledger", ("resolve_phase:buy", 1, "after")), id="after-buys-sized"),
    pytest.param(("ledger", ("mark_published:TradeExecuted", 1, "before")), id="trade-executed-sent-not-noted"),
    pytest.param(("ledger", ("mark_completed", 1, "before")), id="outcome-sent-not-completed"),
]


@pytest.mark.parametrize("crash_point", BROKER_CRASHES + LEDGER_CRASHES)
def test_a_crash_then_redelivery_ends_exactly_like_an_uninterrupted_run(
    crash_point: tuple[str, Any], drill: Drill, sim_broker_factory: Callable[..., SimBrokerHandle]
) -> None:
    handle, broker = fresh_broker(sim_broker_factory)
    kind, where = crash_point
    correlation_id = f"drill-{kind}-{where if kind == 'broker' else '-'.join(map(str, where))}"
    event = drill_event(correlation_id, handle)
    publisher = InMemoryPublisher()

    crash = Crash()
    dying_broker = DyingBroker(broker, crash, after_placement=where if kind == "broker" else 0)
    ledger_point: LedgerCrashPoint | None = where if kind == "ledger" else None
    dying_ledger = DyingLedger(drill.ledger, crash, ledger_point)
    assert run_handler(drill_service(dying_broker, dying_ledger, publisher), event) == FAILED
    assert crash.tripped is not None, "the crash point was never reached"

    redelivery = drill_service(broker, drill.ledger, publisher, start=after_a_dead_deliverys_lease())
    assert run_handler(redelivery, event, receive_count=2) == OK
    assert_same_as_reference(drill, broker, correlation_id)
    assert_never_resubmitted(handle)
    assert_reported_once(publisher, drill.reference)


def test_the_same_message_five_times_places_each_order_once(
    drill: Drill, sim_broker_factory: Callable[..., SimBrokerHandle]
) -> None:
    handle, broker = fresh_broker(sim_broker_factory)
    event = drill_event("drill-five-in-a-row", handle)
    publisher = InMemoryPublisher()
    for delivery in range(1, 6):
        assert run_handler(drill_service(broker, drill.ledger, publisher), event, receive_count=delivery) == OK
    assert_same_as_reference(drill, broker, "drill-five-in-a-row")
    assert_never_resubmitted(handle)
    placements = [r for r in handle.requests("/v2/orders", "POST")]
    assert len(placements) == DRILL_PLACEMENTS + 2  # + the two setup orders: nothing re-sent
    assert [e.event_type for e in publisher.events] == ["TradeExecuted", "WorkflowCompleted"]


def test_five_simultaneous_deliveries_place_each_order_once(
    drill: Drill, sim_broker_factory: Callable[..., SimBrokerHandle]
) -> None:
    handle, broker = fresh_broker(sim_broker_factory)
    event = drill_event("drill-five-at-once", handle)
    publisher = InMemoryPublisher()
    barrier = threading.Barrier(5)
    responses: list[dict[str, Any]] = []

    def deliver(n: int) -> None:
        service = drill_service(broker, drill.ledger, publisher)
        barrier.wait()
        responses.append(run_handler(service, event, receive_count=n))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    # one owns the plan (its lease); the others back off (their record fails: SQS retries them later)
    assert OK in responses and all(r in (OK, FAILED) for r in responses), responses
    for retry in range(responses.count(FAILED)):  # the retries, once the owner is done
        assert run_handler(drill_service(broker, drill.ledger, publisher), event, receive_count=2 + retry) == OK
    assert_same_as_reference(drill, broker, "drill-five-at-once")
    # racing deliveries may each send an outcome, always under the same event ids: consumers dedupe on them
    assert_reported_once(publisher, drill.reference)


def test_a_failed_sell_blocks_buys_beyond_the_cash_it_would_have_freed(
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
    drill: Drill,
) -> None:
    def scenario(sell_fails: bool) -> tuple[TradeExecuted, AlpacaBroker, Decimal, InMemoryPublisher]:
        handle = sim_broker_factory(prices=DRILL_PRICES, initial_cash=D("5400"))
        broker = alpaca_broker_factory(handle)
        market_buy(broker, "QQQ", "10", "setup-qqq")  # ~$4,302: leaves ~$1,098 cash
        if sell_fails:
            # someone else's open order holds the shares: the broker rejects our sell (insufficient qty)
            broker.place_order(
                OrderRequest(
                    symbol="QQQ",
                    side=OrderSide.SELL,
                    type=OrderType.LIMIT,
                    time_in_force=TimeInForce.GTC,
                    qty=D(10),
                    limit_price=D(900),
                    client_order_id="manual-order",
                )
            )
        cash_before = broker.get_account().cash
        # sell QQQ for ~$4,300 and spend it (and the cash) on SPY and GLD: $5,220 of buys
        items = [sell("QQQ", "10", "430", held="10", full=True), buy("SPY", "7", "500"), buy("GLD", "8", "215")]
        event = planned(
            items,
            correlation_id=f"failed-sell-{sell_fails}",
            trading_date=handle.now().astimezone(NEW_YORK).date(),
        )
        publisher = InMemoryPublisher()
        assert run_handler(drill_service(broker, drill.ledger, publisher), event) == OK
        [traded] = publisher.of_type(TradeExecuted)
        assert isinstance(traded, TradeExecuted)
        return traded, broker, cash_before, publisher

    ok, _, ok_cash_before, _ = scenario(sell_fails=False)
    assert ok.execution_data.status == ExecutionStatus.SUCCESS
    assert ok.execution_data.total_buy_value > ok_cash_before + D(3000)  # the sell's cash paid for the buys

    traded, broker, cash_before, publisher = scenario(sell_fails=True)
    by_symbol = {o.symbol: o for o in traded.execution_data.orders}
    assert by_symbol["QQQ"].outcome == OrderOutcome.FAILED and "insufficient qty" in (by_symbol["QQQ"].error or "")
    bought = traded.execution_data.total_buy_value
    assert D(0) < bought <= cash_before  # buys trimmed to the cash actually there, not the plan's
    assert {by_symbol["SPY"].outcome, by_symbol["GLD"].outcome} == {OrderOutcome.FILLED}
    assert "trimmed" in (by_symbol["SPY"].error or "") and "trimmed" in (by_symbol["GLD"].error or "")
    assert broker.get_account().cash >= 0
    positions, _ = holdings(broker)
    assert positions["QQQ"] == D(10)
    ours = [o for o in broker.list_orders(status="all") if o.client_order_id.startswith("alc-")]
    assert not [o for o in ours if o.side == OrderSide.SELL and o.filled_qty > 0]
    completed = publisher.events[-1]
    assert isinstance(completed, WorkflowCompleted) and not completed.success
