"""Helpers for execution against the local paper broker: crashes injected at the broker and ledger ports,
a request recorder, order snapshots that compare across runs, and a RebalancePlanned from a real plan."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tests.support.execution_v2.plans import sqs_event
from the_alchemiser.execution_v2.clock import WaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.lambda_handler import process_sqs_event
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, OrderType, TimeInForce
from the_alchemiser.shared.events import RebalancePlanned
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.ledger.plan_state import PhaseResolution, PlanItemState, PlanItemStatus
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, RebalancePlan

D = Decimal


class SimulatedCrash(RuntimeError):
    """The Lambda dying: raised at the crash point and by every port call after it."""


class Crash:
    """A switch shared by the dying ports: once tripped, the process is 'dead' to the broker and the ledger
    (threads still running raise at their next call instead of placing or recording anything)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tripped: str | None = None

    def trip(self, where: str) -> None:
        with self._lock:
            if self.tripped is None:
                self.tripped = where
        raise SimulatedCrash(where)

    def check(self) -> None:
        if self.tripped is not None:
            raise SimulatedCrash(f"dead since {self.tripped}")


class DyingBroker:
    """A BrokerPort that dies right after the broker accepted the n-th order (0: never)."""

    def __init__(self, inner: Any, crash: Crash, *, after_placement: int = 0) -> None:
        self._inner = inner
        self._crash = crash
        self._after = after_placement
        self._placed = 0
        self._lock = threading.Lock()

    def place_order(self, request: OrderRequest) -> Order:
        self._crash.check()
        order: Order = self._inner.place_order(request)
        with self._lock:
            self._placed += 1
            hit = self._placed == self._after
        if hit:
            self._crash.trip(f"after placement {self._after} ({request.symbol} {request.client_order_id})")
        return order

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._crash.check()
            return attribute(*args, **kwargs)

        return call


# Where a ledger crash happens: (method, n, before_or_after the write).
LedgerCrashPoint = tuple[str, int, str]


class DyingLedger:
    """The ledger port dying at its n-th call of one kind of write, before or after the write.

    Kinds: "intent" (the record written before an order goes to the broker), "item_done" (an item's
    final plan state), "resolve_phase:buy", "mark_published:TradeExecuted", "mark_completed"."""

    def __init__(self, inner: DynamoTradeLedger, crash: Crash, point: LedgerCrashPoint | None = None) -> None:
        self._inner = inner
        self._crash = crash
        self._point = point
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _write(self, kind: str, write: Callable[[], Any]) -> Any:
        self._crash.check()
        hit = False
        if self._point is not None and self._point[0] == kind:
            with self._lock:
                self._counts[kind] = self._counts.get(kind, 0) + 1
                hit = self._counts[kind] == self._point[1]
        if hit and self._point is not None and self._point[2] == "before":
            self._crash.trip(f"before {kind} #{self._point[1]}")
        result = write()
        if hit:
            self._crash.trip(f"after {kind} #{self._point[1] if self._point else 0}")
        return result

    def record(self, order: Any) -> None:
        kind = "intent" if order.status == "submitting" else "record"
        self._write(kind, lambda: self._inner.record(order))

    def save_item(self, correlation_id: str, state: PlanItemState) -> None:
        kind = "item_done" if state.status == PlanItemStatus.DONE else "item"
        self._write(kind, lambda: self._inner.save_item(correlation_id, state))

    def resolve_phase(self, correlation_id: str, resolution: PhaseResolution) -> PhaseResolution:
        result: PhaseResolution = self._write(
            f"resolve_phase:{resolution.side}", lambda: self._inner.resolve_phase(correlation_id, resolution)
        )
        return result

    def mark_published(self, correlation_id: str, event_type: str, event_id: str) -> None:
        self._write(
            f"mark_published:{event_type}", lambda: self._inner.mark_published(correlation_id, event_type, event_id)
        )

    def mark_completed(self, correlation_id: str) -> None:
        self._write("mark_completed", lambda: self._inner.mark_completed(correlation_id))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._crash.check()
            return attribute(*args, **kwargs)

        return call


class RecordingBroker:
    """Passes every call through and notes (clock time, call name): the request budget is checked on it."""

    def __init__(self, inner: Any, clock: WaitClock) -> None:
        self._inner = inner
        self._clock = clock
        self._lock = threading.Lock()
        self.calls: list[tuple[float, str]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls.append((self._clock.monotonic(), name))
            return attribute(*args, **kwargs)

        return call

    def busiest_minute(self, names: Iterable[str] | None = None) -> int:
        """The most calls (of `names`, default all) inside any 60-second window of clock time."""
        wanted = set(names) if names is not None else None
        times = sorted(t for t, n in self.calls if wanted is None or n in wanted)
        most, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 60:
                start += 1
            most = max(most, end - start + 1)
        return most


def run_handler(service: ExecutionService, event: RebalancePlanned, *, receive_count: int = 1) -> dict[str, Any]:
    """One SQS delivery through the real Lambda handler body (Powertools partial batch response)."""
    return dict(process_sqs_event(sqs_event(event, receive_count=receive_count), None, service, None))


def market_buy(broker: AlpacaBroker, symbol: str, qty: Decimal | str, coid: str) -> Order:
    return broker.place_order(
        OrderRequest(
            symbol=symbol,
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            qty=D(qty),
            client_order_id=coid,
        )
    )


def step_names(correlation_id: str, symbols: Iterable[str], config: ExecutionConfig) -> dict[str, tuple[str, str, int]]:
    """client_order_id -> (symbol, side, step) for every order the plan could place."""
    return {
        client_order_id(correlation_id, symbol, side, step): (symbol, side, step)
        for symbol in symbols
        for side in ("buy", "sell")
        for step in range(config.total_steps)
    }


def our_orders(broker: AlpacaBroker, names: dict[str, tuple[str, str, int]]) -> list[tuple[Any, ...]]:
    """The plan's orders at the broker, named by (symbol, side, step) instead of by workflow, so runs under
    different correlation ids compare. Any order of ours the plan could not have placed fails the test."""
    orders = [o for o in broker.list_orders(status="all") if o.client_order_id.startswith("alc-")]
    unknown = [o.client_order_id for o in orders if o.client_order_id not in names]
    assert not unknown, f"orders with ids the plan does not produce: {unknown}"
    return sorted(
        (
            *names[o.client_order_id],
            o.type.value,
            o.qty,
            o.limit_price,
            o.status.value,
            o.filled_qty,
            o.filled_avg_price,
        )
        for o in orders
    )


def holdings(broker: AlpacaBroker) -> tuple[dict[str, Decimal], Decimal]:
    return {p.symbol: p.qty for p in broker.get_positions()}, broker.get_account().cash


def rebalance_planned(plan: RebalancePlan, portfolio: ConsolidatedPortfolio) -> RebalancePlanned:
    return RebalancePlanned(
        correlation_id=plan.correlation_id,
        causation_id="signal-generated-1",
        source_module="portfolio_v2",
        source_component="test",
        rebalance_plan=plan,
        allocation_comparison={},
        trades_required=bool(plan.trades),
        consolidated_portfolio=portfolio,
    )
