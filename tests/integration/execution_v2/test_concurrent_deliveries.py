"""Two (or five) deliveries of one plan at the same time, each seeing a different market, never trade more
than the plan (issue 14, finding 1). Real alpaca-py over HTTP against the local paper broker, DynamoDB Local.

Before the fix a delivery that saw an empty quote skipped the limit steps and went to market with the whole
quantity while the other walked the book under its own step ids: a plan to buy 5 bought 9 or 10."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY, fast_retry
from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.concurrency_support import (
    QUOTE_MODES,
    DeliveryPlan,
    NoLease,
    QuoteView,
    net_fills,
    run_concurrently,
)
from tests.support.execution_v2.plans import buy, planned, sell, sqs_event
from tests.support.execution_v2.sim_support import market_buy
from the_alchemiser.execution_v2.book_walk import BookWalker, WalkRequest
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import process_sqs_event
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, OrderType, TimeInForce
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

pytestmark = pytest.mark.dynamodb_local
D = Decimal
CONFIG = ExecutionConfig(
    limit_step_fractions=(D(0), D(1)),
    step_wait_seconds=2,
    poll_interval_seconds=1,
    market_wait_seconds=2,
    cancel_wait_seconds=2,
    max_workers=4,
)
PRICES = {"SPY": D("500"), "QQQ": D("430"), "GLD": D("215"), "BIL": D("91.50")}
PLANNED = {("QQQ", "sell"): D(6), ("SPY", "buy"): D(5), ("GLD", "buy"): D(3), ("BIL", "buy"): D("2.5")}
OURS: Callable[[str], bool] = lambda coid: coid.startswith("alc-")  # noqa: E731


def start(
    factory: Callable[..., SimBrokerHandle], *, displayed_size: int = 4, inside: float = 0.0, seed: int = 7
) -> tuple[SimBrokerHandle, AlpacaBroker]:
    handle = factory(price_source=DictPriceSource(PRICES))
    broker = AlpacaBroker(
        SIM_API_KEY, SIM_SECRET_KEY, paper=True, base_url=handle.base_url, data_url=handle.base_url, retry=fast_retry()
    )
    market_buy(broker, "QQQ", "9", "setup-qqq")
    handle.set_fill_behaviour(inside_fill_probability=inside, displayed_size=displayed_size, seed=seed)
    return handle, broker


def event_for(handle: SimBrokerHandle, correlation_id: str) -> RebalancePlanned:
    items = [
        sell("QQQ", "6", "430", held="9"),
        buy("SPY", "5", "500"),
        buy("GLD", "3", "215"),
        buy("BIL", "2.5", "91.50"),
    ]
    return planned(items, correlation_id=correlation_id, trading_date=handle.now().astimezone(NEW_YORK).date())


@pytest.mark.parametrize("other", ["empty", "one_sided_bid", "one_sided_ask"])
def test_two_deliveries_at_once_one_seeing_no_usable_quote_trade_exactly_the_plan(
    other: str, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, f"two-at-once-{other}")
    outcome = run_concurrently(
        broker, ledger, InMemoryPublisher(), CONFIG, event, [DeliveryPlan(quotes=other), DeliveryPlan()]
    )
    assert not outcome.responses[-1]["batchItemFailures"], outcome
    assert net_fills(broker, OURS) == PLANNED


def test_five_deliveries_at_once_with_divergent_quotes_trade_exactly_the_plan(
    sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, "five-at-once-divergent")
    plans = [DeliveryPlan(quotes=mode) for mode in ("empty", "normal", "one_sided_ask", "wide", "crossed")]
    outcome = run_concurrently(broker, ledger, InMemoryPublisher(), CONFIG, event, plans)
    assert not outcome.responses[-1]["batchItemFailures"], outcome
    assert net_fills(broker, OURS) == PLANNED


TRIALS = 24


def random_delivery(rng: random.Random) -> DeliveryPlan:
    plan = DeliveryPlan(quotes=rng.choice(QUOTE_MODES))
    where = rng.random()
    if where < 0.4:
        plan.crash_after_placement = rng.randint(1, 8)
    elif where < 0.7:
        kind = rng.choice(["intent", "item_done", "resolve_phase:buy", "mark_published:TradeExecuted", "record"])
        plan.ledger_crash = (kind, rng.randint(1, 3), rng.choice(["before", "after"]))
    return plan


@pytest.mark.parametrize("trial", range(TRIALS))
def test_random_quotes_partial_fills_and_crashes_of_either_delivery_trade_exactly_the_plan(
    trial: int, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    rng = random.Random(1400 + trial)
    handle, broker = start(
        sim_broker_factory, displayed_size=rng.randint(1, 6), inside=rng.choice([0.0, 0.3, 0.8]), seed=trial
    )
    event = event_for(handle, f"random-{trial}")
    plans = [random_delivery(rng), random_delivery(rng)]
    outcome = run_concurrently(broker, ledger, InMemoryPublisher(), CONFIG, event, plans)
    assert not outcome.responses[-1]["batchItemFailures"], (plans, outcome)
    assert net_fills(broker, OURS) == PLANNED, (plans, outcome)


@pytest.mark.parametrize("seen", ["empty", "one_sided_bid", "one_sided_ask"])
def test_a_walk_counts_what_another_delivery_placed_under_a_step_it_already_passed(
    seen: str, sim_broker_factory: Callable[..., SimBrokerHandle]
) -> None:
    """The broker-view remainder on its own (no lease, no plan state): the walk looks step 0's id up (nothing
    there), reads an unusable quote and passes over step 0; right then another delivery places step 0 and
    4 of 5 fill. The walk's later placement counts them and places only the 1 left (before: 5 more)."""
    _, broker = start(sim_broker_factory)
    correlation_id = f"walk-broker-view-{seen}"
    step0 = client_order_id(correlation_id, "SPY", "buy", 0)
    placed: list[Order] = []

    def the_other_delivery_places_step_0() -> None:
        if not placed:
            request = OrderRequest(
                symbol="SPY",
                side=OrderSide.BUY,
                type=OrderType.LIMIT,
                time_in_force=TimeInForce.DAY,
                qty=D(5),
                limit_price=D("500.25"),
                client_order_id=step0,
            )
            placed.append(broker.place_order(request))

    walker = BookWalker(QuoteView(broker, seen, on_quote=the_other_delivery_places_step_0), VirtualWaitClock(), CONFIG)
    result = walker.walk(
        WalkRequest(correlation_id=correlation_id, symbol="SPY", side=OrderSide.BUY, qty=D(5), fractionable=True),
        Listener(),
    )
    assert placed and placed[0].filled_qty == D(4)  # the far touch shows 4 (displayed size); the rest rests
    assert net_fills(broker, OURS) == {("SPY", "buy"): D(5)}
    assert result.filled_qty == D(5)
    assert broker.get_order_by_client_id(step0).status.value == "canceled"  # type: ignore[union-attr]


