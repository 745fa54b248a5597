"""Deliveries of one plan that see different markets, and an SQS-like loop that redelivers until the plan
is done: for the concurrency tests (issue 14, finding 1) and benchmarks/execution_faults.py.

Every delivery talks to the same local paper broker (real alpaca-py over HTTP) and the same DynamoDB Local
ledger; what differs is the quote each one reads (`QuoteView`) and where it may die (`Crash`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.plans import sqs_event
from tests.support.execution_v2.sim_support import Crash, DyingBroker, DyingLedger, LedgerCrashPoint
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import process_sqs_event
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import OrderSide, Quote
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger

D = Decimal
QUOTE_MODES = ("normal", "empty", "one_sided_bid", "one_sided_ask", "crossed", "wide")


class QuoteView:
    """A BrokerPort whose quotes are seen through `mode` (everything else passes through): what one Lambda
    may read while another, a second later, reads a normal book."""

    def __init__(self, inner: Any, mode: str, *, on_quote: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self.mode = mode
        self._on_quote = on_quote

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        quotes: dict[str, Quote] = self._inner.get_latest_quotes(symbols)
        if self._on_quote is not None:
            self._on_quote()
        if self.mode == "normal":
            return quotes
        if self.mode == "empty":
            return {}
        seen: dict[str, Quote] = {}
        for symbol, quote in quotes.items():
            if self.mode == "one_sided_bid":
                seen[symbol] = quote.model_copy(update={"ask": D(0), "ask_size": D(0)})
            elif self.mode == "one_sided_ask":
                seen[symbol] = quote.model_copy(update={"bid": D(0), "bid_size": D(0)})
            elif self.mode == "crossed":
                seen[symbol] = quote.model_copy(update={"bid": quote.ask, "ask": quote.bid})
            else:  # wide: the far touch looks further away than it is, so limit steps cross at once
                spread = quote.ask - quote.bid
                seen[symbol] = quote.model_copy(update={"bid": quote.bid - 5 * spread, "ask": quote.ask + 5 * spread})
        return seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NoLease:
    """The ledger with the plan lease switched off: every delivery owns the plan at once (to show that the
    walk's sequence ids alone keep two owners within the plan)."""

    def __init__(self, inner: DynamoTradeLedger) -> None:
        self._inner = inner

    def acquire_lease(self, correlation_id: str, owner: str, *, expires_at: float, now: float) -> float | None:
        return None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@dataclass
class DeliveryPlan:
    """One delivery: the quotes it sees and where (if anywhere) its process dies."""

    quotes: str = "normal"
    crash_after_placement: int = 0  # 0: never
    ledger_crash: LedgerCrashPoint | None = None


@dataclass
class Outcome:
    responses: list[dict[str, Any]] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    deliveries: int = 0


def delivery_service(
    broker: AlpacaBroker,
    ledger: DynamoTradeLedger,
    publisher: InMemoryPublisher,
    config: ExecutionConfig,
    plan: DeliveryPlan,
    *,
    clock_start: datetime,
) -> tuple[ExecutionService, Crash]:
    crash = Crash()
    port: Any = QuoteView(broker, plan.quotes)
    port = DyingBroker(port, crash, after_placement=plan.crash_after_placement)
    dying_ledger: Any = DyingLedger(ledger, crash, plan.ledger_crash)
    service = ExecutionService(port, dying_ledger, publisher, clock=VirtualWaitClock(clock_start), config=config)
    return service, crash


def deliver(service: ExecutionService, event: RebalancePlanned, receive_count: int) -> dict[str, Any]:
    return dict(process_sqs_event(sqs_event(event, receive_count=receive_count), None, service, None))


def run_concurrently(
    broker: AlpacaBroker,
    ledger: DynamoTradeLedger,
    publisher: InMemoryPublisher,
    config: ExecutionConfig,
    event: RebalancePlanned,
    plans: Sequence[DeliveryPlan],
    *,
    redeliveries: int = 6,
    lease_step: timedelta = timedelta(hours=1),
) -> Outcome:
    """Deliver `event` once per entry of `plans`, all at the same moment (threads behind a barrier); then,
    as SQS would, deliver again (one at a time, each later than any lease a dead delivery can still hold)
    until a delivery answers with no failed item, at most `redeliveries` times."""
    outcome = Outcome()
    barrier = threading.Barrier(len(plans))
    lock = threading.Lock()
    start = datetime.now(UTC)

    def one(plan: DeliveryPlan) -> None:
        service, crash = delivery_service(broker, ledger, publisher, config, plan, clock_start=start)
        barrier.wait()
        response = deliver(service, event, 1)
        with lock:
            outcome.responses.append(response)
            if crash.tripped:
                outcome.crashes.append(crash.tripped)

    threads = [threading.Thread(target=one, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    outcome.deliveries = len(plans)
    if all(not r["batchItemFailures"] for r in outcome.responses):
        return outcome
    for n in range(1, redeliveries + 1):
        service, _ = delivery_service(
            broker, ledger, publisher, config, DeliveryPlan(), clock_start=start + n * lease_step
        )
        response = deliver(service, event, 1 + n)
        outcome.responses.append(response)
        outcome.deliveries += 1
        if not response["batchItemFailures"]:
            break
    return outcome


def net_fills(broker: AlpacaBroker, names: Callable[[str], bool]) -> dict[tuple[str, str], Decimal]:
    """(symbol, side) -> the quantity our orders (client ids `names` accepts) filled at the broker."""
    totals: dict[tuple[str, str], Decimal] = {}
    for order in broker.list_orders(status="all"):
        if not names(order.client_order_id) or order.filled_qty <= 0:
            continue
        key = (order.symbol, "buy" if order.side == OrderSide.BUY else "sell")
        totals[key] = totals.get(key, D(0)) + order.filled_qty
    return totals
