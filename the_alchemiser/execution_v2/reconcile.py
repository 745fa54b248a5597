"""Giving up on a plan (or pausing it) leaves nothing working and says exactly what filled.

Every way of stopping (out of time, a worker failing, the last delivery, the market closed) first cancels
the plan's orders still working at the broker and waits until each is terminal. When the plan is given up
for good (the last delivery, the market closed), every item not finished yet gets its outcome from the
broker's view of its orders (looked up by client order id), so the report says what really happened."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from the_alchemiser.execution_v2.book_walk import WalkResult
from the_alchemiser.execution_v2.clock import WaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.execution_v2.recorder import ItemRecorder, RecorderLedger, order_result
from the_alchemiser.execution_v2.sizing import planned_qty
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.errors import NotFoundError, OrderNotCancelableError
from the_alchemiser.shared.broker.models import Order, OrderSide
from the_alchemiser.shared.ledger.plan_state import PlanItemState, PlanItemStatus, PlanState
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.schemas import OrderOutcome, OrderResult, RebalancePlan, RebalancePlanItem

_log = get_logger("execution_v2.reconcile")


class ReconcileLedger(RecorderLedger, Protocol):
    def load_plan(self, correlation_id: str) -> PlanState | None: ...


def side_of(item: RebalancePlanItem) -> OrderSide:
    return OrderSide.SELL if item.action.value == "SELL" else OrderSide.BUY


def plan_order_ids(plan: RebalancePlan, config: ExecutionConfig) -> dict[str, tuple[RebalancePlanItem, int]]:
    """Every client order id the plan can have at the broker -> (its item, its step)."""
    return {
        client_order_id(plan.correlation_id, item.symbol, side_of(item).value, step): (item, step)
        for item in plan.trades
        for step in range(config.total_steps)
    }


@dataclass
class PlanReconciler:
    broker: BrokerPort
    ledger: ReconcileLedger
    clock: WaitClock
    config: ExecutionConfig

    def stop_working_orders(self, plan: RebalancePlan) -> dict[str, Order]:
        """Cancel the plan's orders still working at the broker (one list request finds them) and wait until
        each is terminal; returns their final views by client order id."""
        ours = plan_order_ids(plan, self.config)
        working = [o for o in self.broker.list_orders(status="open") if o.client_order_id in ours]
        for order in working:
            _log.warning("cancelling_working_order", symbol=order.symbol, client_order_id=order.client_order_id)
            with contextlib.suppress(OrderNotCancelableError, NotFoundError):
                self.broker.cancel_order(order.id)
        final: dict[str, Order] = {}
        pending = list(working)
        deadline = self.clock.monotonic() + self.config.cancel_wait_seconds
        while pending:
            views = [self.broker.get_order(o.id) for o in pending]
            final.update({v.client_order_id: v for v in views if v.is_terminal})
            pending = [v for v in views if not v.is_terminal]
            if not pending or self.clock.monotonic() >= deadline:
                break
            self.clock.sleep(self.config.poll_interval_seconds)
        for order in pending:  # a cancel the broker never completed: said loudly, counted as it stands
            _log.error("order_still_working_after_cancel", client_order_id=order.client_order_id, status=order.status)
            final[order.client_order_id] = order
        return final

    def settle_unfinished(
        self, plan: RebalancePlan, reason: str, seen: dict[str, Order], *, skip_orderless: bool = False
    ) -> None:
        """Give every item not DONE its final outcome from the broker's view of its orders: those the plan
        state recorded (each id is recorded before its order is sent) and any `seen` working just now. An item
        without any order is SKIPPED with `skip_orderless` (the market closed before it), else FAILED."""
        state = self.ledger.load_plan(plan.correlation_id)
        if state is None:
            return
        by_item: dict[str, list[tuple[int, str]]] = {}
        for coid, (item, step) in plan_order_ids(plan, self.config).items():
            by_item.setdefault(f"{side_of(item).value}#{item.symbol}", []).append((step, coid))
        for item in plan.trades:
            side = side_of(item)
            prior = state.item(side.value, item.symbol)
            if prior is not None and prior.status == PlanItemStatus.DONE:
                continue
            recorded = set(prior.client_order_ids) if prior is not None else set()
            orders: list[Order] = []
            item_state = prior or PlanItemState(symbol=item.symbol, side=side.value, status=PlanItemStatus.IN_PROGRESS)
            recorder = ItemRecorder(self.ledger, plan, item, side, item_state, self.clock.now)
            for step, coid in sorted(by_item[f"{side.value}#{item.symbol}"]):
                order = seen.get(coid)
                if order is None and coid in recorded:
                    order = self.broker.get_order_by_client_id(coid)
                if order is not None:
                    recorder.order_settled(step, order)
                    orders.append(order)
            phase = state.phases.get(side.value)
            qty = phase.quantities.get(item.symbol) if phase is not None else None
            target = qty if qty is not None else (item_state.target_qty or item.quantity or planned_qty(item))
            if not orders and skip_orderless:
                result = OrderResult(
                    symbol=item.symbol,
                    side=side.value,
                    outcome=OrderOutcome.SKIPPED,
                    requested_qty=item.quantity,
                    filled_qty=Decimal(0),
                    filled_value=Decimal(0),
                    error=reason,
                    strategy_attribution=item.strategy_attribution,
                )
            else:
                walk = WalkResult(orders=orders)
                result = order_result(item, side=side, qty=target, walk=walk, recorder=recorder, note=reason)
            self.ledger.save_item(
                plan.correlation_id,
                recorder.state.model_copy(update={"status": PlanItemStatus.DONE, "result": result}),
            )
            _log.warning(
                "item_given_up", symbol=item.symbol, side=side.value, filled_qty=str(result.filled_qty), reason=reason
            )
