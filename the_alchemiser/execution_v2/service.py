"""Executing a rebalance plan: sells first, then buys within the confirmed buying power.

Exactly once under redelivery: every order has a deterministic client_order_id that is looked up before
placing; the quantities of a phase are fixed in the plan state when the phase starts (a full liquidation
uses the position held then; buys are trimmed to the buying power confirmed after the sells), and each
finished item is recorded, so a redelivered message redoes nothing and resumes what was under way."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from the_alchemiser.execution_v2.book_walk import (
    BookWalker,
    MarketClosedError,
    WalkAborted,
    WalkRequest,
)
from the_alchemiser.execution_v2.clock import SystemWaitClock, WaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.rate_limit import RateLimitedBroker, TokenBucket
from the_alchemiser.execution_v2.reconcile import PlanReconciler
from the_alchemiser.execution_v2.recorder import ItemRecorder, order_result
from the_alchemiser.execution_v2.sizing import PhaseSizer
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.models import Order, OrderSide
from the_alchemiser.shared.calendar import NEW_YORK
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
    PlanLease,
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
    RebalancePlan,
    RebalancePlanItem,
)

_log = get_logger("execution_v2.service")
SOURCE_MODULE = "execution_v2"
SOURCE_COMPONENT = "ExecutionService"
_EVENT_ID_NAMESPACE = uuid.UUID("6f1d3f5e-2b8a-4c67-9a51-0e6c1b7d9a20")
SELL = OrderSide.SELL.value
BUY = OrderSide.BUY.value


class ExecutionLedger(TradeLedgerWriter, PlanStateStore, PlanLease, LotBookWriter, Protocol):
    """What execution needs of the ledger table (DynamoTradeLedger provides it)."""

    def get_order(self, client_order_id: str) -> LedgerOrder | None: ...


def deterministic_event_id(correlation_id: str, event_type: str) -> str:
    """The same outcome event of a workflow always has the same id, so consumers can dedupe a re-send."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{correlation_id}:{event_type}"))


