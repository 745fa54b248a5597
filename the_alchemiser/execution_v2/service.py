"""Executing a rebalance plan: sells first, then buys within the confirmed buying power.

Exactly once under redelivery: every order has a deterministic client_order_id that is looked up before
placing; the quantities of a phase are fixed in the plan state when the phase starts (a full liquidation
uses the position held then; buys are trimmed to the buying power confirmed after the sells), and each
finished item is recorded, so a redelivered message redoes nothing and resumes what was under way."""

from __future__ import annotations

import contextvars
import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from the_alchemiser.execution_v2.book_walk import (
    BookWalker,
    WalkAborted,
    WalkRequest,
    WalkResult,
    quantize_qty,
)
from the_alchemiser.execution_v2.clock import SystemWaitClock, WaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.execution_v2.rate_limit import RateLimitedBroker, TokenBucket
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, Quote
from the_alchemiser.shared.events import (
    EventPublisher,
    RebalancePlanned,
    TradeExecuted,
    WorkflowCompleted,
    WorkflowFailed,
)
from the_alchemiser.shared.ledger.dynamodb import sortable_time
from the_alchemiser.shared.ledger.models import LedgerOrder, LotBookWriter, TradeLedgerWriter
from the_alchemiser.shared.ledger.plan_state import (
    PhaseResolution,
    PlanItemState,
    PlanItemStatus,
    PlanState,
    PlanStateStore,
)
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.metrics import NO_METRICS, Metrics, execution_metrics, put_all
from the_alchemiser.shared.schemas import (
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
    QuoteSnapshot,
    RebalancePlan,
    RebalancePlanItem,
)

_log = get_logger("execution_v2.service")
NEW_YORK = ZoneInfo("America/New_York")
SOURCE_MODULE = "execution_v2"
SOURCE_COMPONENT = "ExecutionService"
_EVENT_ID_NAMESPACE = uuid.UUID("6f1d3f5e-2b8a-4c67-9a51-0e6c1b7d9a20")
SELL = OrderSide.SELL.value
BUY = OrderSide.BUY.value


class ExecutionLedger(TradeLedgerWriter, PlanStateStore, LotBookWriter, Protocol):
    """What execution needs of the ledger table (DynamoTradeLedger provides it)."""

    def get_order(self, client_order_id: str) -> LedgerOrder | None: ...


