"""Recording one item's walk (plan state and ledger, as it goes) and the item's outcome from its orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Protocol

from the_alchemiser.execution_v2.book_walk import WalkResult
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, Quote
from the_alchemiser.shared.ledger.models import LedgerOrder, TradeLedgerWriter
from the_alchemiser.shared.ledger.plan_state import PlanItemState
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.schemas import (
    OrderOutcome,
    OrderResult,
    QuoteSnapshot,
    RebalancePlan,
    RebalancePlanItem,
)

_log = get_logger("execution_v2.recorder")


class RecorderLedger(TradeLedgerWriter, Protocol):
    def get_order(self, client_order_id: str) -> LedgerOrder | None: ...

    def save_item(self, correlation_id: str, state: PlanItemState) -> None: ...


@dataclass
class ItemRecorder:
    """Writes plan state and ledger as one item's walk proceeds (a WalkListener)."""

    ledger: RecorderLedger
    plan: RebalancePlan
    item: RebalancePlanItem
    side: OrderSide
    state: PlanItemState
    now: Callable[[], datetime] = field(default=partial(datetime.now, UTC))  # execution's clock (simulated locally)
    quotes: dict[int, QuoteSnapshot] = field(default_factory=dict)
    intents: dict[str, LedgerOrder] = field(default_factory=dict)

    def before_placement(self, step: int, client_order_id: str, request: OrderRequest, quote: Quote | None) -> None:
        ids = [*self.state.client_order_ids]
        if client_order_id not in ids:
            ids.append(client_order_id)
        steps = {**self.state.order_steps, client_order_id: step}
        self.state = self.state.model_copy(update={"step": step, "client_order_ids": ids, "order_steps": steps})
        self.ledger.save_item(self.plan.correlation_id, self.state)
        now = self.now()
        snapshot = _snapshot(quote)
        if snapshot is not None:
            self.quotes[step] = snapshot
        intent = LedgerOrder(
            correlation_id=self.plan.correlation_id,
            client_order_id=client_order_id,
            broker_order_id=None,
            plan_id=self.plan.plan_id,
            trading_date=self.plan.trading_date,
            symbol=self.item.symbol,
            side=self.side.value,
            order_type=request.type.value,
            step=step,
            requested_qty=request.qty,
            requested_notional=request.notional,
            limit_price=request.limit_price,
            filled_qty=Decimal(0),
            avg_fill_price=None,
            status="submitting",
            bid_at_placement=quote.bid if quote is not None else None,
            ask_at_placement=quote.ask if quote is not None else None,
            placed_at=now,
            updated_at=now,
            strategy_attribution=self.item.strategy_attribution,
        )
        self.intents[client_order_id] = intent
        self.ledger.record(intent)

    def order_placed(self, step: int, order: Order) -> None:
        self._record(step, order)

    def order_settled(self, step: int, order: Order) -> None:
        self._record(step, order)

    def step_skipped(self, step: int, reason: str) -> None:
        _log.info("walk_step_skipped", symbol=self.item.symbol, step=step, reason=reason)

    def _record(self, step: int, order: Order) -> None:
        base = self.intents.get(order.client_order_id) or self.ledger.get_order(order.client_order_id)
        if step not in self.quotes and base is not None:
            snapshot = _snapshot_of(base.bid_at_placement, base.ask_at_placement)
            if snapshot is not None:
                self.quotes[step] = snapshot
        if order.client_order_id not in self.state.client_order_ids:
            self.state = self.state.model_copy(
                update={"client_order_ids": [*self.state.client_order_ids, order.client_order_id]}
            )
        self.ledger.record(
            LedgerOrder(
                correlation_id=self.plan.correlation_id,
                client_order_id=order.client_order_id,
                broker_order_id=order.id,
                plan_id=self.plan.plan_id,
                trading_date=self.plan.trading_date,
                symbol=self.item.symbol,
                side=self.side.value,
                order_type=order.type.value,
                step=step,
                requested_qty=order.qty,
                requested_notional=order.notional,
                limit_price=order.limit_price,
                filled_qty=order.filled_qty,
                avg_fill_price=order.filled_avg_price,
                status=order.status.value,
                bid_at_placement=base.bid_at_placement if base is not None else None,
                ask_at_placement=base.ask_at_placement if base is not None else None,
                placed_at=base.placed_at if base is not None else order.created_at,
                updated_at=self.now(),
                strategy_attribution=self.item.strategy_attribution,
            )
        )

    def first_quote(self) -> QuoteSnapshot | None:
        return self.quotes[min(self.quotes)] if self.quotes else None


def _snapshot(quote: Quote | None) -> QuoteSnapshot | None:
    if quote is None:
        return None
    return QuoteSnapshot(bid=quote.bid, ask=quote.ask, timestamp=quote.timestamp)


def _snapshot_of(bid: Decimal | None, ask: Decimal | None) -> QuoteSnapshot | None:
    if bid is None and ask is None:
        return None
    return QuoteSnapshot(bid=bid, ask=ask)


def order_result(
    item: RebalancePlanItem,
    *,
    side: OrderSide,
    qty: Decimal,
    walk: WalkResult,
    recorder: ItemRecorder,
    note: str | None,
) -> OrderResult:
    filled = walk.filled_qty
    if filled >= qty:
        outcome = OrderOutcome.FILLED
    elif filled > 0:
        outcome = OrderOutcome.PARTIALLY_FILLED
    else:
        outcome = OrderOutcome.FAILED
    quote = recorder.first_quote() or _snapshot(walk.first_quote)
    avg = walk.avg_fill_price
    slippage: Decimal | None = None
    if quote is not None and quote.midpoint is not None and avg is not None:
        signed = (avg - quote.midpoint) if side == OrderSide.BUY else (quote.midpoint - avg)
        slippage = (signed / quote.midpoint * Decimal(10000)).quantize(Decimal("0.01"))
    error = walk.error
    if outcome != OrderOutcome.FILLED and error is None:
        error = f"filled {filled} of {qty} after {len(walk.orders)} order(s)"
    return OrderResult(
        symbol=item.symbol,
        side=side.value,
        outcome=outcome,
        requested_qty=qty,
        filled_qty=filled,
        avg_fill_price=avg,
        filled_value=walk.filled_value,
        quote_at_placement=quote,
        slippage_bps=slippage,
        client_order_ids=[o.client_order_id for o in walk.orders],
        broker_order_ids=[o.id for o in walk.orders],
        steps=len(walk.orders),
        error=f"{error}; {note}" if note and error else (error or note),
        strategy_attribution=item.strategy_attribution,
    )