class PlanLeased(RuntimeError):
    """Another delivery owns the plan (a live lease): back off without working it; SQS retries later."""

    def __init__(self, correlation_id: str, retry_after_seconds: float) -> None:
        super().__init__(f"plan {correlation_id} is being executed by another delivery")
        self.retry_after_seconds = retry_after_seconds


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
        self._reconciler = PlanReconciler(self.broker, ledger, self.clock, self.config)
        self._sizer = PhaseSizer(self.broker, self.config)

    # --- the one entry point ------------------------------------------------------------------

    def execute(self, event: RebalancePlanned, *, time_left: Callable[[], float] | None = None) -> ExecutionResult:
        """Execute (or resume, or merely re-report) the plan of a RebalancePlanned event. `time_left` (the
        invocation's remaining seconds) makes it stop in time with ExecutionOutOfTime instead of being killed,
        and bounds the plan's lease: a second delivery meanwhile gets PlanLeased and backs off."""
        plan = event.rebalance_plan
        with workflow_context(event.correlation_id, event.event_id, plan_id=plan.plan_id):
            state = self.ledger.start_plan(event.correlation_id, plan.plan_id, sortable_time(self.clock.now()))
            if state.completed:
                _log.info("plan_already_completed", note="redelivery: nothing to execute")
                return self._finish(event, state, market_open=True, notes=[])
            with self._lease(plan.correlation_id, time_left):
                state = self._reload(event.correlation_id)  # as it is now that we own it
                notes: list[str] = []
                market_open = True
                if not state.completed and plan.trades:
                    market_open, notes = self._execute_pending(
                        plan, state, TimeBudget(time_left, self.config.stop_before_timeout_seconds)
                    )
                    # a finished plan leaves nothing working, whoever placed it (one list request)
                    self._stop_working_orders(plan)
                    state = self._reload(event.correlation_id)
                return self._finish(event, state, market_open=market_open, notes=notes)

    def _finish(
        self, event: RebalancePlanned, state: PlanState, *, market_open: bool, notes: list[str]
    ) -> ExecutionResult:
        plan = event.rebalance_plan
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

    @contextlib.contextmanager
    def _lease(self, correlation_id: str, time_left: Callable[[], float] | None) -> Iterator[None]:
        """Own the plan until this invocation's deadline (now + its remaining time), or raise PlanLeased."""
        owner = uuid.uuid4().hex
        now = self.clock.now().timestamp()
        seconds = time_left() if time_left is not None else self.config.lease_seconds_without_deadline
        held_until = self.ledger.acquire_lease(correlation_id, owner, expires_at=now + max(seconds, 0.0), now=now)
        if held_until is not None:
            _log.warning("plan_leased_by_another_delivery", lease_seconds_left=round(held_until - now, 3))
            raise PlanLeased(correlation_id, max(held_until - now, 0.0))
        try:
            yield
        finally:
            try:
                self.ledger.release_lease(correlation_id, owner)
            except Exception:  # a dead owner's lease expires at its deadline anyway
                _log.exception("lease_release_failed")

    def report_failure(
        self, event: RebalancePlanned, error: BaseException, *, time_left: Callable[[], float] | None = None
    ) -> None:
        """Last delivery failed: give the plan up (cancel what is working, wait until terminal, count every
        fill), then tell operators exactly what did execute (WorkflowFailed), once; the plan is closed, so a
        straggling duplicate of the message trades nothing more."""
        plan = event.rebalance_plan
        with workflow_context(event.correlation_id, event.event_id, plan_id=plan.plan_id):
            state = self.ledger.load_plan(event.correlation_id)
            if state is not None and ({"WorkflowFailed", "WorkflowCompleted"} & state.published.keys()):
                return
            if state is None:
                state = self.ledger.start_plan(event.correlation_id, plan.plan_id, sortable_time(self.clock.now()))
            reason = f"execution did not finish: {type(error).__name__}: {error}"
            try:
                with self._lease(plan.correlation_id, time_left):
                    seen = self._stop_working_orders(plan)
                    self._reconciler.settle_unfinished(plan, reason, seen)
            except PlanLeased:
                _log.warning("failure_not_reported", note="another delivery owns the plan and will report it")
                return
            except Exception:  # the operators' email matters more than an exact count
                _log.exception("giving_up_failed", plan_id=plan.plan_id)
            state = self._reload(event.correlation_id)
            result = self._result(plan, state, market_open=True, notes=[reason])
            try:
                self.ledger.book_plan(plan, result)
            except Exception:  # the operators' email matters more; the next plan's reconciliation notes the gap
                _log.exception("booking_failed", plan_id=plan.plan_id)
            failed = WorkflowFailed(
                event_id=deterministic_event_id(event.correlation_id, "WorkflowFailed"),
                **_caused_by(event),
                failure_reason=f"execution did not finish after retries: {type(error).__name__}: {error}",
                failure_step="execution",
                error_details={"exception_type": type(error).__name__, "plan_id": plan.plan_id},
                trading_date=plan.trading_date,
                execution_data=result,
                consolidated_portfolio=event.consolidated_portfolio,
            )
            self.publisher.publish(failed)
            self.ledger.mark_published(event.correlation_id, failed.event_type, failed.event_id)
            if "TradeExecuted" not in state.published:  # that report already put the plan's metrics
                put_all(self.metrics, execution_metrics(result))  # once per plan: this WorkflowFailed reports it
            self.ledger.mark_completed(event.correlation_id)

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
            return self._close_out(plan, reason)

        try:
            sells = plan.sells
            if sells:
                resolution = state.phases.get(SELL) or self.ledger.resolve_phase(
                    plan.correlation_id, self._sizer.sells(sells)
                )
                self._run_phase(plan, side=OrderSide.SELL, items=sells, resolution=resolution, state=state, abort=abort)
            buys = plan.buys
            if buys:
                if abort.is_set():
                    raise WalkAborted("the plan's execution was aborted before the buys")
                state = self._reload(plan.correlation_id)
                resolution = state.phases.get(BUY) or self.ledger.resolve_phase(
                    plan.correlation_id, self._sizer.buys(buys)
                )
                self._run_phase(plan, side=OrderSide.BUY, items=buys, resolution=resolution, state=state, abort=abort)
        except MarketClosedError as exc:
            _log.warning("market_closed_during_execution", reason=str(exc))
            return self._close_out(plan, str(exc))
        except Exception as exc:
            self._stop_working_orders(plan)  # nothing stays working while nobody watches it
            if isinstance(exc, WalkAborted) and abort.out_of_time:
                _log.warning("execution_out_of_time", margin_seconds=self.config.stop_before_timeout_seconds)
                raise ExecutionOutOfTime("stopped before the invocation's timeout; a redelivery resumes") from exc
            raise
        return True, []

    def _close_out(self, plan: RebalancePlan, reason: str) -> tuple[bool, list[str]]:
        """The market is closed (or the plan stale): nothing more is placed; what earlier steps and
        deliveries placed is cancelled if still working and reported as the broker has it."""
        seen = self._stop_working_orders(plan)
        self._reconciler.settle_unfinished(plan, reason, seen, skip_orderless=True)
        return False, [reason]

    def _stop_working_orders(self, plan: RebalancePlan) -> dict[str, Order]:
        try:
            return self._reconciler.stop_working_orders(plan)
        except Exception:  # the broker is failing too: the next delivery (or the report) tries again
            _log.exception("cancelling_working_orders_failed")
            return {}

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
        fractionable = item.fractionable or qty != qty.to_integral_value()
        recorder = ItemRecorder(self.ledger, plan, item, side, item_state, self.clock.now)
        walk = walker.walk(
            WalkRequest(
                correlation_id=plan.correlation_id,
                symbol=item.symbol,
                side=side,
                qty=qty,
                fractionable=fractionable,
                resume_from_step=item_state.step if prior is not None else 0,
                order_steps=item_state.order_steps,
            ),
            recorder,
        )
        result = order_result(item, side=side, qty=qty, walk=walk, recorder=recorder, note=note)
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
            started_at=_parse_time(state.started_at, self.clock.now()),
            completed_at=self.clock.now(),
            market_open=market_open,
            notes=notes,
        )

    def _publish_outcome(self, event: RebalancePlanned, result: ExecutionResult, state: PlanState) -> None:
        caused = _caused_by(event)
        if {"WorkflowCompleted", "WorkflowFailed"} & state.published.keys():
            return  # reported (a given-up plan's WorkflowFailed carries what executed)
        if "TradeExecuted" not in state.published:
            traded = TradeExecuted(
                event_id=deterministic_event_id(event.correlation_id, "TradeExecuted"),
                **caused,
                execution_data=result,
                orders_placed=result.orders_placed,
                orders_succeeded=result.orders_succeeded,
                consolidated_portfolio=event.consolidated_portfolio,
            )
            self.publisher.publish(traded)
            self.ledger.mark_published(event.correlation_id, traded.event_type, traded.event_id)
            put_all(self.metrics, execution_metrics(result))  # once per plan, with its TradeExecuted
        outcome: WorkflowCompleted | WorkflowFailed
        if result.status == ExecutionStatus.FAILURE or not result.market_open:
            failures = {r.symbol: r.error or r.outcome.value for r in result.orders if r.outcome != OrderOutcome.FILLED}
            outcome = WorkflowFailed(
                event_id=deterministic_event_id(event.correlation_id, "WorkflowFailed"),
                **caused,
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
                success=result.status in (ExecutionStatus.SUCCESS, ExecutionStatus.NO_TRADES),
                summary=_summary(result),
                trading_date=event.rebalance_plan.trading_date,
                execution_data=result,
                consolidated_portfolio=event.consolidated_portfolio,
            )
        self.publisher.publish(outcome)
        self.ledger.mark_published(event.correlation_id, outcome.event_type, outcome.event_id)


def _caused_by(event: RebalancePlanned) -> dict[str, str]:
    """The base fields of an event execution publishes because of `event`."""
    return {**event.caused(), "source_module": SOURCE_MODULE, "source_component": SOURCE_COMPONENT}


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


def _parse_time(text: str, otherwise: datetime) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return otherwise


def trading_day_of(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date()