def deterministic_event_id(correlation_id: str, event_type: str) -> str:
    """The same outcome event of a workflow always has the same id, so consumers can dedupe a re-send."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{correlation_id}:{event_type}"))


@dataclass
class _ItemRecorder:
    """Writes plan state and ledger as one item's walk proceeds (a WalkListener)."""

    service: ExecutionService
    plan: RebalancePlan
    item: RebalancePlanItem
    side: OrderSide
    state: PlanItemState
    quotes: dict[int, QuoteSnapshot] = field(default_factory=dict)
    intents: dict[str, LedgerOrder] = field(default_factory=dict)

    def before_placement(self, step: int, client_order_id: str, request: OrderRequest, quote: Quote | None) -> None:
        ids = [*self.state.client_order_ids]
        if client_order_id not in ids:
            ids.append(client_order_id)
        self.state = self.state.model_copy(update={"step": step, "client_order_ids": ids})
        self.service.ledger.save_item(self.plan.correlation_id, self.state)
        now = datetime.now(UTC)
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
        self.service.ledger.record(intent)

    def order_placed(self, step: int, order: Order) -> None:
        self._record(step, order)

    def order_settled(self, step: int, order: Order) -> None:
        self._record(step, order)

    def step_skipped(self, step: int, reason: str) -> None:
        _log.info("walk_step_skipped", symbol=self.item.symbol, step=step, reason=reason)

    def _record(self, step: int, order: Order) -> None:
        base = self.intents.get(order.client_order_id) or self.service.ledger.get_order(order.client_order_id)
        if step not in self.quotes and base is not None:
            snapshot = _snapshot_of(base.bid_at_placement, base.ask_at_placement)
            if snapshot is not None:
                self.quotes[step] = snapshot
        if order.client_order_id not in self.state.client_order_ids:
            self.state = self.state.model_copy(
                update={"client_order_ids": [*self.state.client_order_ids, order.client_order_id]}
            )
        self.service.ledger.record(
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
                updated_at=datetime.now(UTC),
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


class ExecutionOutOfTime(RuntimeError):
    """The invocation is nearly out of time: execution stopped between steps; a redelivery resumes it."""


class TimeBudget(threading.Event):
    """The walk's abort signal: set when a worker fails (like a crash), or by itself once the
    invocation's remaining time falls to the margin. Checked at every step and poll of every walk."""

    def __init__(self, time_left: Callable[[], float] | None, margin_seconds: float) -> None:
        super().__init__()
        self._time_left = time_left
        self._margin = margin_seconds
        self.out_of_time = False

    def is_set(self) -> bool:
        if not super().is_set() and self._time_left is not None and self._time_left() <= self._margin:
            self.out_of_time = True
            self.set()
        return super().is_set()


class ExecutionService:
    def __init__(
        self,
        broker: BrokerPort,
        ledger: ExecutionLedger,
        publisher: EventPublisher,
        *,
        clock: WaitClock | None = None,
        config: ExecutionConfig | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.config = config or ExecutionConfig()
        self.metrics = metrics
        self.clock = clock or SystemWaitClock()
        self.broker: BrokerPort = RateLimitedBroker(
            broker,
            self.clock,
            TokenBucket(self.clock, self.config.trading_requests_per_minute, self.config.trading_burst),
            TokenBucket(self.clock, self.config.data_requests_per_minute, self.config.data_burst),
            retries=self.config.transient_retries,
            backoff_seconds=self.config.transient_backoff_seconds,
        )
        self.ledger = ledger
        self.publisher = publisher

    # --- the one entry point ------------------------------------------------------------------

    def execute(self, event: RebalancePlanned, *, time_left: Callable[[], float] | None = None) -> ExecutionResult:
        """Execute (or resume, or merely re-report) the plan of a RebalancePlanned event. `time_left` (the
        invocation's remaining seconds) makes it stop in time with ExecutionOutOfTime instead of being killed."""
        plan = event.rebalance_plan
        with workflow_context(event.correlation_id, event.event_id, plan_id=plan.plan_id):
            state = self.ledger.start_plan(event.correlation_id, plan.plan_id, sortable_time(datetime.now(UTC)))
            notes: list[str] = []
            market_open = True
            if state.completed:
                _log.info("plan_already_completed", note="redelivery: nothing to execute")
            elif plan.trades:
                market_open, notes = self._execute_pending(
                    plan, state, TimeBudget(time_left, self.config.stop_before_timeout_seconds)
                )
                state = self._reload(event.correlation_id)
            result = self._result(plan, state, market_open=market_open, notes=notes)
            self.ledger.book_plan(plan, result)  # the owners' lots, once per plan, before anyone reports them
            self._publish_outcome(event, result, state)
            self.ledger.mark_completed(event.correlation_id)
            _log.info(
                "execution_finished",
                status=result.status.value,
                orders_placed=result.orders_placed,
                orders_succeeded=result.orders_succeeded,
            )
            return result

    def report_failure(self, event: RebalancePlanned, error: BaseException) -> None:
        """Last delivery failed: tell operators (WorkflowFailed with what did execute), once."""
        plan = event.rebalance_plan
        with workflow_context(event.correlation_id, event.event_id, plan_id=plan.plan_id):
            state = self.ledger.load_plan(event.correlation_id)
            if state is not None and ({"WorkflowFailed", "WorkflowCompleted"} & state.published.keys()):
                return
            if state is None:
                state = self.ledger.start_plan(event.correlation_id, plan.plan_id, sortable_time(datetime.now(UTC)))
            result = self._result(plan, state, market_open=True, notes=[f"execution did not finish: {error}"])
            try:
                self.ledger.book_plan(plan, result)
            except Exception:  # the operators' email matters more; the next plan's reconciliation notes the gap
                _log.exception("booking_failed", plan_id=plan.plan_id)
            failed = WorkflowFailed(
                event_id=deterministic_event_id(event.correlation_id, "WorkflowFailed"),
                **event.caused(),
                source_module=SOURCE_MODULE,
                source_component=SOURCE_COMPONENT,
                failure_reason=f"execution did not finish after retries: {type(error).__name__}: {error}",
                failure_step="execution",
                error_details={"exception_type": type(error).__name__, "plan_id": plan.plan_id},
                trading_date=plan.trading_date,
                execution_data=result,
                consolidated_portfolio=event.consolidated_portfolio,
            )
            self.publisher.publish(failed)
            self.ledger.mark_published(event.correlation_id, failed.event_type, failed.event_id)

    # --- phases -------------------------------------------------------------------------------

    def _execute_pending(self, plan: RebalancePlan, state: PlanState, abort: TimeBudget) -> tuple[bool, list[str]]:
        pending = [item for item in plan.trades if not _is_done(state, item)]
        if not pending:
            return True, []
        clock = self.broker.get_clock()
        today = trading_day_of(clock.timestamp)
        if not clock.is_open or plan.trading_date != today:
            reason = (
                f"market closed (next open {clock.next_open.isoformat()})"
                if not clock.is_open
                else f"the plan is for {plan.trading_date}, the broker's day is {today}: a stale plan never trades"
            )
            _log.warning("execution_skipped", reason=reason, items=len(pending))
            for item in pending:
                self._finish_skipped(plan, item, reason)
            return False, [reason]

        try:
            sells = plan.sells
            if sells:
                resolution = state.phases.get(SELL) or self.ledger.resolve_phase(
                    plan.correlation_id, self._resolve_sells(sells)
                )
                self._run_phase(plan, side=OrderSide.SELL, items=sells, resolution=resolution, state=state, abort=abort)
            buys = plan.buys
            if buys:
                if abort.is_set():
                    raise WalkAborted("the plan's execution was aborted before the buys")
                state = self._reload(plan.correlation_id)
                resolution = state.phases.get(BUY) or self.ledger.resolve_phase(
                    plan.correlation_id, self._resolve_buys(buys)
                )
                self._run_phase(plan, side=OrderSide.BUY, items=buys, resolution=resolution, state=state, abort=abort)
        except WalkAborted as exc:
            if abort.out_of_time:
                _log.warning("execution_out_of_time", margin_seconds=self.config.stop_before_timeout_seconds)
                raise ExecutionOutOfTime("stopped before the invocation's timeout; a redelivery resumes") from exc
            raise
        return True, []

    def _tradable_note(self, symbol: str) -> tuple[bool, str]:
        asset = self.broker.get_asset(symbol)
        if not asset.tradable or asset.status != "active":
            return False, f"not tradable (halted or inactive: status {asset.status}, tradable {asset.tradable})"
        return True, ""

    def _resolve_sells(self, sells: Sequence[RebalancePlanItem]) -> PhaseResolution:
        quantities: dict[str, Decimal] = {}
        notes: dict[str, str] = {}
        for item in sells:
            tradable, why = self._tradable_note(item.symbol)
            if not tradable:
                quantities[item.symbol], notes[item.symbol] = Decimal(0), why
                continue
            position = self.broker.get_position(item.symbol)
            held = position.qty if position is not None else Decimal(0)
            if item.full_liquidation:
                qty = held  # the actual quantity held now, never a rounded plan figure
                if held != item.current_qty:
                    notes[item.symbol] = f"full liquidation of the {held} held (plan saw {item.current_qty})"
            else:
                qty = self._planned_qty(item)
                if qty > held:
                    notes[item.symbol] = f"plan wanted {qty}, only {held} held"
                    qty = held
            fractionable = item.fractionable or held != held.to_integral_value()
            quantities[item.symbol] = quantize_qty(qty, fractionable) if not item.full_liquidation else qty
            if quantities[item.symbol] <= 0 and item.symbol not in notes:
                notes[item.symbol] = "nothing held to sell"
        return PhaseResolution(side=SELL, quantities=quantities, notes=notes)

    def _resolve_buys(self, buys: Sequence[RebalancePlanItem]) -> PhaseResolution:
        """Buys sized within the buying power confirmed after the sells: a failed sell's cash is not spent."""
        account = self.broker.get_account()
        budget = max(Decimal(0), min(account.cash, account.buying_power))
        quantities: dict[str, Decimal] = {}
        notes: dict[str, str] = {}
        tradable_items: list[RebalancePlanItem] = []
        for item in buys:
            tradable, why = self._tradable_note(item.symbol)
            if tradable:
                tradable_items.append(item)
            else:
                quantities[item.symbol], notes[item.symbol] = Decimal(0), why
        quotes = self.broker.get_latest_quotes([i.symbol for i in tradable_items]) if tradable_items else {}
        costs: dict[str, Decimal] = {}
        for item in tradable_items:
            qty = quantize_qty(self._planned_qty(item, quotes.get(item.symbol)), item.fractionable)
            quantities[item.symbol] = qty
            price = _worst_buy_price(item, quotes.get(item.symbol))
            costs[item.symbol] = qty * price * (1 + self.config.buy_price_margin)
        total = sum(costs.values(), Decimal(0))
        if total > budget:
            factor = budget / total if total > 0 else Decimal(0)
            for item in tradable_items:
                planned = quantities[item.symbol]
                trimmed = quantize_qty(planned * factor, item.fractionable)
                if trimmed != planned:
                    quantities[item.symbol] = trimmed
                    notes[item.symbol] = (
                        f"trimmed from {planned} to {trimmed}: buying power {budget} covers {factor:.4f} of the buys"
                    )
            _log.warning("buys_trimmed", buying_power=str(budget), planned_cost=str(total), factor=str(factor))
        return PhaseResolution(side=BUY, quantities=quantities, notes=notes, buying_power=budget)

    @staticmethod
    def _planned_qty(item: RebalancePlanItem, quote: Quote | None = None) -> Decimal:
        if item.quantity is not None:
            return abs(item.quantity)
        reference = quote.midpoint if quote is not None and quote.midpoint is not None else item.price
        if reference <= 0:
            return Decimal(0)
        return abs(item.trade_value) / reference

    def _run_phase(
        self,
        plan: RebalancePlan,
        *,
        side: OrderSide,
        items: Sequence[RebalancePlanItem],
        resolution: PhaseResolution,
        state: PlanState,
        abort: TimeBudget,
    ) -> None:
        todo = [item for item in items if not _is_done(state, item)]
        if not todo:
            return
        _log.info("phase_started", side=side.value, items=len(todo))
        walker = BookWalker(self.broker, self.clock, self.config, abort)
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=max(1, self.config.max_workers), thread_name_prefix="exec") as pool:
            futures: list[Future[None]] = [
                pool.submit(
                    contextvars.copy_context().run,
                    functools.partial(
                        self._execute_item, walker, plan=plan, side=side, item=item, resolution=resolution, state=state
                    ),
                )
                for item in todo
            ]
            for future in as_completed(futures):
                error = future.exception()
                if error is not None:
                    abort.set()  # like a crash: the other workers stop where they are
                    errors.append(error)
        if errors:
            primary = next((e for e in errors if not isinstance(e, WalkAborted)), errors[0])
            raise primary
        _log.info("phase_finished", side=side.value)

    def _execute_item(
        self,
        walker: BookWalker,
        *,
        plan: RebalancePlan,
        side: OrderSide,
        item: RebalancePlanItem,
        resolution: PhaseResolution,
        state: PlanState,
    ) -> None:
        qty = resolution.quantities.get(item.symbol, Decimal(0))
        note = resolution.notes.get(item.symbol)
        if qty <= 0:
            self._finish_skipped(plan, item, note or "nothing to trade", side=side)
            return
        prior = state.item(side.value, item.symbol)
        item_state = prior or PlanItemState(
            symbol=item.symbol, side=side.value, status=PlanItemStatus.IN_PROGRESS, target_qty=qty
        )
        skipped = frozenset(
            step
            for step in range(item_state.step)
            if client_order_id(plan.correlation_id, item.symbol, side.value, step) not in item_state.client_order_ids
        )
        fractionable = item.fractionable or qty != qty.to_integral_value()
        recorder = _ItemRecorder(self, plan, item, side, item_state)
        walk = walker.walk(
            WalkRequest(
                correlation_id=plan.correlation_id,
                symbol=item.symbol,
                side=side,
                qty=qty,
                fractionable=fractionable,
                skipped_steps=skipped,
                resume_below_step=item_state.step if prior is not None else 0,
            ),
            recorder,
        )
        result = self._order_result(item, side=side, qty=qty, walk=walk, recorder=recorder, note=note)
        self.ledger.save_item(
            plan.correlation_id,
            recorder.state.model_copy(update={"status": PlanItemStatus.DONE, "result": result}),
        )
        _log.info(
            "item_finished",
            symbol=item.symbol,
            side=side.value,
            outcome=result.outcome.value,
            filled_qty=str(result.filled_qty),
            avg_fill_price=str(result.avg_fill_price) if result.avg_fill_price is not None else None,
        )

    def _order_result(
        self,
        item: RebalancePlanItem,
        *,
        side: OrderSide,
        qty: Decimal,
        walk: WalkResult,
        recorder: _ItemRecorder,
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

    def _finish_skipped(
        self, plan: RebalancePlan, item: RebalancePlanItem, reason: str, side: OrderSide | None = None
    ) -> None:
        side_value = side.value if side is not None else _side_of(item)
        result = OrderResult(
            symbol=item.symbol,
            side=side_value,
            outcome=OrderOutcome.SKIPPED,
            requested_qty=item.quantity,
            filled_qty=Decimal(0),
            filled_value=Decimal(0),
            error=reason,
            strategy_attribution=item.strategy_attribution,
        )
        self.ledger.save_item(
            plan.correlation_id,
            PlanItemState(symbol=item.symbol, side=side_value, status=PlanItemStatus.DONE, result=result),
        )

    # --- outcome ------------------------------------------------------------------------------

    def _reload(self, correlation_id: str) -> PlanState:
        state = self.ledger.load_plan(correlation_id)
        if state is None:  # pragma: no cover - started at the top of execute
            raise RuntimeError(f"plan state for {correlation_id} is missing")
        return state

    def _result(self, plan: RebalancePlan, state: PlanState, *, market_open: bool, notes: list[str]) -> ExecutionResult:
        results: list[OrderResult] = []
        for item in plan.trades:
            done = state.item(_side_of(item), item.symbol)
            if done is not None and done.result is not None:
                results.append(done.result)
            else:
                results.append(
                    OrderResult(
                        symbol=item.symbol,
                        side=_side_of(item),
                        outcome=OrderOutcome.FAILED,
                        filled_qty=Decimal(0),
                        filled_value=Decimal(0),
                        error="not executed",
                        client_order_ids=done.client_order_ids if done is not None else [],
                        strategy_attribution=item.strategy_attribution,
                    )
                )
        if any(r.outcome == OrderOutcome.SKIPPED and r.error and r.error.startswith("market closed") for r in results):
            market_open = False
        placed = sum(1 for r in results if r.client_order_ids)
        succeeded = sum(1 for r in results if r.outcome == OrderOutcome.FILLED)
        if not results:
            status = ExecutionStatus.NO_TRADES
        elif succeeded == len(results):
            status = ExecutionStatus.SUCCESS
        elif any(r.outcome in (OrderOutcome.FILLED, OrderOutcome.PARTIALLY_FILLED) for r in results):
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.FAILURE
        return ExecutionResult(
            plan_id=plan.plan_id,
            correlation_id=plan.correlation_id,
            status=status,
            orders=results,
            orders_placed=placed,
            orders_succeeded=succeeded,
            total_buy_value=sum((r.filled_value for r in results if r.side == BUY), Decimal(0)),
            total_sell_value=sum((r.filled_value for r in results if r.side == SELL), Decimal(0)),
            started_at=_parse_time(state.started_at),
            completed_at=datetime.now(UTC),
            market_open=market_open,
            notes=notes,
        )

    def _publish_outcome(self, event: RebalancePlanned, result: ExecutionResult, state: PlanState) -> None:
        caused = event.caused()
        if "TradeExecuted" not in state.published:
            traded = TradeExecuted(
                event_id=deterministic_event_id(event.correlation_id, "TradeExecuted"),
                **caused,
                source_module=SOURCE_MODULE,
                source_component=SOURCE_COMPONENT,
                execution_data=result,
                orders_placed=result.orders_placed,
                orders_succeeded=result.orders_succeeded,
                consolidated_portfolio=event.consolidated_portfolio,
            )
            self.publisher.publish(traded)
            self.ledger.mark_published(event.correlation_id, traded.event_type, traded.event_id)
            put_all(self.metrics, execution_metrics(result))  # once per plan, with its TradeExecuted
        if {"WorkflowCompleted", "WorkflowFailed"} & state.published.keys():
            return
        outcome: WorkflowCompleted | WorkflowFailed
        if result.status == ExecutionStatus.FAILURE or not result.market_open:
            failures = {r.symbol: r.error or r.outcome.value for r in result.orders if r.outcome != OrderOutcome.FILLED}
            outcome = WorkflowFailed(
                event_id=deterministic_event_id(event.correlation_id, "WorkflowFailed"),
                **caused,
                source_module=SOURCE_MODULE,
                source_component=SOURCE_COMPONENT,
                failure_reason="; ".join(result.notes) or "no order of the plan was filled",
                failure_step="execution",
                error_details={"status": result.status.value, "orders": failures, "plan_id": result.plan_id},
                trading_date=event.rebalance_plan.trading_date,
                execution_data=result,
                consolidated_portfolio=event.consolidated_portfolio,
            )
        else:
            outcome = WorkflowCompleted(
                event_id=deterministic_event_id(event.correlation_id, "WorkflowCompleted"),
                **caused,
                source_module=SOURCE_MODULE,
                source_component=SOURCE_COMPONENT,
                success=result.status in (ExecutionStatus.SUCCESS, ExecutionStatus.NO_TRADES),
                summary=_summary(result),
                trading_date=event.rebalance_plan.trading_date,
                execution_data=result,
                consolidated_portfolio=event.consolidated_portfolio,
            )
        self.publisher.publish(outcome)
        self.ledger.mark_published(event.correlation_id, outcome.event_type, outcome.event_id)


def _summary(result: ExecutionResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "orders_placed": result.orders_placed,
        "orders_succeeded": result.orders_succeeded,
        "total_buy_value": str(result.total_buy_value),
        "total_sell_value": str(result.total_sell_value),
        "not_filled": {r.symbol: r.error or r.outcome.value for r in result.orders if r.outcome != OrderOutcome.FILLED},
    }


def _side_of(item: RebalancePlanItem) -> str:
    return SELL if item.action.value == "SELL" else BUY


def _is_done(state: PlanState, item: RebalancePlanItem) -> bool:
    done = state.item(_side_of(item), item.symbol)
    return done is not None and done.status == PlanItemStatus.DONE


def _worst_buy_price(item: RebalancePlanItem, quote: Quote | None) -> Decimal:
    if quote is not None and quote.ask > 0:
        return max(quote.ask, quote.bid)
    return item.price


def _parse_time(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


def trading_day_of(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date()