class Listener:
    def before_placement(self, step: int, client_order_id: str, request: OrderRequest, quote: object) -> None: ...

    def order_placed(self, step: int, order: object) -> None: ...

    def order_settled(self, step: int, order: object) -> None: ...

    def step_skipped(self, step: int, reason: str) -> None: ...


def test_a_delivery_that_finds_a_live_lease_backs_off_without_working_the_plan(
    sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    """The lease on its own: while another delivery owns the plan (until its deadline), a second one places
    nothing, fails its record (SQS retries) and asks for the message back when that lease ends."""
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, "leased")
    now = datetime.now(UTC)
    ledger.start_plan(event.correlation_id, event.rebalance_plan.plan_id, "2026-01-01T00:00:00.000000Z")
    assert (
        ledger.acquire_lease(event.correlation_id, "owner-a", expires_at=now.timestamp() + 120, now=now.timestamp())
        is None
    )
    retries: list[float] = []
    publisher = InMemoryPublisher()
    service = ExecutionService(broker, ledger, publisher, clock=VirtualWaitClock(now), config=CONFIG)
    response = process_sqs_event(
        sqs_event(event), None, service, None, retry_later=lambda record, seconds: retries.append(seconds)
    )
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
    assert net_fills(broker, OURS) == {} and publisher.events == []
    assert len(retries) == 1 and 120 <= retries[0] <= 130
    # once the owner is gone (released, or its deadline passed) the next delivery works the plan
    later = ExecutionService(
        broker, ledger, publisher, clock=VirtualWaitClock(now + timedelta(seconds=121)), config=CONFIG
    )
    assert process_sqs_event(sqs_event(event, receive_count=2), None, later, None)["batchItemFailures"] == []
    assert net_fills(broker, OURS) == PLANNED


@pytest.mark.parametrize("trial", range(8))
def test_without_the_lease_two_owners_at_once_still_never_trade_more_than_the_plan(
    trial: int, sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    """The sequence ids on their own (no lease): both deliveries work the plan at the same time, each reading
    its own market; the n-th order of an item is one id, so the broker takes only one of two racing sends."""
    rng = random.Random(2200 + trial)
    _, broker = start(sim_broker_factory, displayed_size=rng.randint(1, 6), inside=rng.choice([0.0, 0.3]), seed=trial)
    handle_day = broker.get_clock().timestamp.astimezone(NEW_YORK).date()
    items = [
        sell("QQQ", "6", "430", held="9"),
        buy("SPY", "5", "500"),
        buy("GLD", "3", "215"),
        buy("BIL", "2.5", "91.50"),
    ]
    event = planned(items, correlation_id=f"no-lease-{trial}", trading_date=handle_day)
    plans = [DeliveryPlan(quotes=rng.choice(QUOTE_MODES)), DeliveryPlan(quotes=rng.choice(QUOTE_MODES))]
    outcome = run_concurrently(broker, NoLease(ledger), InMemoryPublisher(), CONFIG, event, plans)  # type: ignore[arg-type]
    fills = net_fills(broker, OURS)
    assert all(fills.get(key, D(0)) <= qty for key, qty in PLANNED.items()), (plans, fills, outcome)
    assert fills == PLANNED, (plans, fills, outcome)


def test_backing_off_does_not_spend_a_receive_either(
    sim_broker_factory: Callable[..., SimBrokerHandle], ledger: DynamoTradeLedger
) -> None:
    """A duplicate that keeps finding the plan owned must not reach the DLQ (a false alarm): with a requeue
    available the backed-off message goes on as a new one, delayed until the lease ends."""
    handle, broker = start(sim_broker_factory)
    event = event_for(handle, "leased-requeue")
    now = datetime.now(UTC)
    ledger.start_plan(event.correlation_id, event.rebalance_plan.plan_id, "2026-01-01T00:00:00.000000Z")
    ledger.acquire_lease(event.correlation_id, "owner-a", expires_at=now.timestamp() + 120, now=now.timestamp())
    sent: list[tuple[int, int, float]] = []
    service = ExecutionService(broker, ledger, InMemoryPublisher(), clock=VirtualWaitClock(now), config=CONFIG)
    response = process_sqs_event(
        sqs_event(event, receive_count=3),
        None,
        service,
        None,
        requeue=lambda record, failures, resumes, delay=0.0: sent.append((failures, resumes, delay)),
    )
    assert response["batchItemFailures"] == []  # this receive is let go...
    assert len(sent) == 1 and sent[0][:2] == (2, 1) and 120 <= sent[0][2] <= 130  # ...the new one waits
    assert net_fills(broker, OURS) == {}
