"""Deterministic workflow outcomes for the golden emails: fixed ids, timestamps, prices.

A trade is described once (`Trade`) and turned into both the execution result's `OrderResult` and
the ledger's per-step `LedgerOrder`s, so the email and the CSV report describe the same day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from the_alchemiser.shared.events import WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger import LedgerOrder
from the_alchemiser.shared.ledger.book import Book, Booking, book_plan, fills_of
from the_alchemiser.shared.schemas import (
    ConsolidatedPortfolio,
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
    QuoteSnapshot,
    RebalancePlan,
    RebalancePlanItem,
    StrategySignal,
    TradeAction,
)

TRADING_DATE = date(2026, 11, 24)
PRIOR_DATE = date(2026, 11, 10)
EXECUTION_START = datetime(2026, 11, 24, 20, 30, 5, tzinfo=UTC)
EVENT_TIME = datetime(2026, 11, 24, 20, 31, 40, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    filled_qty: D
    price: D | None
    status: str
    order_type: str = "limit"
    error: str | None = None


@dataclass(frozen=True)
class Trade:
    symbol: str
    side: str
    outcome: OrderOutcome
    requested_qty: D | None
    steps: tuple[Step, ...]
    bid: D
    ask: D
    attribution: dict[str, D] = field(default_factory=dict)
    error: str | None = None

    @property
    def filled_qty(self) -> D:
        return sum((s.filled_qty for s in self.steps), D(0))

    @property
    def filled_value(self) -> D:
        return sum((s.filled_qty * s.price for s in self.steps if s.price is not None), D(0))

    @property
    def avg_price(self) -> D | None:
        return (self.filled_value / self.filled_qty).quantize(D("0.0001")) if self.filled_qty else None

    def client_order_id(self, correlation_id: str, step: int) -> str:
        return f"{correlation_id}-{self.symbol}-{self.side}-{step}"

    def order_result(self, correlation_id: str) -> OrderResult:
        mid = (self.bid + self.ask) / 2
        slippage = None
        if self.avg_price is not None:
            worse = self.avg_price - mid if self.side == "buy" else mid - self.avg_price
            slippage = (worse / mid * 10000).quantize(D("0.01"))
        return OrderResult(
            symbol=self.symbol,
            side=self.side,
            outcome=self.outcome,
            requested_qty=self.requested_qty,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_price,
            filled_value=self.filled_value,
            quote_at_placement=QuoteSnapshot(bid=self.bid, ask=self.ask, timestamp=EXECUTION_START),
            slippage_bps=slippage,
            client_order_ids=[self.client_order_id(correlation_id, i + 1) for i in range(len(self.steps))],
            broker_order_ids=[f"b-{self.client_order_id(correlation_id, i + 1)}" for i in range(len(self.steps))],
            steps=len(self.steps),
            error=self.error,
            strategy_attribution=self.attribution,
        )

    def ledger_orders(self, correlation_id: str, trading_date: date, placed: datetime) -> list[LedgerOrder]:
        orders = []
        for index, step in enumerate(self.steps, start=1):
            when = placed + timedelta(seconds=10 * index)
            orders.append(
                LedgerOrder(
                    correlation_id=correlation_id,
                    client_order_id=self.client_order_id(correlation_id, index),
                    broker_order_id=f"b-{self.client_order_id(correlation_id, index)}",
                    plan_id=f"plan-{correlation_id}",
                    trading_date=trading_date,
                    symbol=self.symbol,
                    side=self.side,
                    order_type=step.order_type,
                    step=index,
                    requested_qty=self.requested_qty,
                    requested_notional=None,
                    limit_price=(self.bid + self.ask) / 2 if step.order_type == "limit" else None,
                    filled_qty=step.filled_qty,
                    avg_fill_price=step.price,
                    status=step.status,
                    bid_at_placement=self.bid,
                    ask_at_placement=self.ask,
                    placed_at=when,
                    updated_at=when + timedelta(seconds=5),
                    strategy_attribution=self.attribution,
                    error=step.error,
                )
            )
        return orders


def filled(qty: str, price: str, order_type: str = "limit") -> Step:
    return Step(D(qty), D(price), "filled", order_type)


def portfolio() -> ConsolidatedPortfolio:
    """The merged portfolio as the plan and the outcome carry it: with the strategies' decision paths."""
    answers = signals()
    return ConsolidatedPortfolio.merge(answers).with_decision_paths(answers)


def signals() -> list[StrategySignal]:
    """The three strategies' answers for the day (with their decision paths)."""
    return [
        StrategySignal(
            strategy="nuclear.clj",
            strategy_name="Nuclear",
            allocation=D("0.5"),
            weights={"SPY": D("0.6"), "TQQQ": D("0.4")},
            as_of=date(2026, 11, 23),
            trace_summary=[
                "weights: SPY 60.0%, TQQQ 40.0%",
                "[Risk controls] if rsi(SPY, 10)=71.2 > 79: false by 7.8 -> else",
                "[Risk controls] if rsi(QQQ, 10)=68.4 > 81: false by 12.6 -> else",
                "[Risk controls] if rsi(QQQ, 10)=68.4 < 30: false by 38.4 -> else",
                "[Bull market] if current-price(SPY)=600.1 > moving-average-price(SPY, 200)=541.7: "
                "true by 58.4 -> then",
                "[Bull market] filter rsi(20) select-bottom 1: kept TQQQ (ranking TQQQ=55.1, TECL=61.9, SOXL=64.2)",
                "[Bull market] weight-specified: SPY 60%, TQQQ 40%",
            ],
        ),
        StrategySignal(
            strategy="tecl.clj",
            strategy_name="TECL for the long term",
            allocation=D("0.3"),
            weights={"TECL": D("0.5"), "SPY": D("0.5")},
            as_of=date(2026, 11, 23),
            trace_summary=[
                "weights: SPY 50.0%, TECL 50.0%",
                "if rsi(XLK, 10)=66.1 > 80: false by 13.9 -> else",
                "if current-price(XLK)=241.3 > moving-average-price(XLK, 200)=219.8: true by 21.5 -> then",
            ],
        ),
        StrategySignal(
            strategy="klm.clj",
            strategy_name="KLM",
            allocation=D("0.2"),
            weights={"TLT": D("1")},
            as_of=date(2026, 11, 23),
        ),
    ]


# the planner's label for a holding no strategy targets any more (sold completely)
UNTARGETED = {"UNATTRIBUTED": D(1)}
SPY_ATTRIBUTION = {"nuclear.clj": D("0.3") / D("0.45"), "tecl.clj": D("0.15") / D("0.45")}


def history_orders() -> list[LedgerOrder]:
    """Earlier workflows: the positions today's sells close out (for average-cost P&L)."""
    earlier = [
        (
            "corr-2026-11-10",
            PRIOR_DATE,
            Trade(
                "TLT",
                "buy",
                OrderOutcome.FILLED,
                D(20),
                (filled("20", "90.00"),),
                D("89.98"),
                D("90.02"),
                {"klm.clj": D(1)},
            ),
        ),
        (
            "corr-2026-11-10",
            PRIOR_DATE,
            Trade(
                "BIL",
                "buy",
                OrderOutcome.FILLED,
                D(30),
                (filled("30", "91.00"),),
                D("90.99"),
                D("91.01"),
                {"nuclear.clj": D(1)},
            ),
        ),
        (
            "corr-2026-11-17",
            date(2026, 11, 17),
            Trade(
                "TLT",
                "buy",
                OrderOutcome.FILLED,
                D(10),
                (filled("10", "93.00"),),
                D("92.98"),
                D("93.02"),
                {"klm.clj": D(1)},
            ),
        ),
    ]
    orders: list[LedgerOrder] = []
    for correlation_id, day, trade in earlier:
        placed = datetime(day.year, day.month, day.day, 20, 30, 10, tzinfo=UTC)
        orders += trade.ledger_orders(correlation_id, day, placed)
    return orders


@dataclass(frozen=True)
class Scenario:
    name: str
    event: WorkflowCompleted | WorkflowFailed
    ledger: list[LedgerOrder]
    book: Book = field(default_factory=Book)  # the lot book after the day (before it when nothing was booked)
    booking: Booking | None = None  # what execution booked for this workflow


# today's mid prices: what the planner sized with and the booking marks positions at
PRICES = {"TLT": D("92.11"), "BIL": D("91.50"), "SPY": D("600.10"), "TQQQ": D("80.03"), "TECL": D("93.73")}
BOOKED_AT = datetime(2026, 11, 24, 20, 31, 30, tzinfo=UTC)


def plan_for(
    correlation_id: str,
    trading_date: date,
    trades: list[Trade],
    held: dict[str, tuple[D, dict[str, D]]],
    cash: D,
    prices: dict[str, D],
) -> RebalancePlan:
    """The plan these trades came from: each trade moves its symbol to its target; held symbols that
    do not trade are at theirs. `held` is symbol -> (quantity, the strategies that want it)."""
    items = []
    for symbol in sorted({t.symbol for t in trades} | set(held)):
        qty, wanted_by = held.get(symbol, (D(0), {}))
        price = prices[symbol]
        trade = next((t for t in trades if t.symbol == symbol), None)
        if trade is None:
            action, planned, attribution = TradeAction.HOLD, D(0), wanted_by
        else:
            action = TradeAction.BUY if trade.side == "buy" else TradeAction.SELL
            planned = trade.requested_qty if trade.requested_qty is not None else trade.filled_qty
            planned = planned or D(1)  # a trade not executed was still planned: a plan item trades something
            attribution = trade.attribution
        after = qty + planned if action == TradeAction.BUY else qty - planned
        targeted = attribution and attribution != UNTARGETED
        items.append(
            RebalancePlanItem(
                symbol=symbol,
                action=action,
                current_qty=qty,
                current_value=qty * price,
                price=price,
                target_weight=D(0),
                target_value=after * price if targeted else D(0),
                trade_value=(planned if action == TradeAction.BUY else -planned) * price,
                quantity=planned if action != TradeAction.HOLD else None,
                fractionable=True,
                full_liquidation=not targeted and action == TradeAction.SELL,
                strategy_attribution=attribution,
            )
        )
    equity = cash + sum((held[s][0] * prices[s] for s in held), D(0))
    return RebalancePlan(
        plan_id=f"plan-{correlation_id}",
        correlation_id=correlation_id,
        trading_date=trading_date,
        created_at=EXECUTION_START,
        equity=equity,
        cash=cash,
        deployable_equity=equity,
        items=items,
        total_sell_value=D(0),
        total_buy_value=D(0),
        estimated_cash_after=cash,
    )


def history_executions() -> list[tuple[RebalancePlan, ExecutionResult]]:
    """The plans before today and what executed: klm.clj bought TLT twice, nuclear.clj bought BIL."""
    days = [
        ("corr-2026-11-10", PRIOR_DATE, {}, D(20_000), {"TLT": D(90), "BIL": D(91)}),
        (
            "corr-2026-11-17",
            date(2026, 11, 17),
            {"TLT": (D(20), {"klm.clj": D(1)}), "BIL": (D(30), {"nuclear.clj": D(1)})},
            D(20_000) - 20 * D(90) - 30 * D(91),
            {"TLT": D(93), "BIL": D("91.20")},
        ),
    ]
    history = history_orders()
    executions = []
    for correlation_id, day, held, cash, prices in days:
        trades = [
            Trade(
                o.symbol,
                o.side,
                OrderOutcome.FILLED,
                o.filled_qty,
                (filled(str(o.filled_qty), str(o.avg_fill_price)),),
                o.bid_at_placement or D(1),
                o.ask_at_placement or D(1),
                o.strategy_attribution,
            )
            for o in history
            if o.correlation_id == correlation_id
        ]
        plan = plan_for(correlation_id, day, trades, held, cash, prices)
        executions.append((plan, _execution(correlation_id, trades, ExecutionStatus.SUCCESS, [])))
    return executions


def history_book() -> Book:
    book = Book()
    for plan, result in history_executions():
        booked_at = datetime.combine(plan.trading_date, EXECUTION_START.timetz())
        book, _ = book_plan(book, plan, fills_of(result), booked_at=booked_at)
    return book


HELD_TODAY = {"TLT": (D(30), {"klm.clj": D(1)}), "BIL": (D(30), {"nuclear.clj": D(1)})}
CASH_TODAY = D(20_000) - 20 * D(90) - 30 * D(91) - 10 * D(93)


def today_plan(correlation_id: str, trades: list[Trade]) -> RebalancePlan:
    return plan_for(correlation_id, TRADING_DATE, trades, HELD_TODAY, CASH_TODAY, PRICES)


def booked(correlation_id: str, trades: list[Trade], result: ExecutionResult) -> tuple[Book, Booking | None]:
    """Today's plan booked on the history, as execution does before it publishes the outcome."""
    history = history_book()
    if not result.market_open:
        return history, None
    return book_plan(history, today_plan(correlation_id, trades), fills_of(result), booked_at=BOOKED_AT)


def _execution(correlation_id: str, trades: list[Trade], status: ExecutionStatus, notes: list[str]) -> ExecutionResult:
    results = [t.order_result(correlation_id) for t in trades]
    return ExecutionResult(
        plan_id=f"plan-{correlation_id}",
        correlation_id=correlation_id,
        status=status,
        orders=results,
        orders_placed=sum(1 for r in results if r.outcome != OrderOutcome.SKIPPED),
        orders_succeeded=sum(1 for r in results if r.outcome == OrderOutcome.FILLED),
        total_buy_value=sum((r.filled_value for r in results if r.side == "buy"), D(0)),
        total_sell_value=sum((r.filled_value for r in results if r.side == "sell"), D(0)),
        started_at=EXECUTION_START,
        completed_at=EXECUTION_START + timedelta(seconds=95),
        notes=notes,
    )


def _summary(result: ExecutionResult) -> dict[str, object]:
    """WorkflowCompleted.summary as execution_v2 writes it."""
    return {
        "status": result.status.value,
        "orders_placed": result.orders_placed,
        "orders_succeeded": result.orders_succeeded,
        "total_buy_value": str(result.total_buy_value),
        "total_sell_value": str(result.total_sell_value),
        "not_filled": {r.symbol: r.error or r.outcome.value for r in result.orders if r.outcome != OrderOutcome.FILLED},
    }


def _execution_failure_details(result: ExecutionResult) -> dict[str, object]:
    """WorkflowFailed.error_details as execution_v2 writes them when nothing was filled."""
    failures = {r.symbol: r.error or r.outcome.value for r in result.orders if r.outcome != OrderOutcome.FILLED}
    return {"status": result.status.value, "orders": failures, "plan_id": result.plan_id}


def _ledger_for(correlation_id: str, trades: list[Trade]) -> list[LedgerOrder]:
    orders: list[LedgerOrder] = []
    for index, trade in enumerate(trades):
        orders += trade.ledger_orders(correlation_id, TRADING_DATE, EXECUTION_START + timedelta(seconds=30 * index))
    return orders


def _base(correlation_id: str, source_module: str, component: str) -> dict[str, object]:
    return {
        "event_id": f"evt-{correlation_id}",
        "correlation_id": correlation_id,
        "causation_id": f"cause-{correlation_id}",
        "timestamp": EVENT_TIME,
        "source_module": source_module,
        "source_component": component,
    }


def success_trades() -> list[Trade]:
    return [
        Trade(
            "BIL",
            "sell",
            OrderOutcome.FILLED,
            D(30),
            (filled("30", "91.50"),),
            D("91.49"),
            D("91.51"),
            UNTARGETED,
        ),
        Trade(
            "TLT", "sell", OrderOutcome.FILLED, D(5), (filled("5", "92.10"),), D("92.08"), D("92.14"), {"klm.clj": D(1)}
        ),
        Trade(
            "SPY",
            "buy",
            OrderOutcome.FILLED,
            D("7.5"),
            (filled("7.5", "600.12"),),
            D("600.05"),
            D("600.15"),
            SPY_ATTRIBUTION,
        ),
        Trade(
            "TQQQ",
            "buy",
            OrderOutcome.FILLED,
            D(25),
            (filled("25", "80.04"),),
            D("80.01"),
            D("80.05"),
            {"nuclear.clj": D(1)},
        ),
        Trade(
            "TECL",
            "buy",
            OrderOutcome.FILLED,
            D(16),
            (Step(D(10), D("93.70"), "canceled"), filled("6", "93.80")),
            D("93.68"),
            D("93.78"),
            {"tecl.clj": D(1)},
        ),
    ]


def success_day() -> Scenario:
    cid = "corr-success-2026-11-24"
    trades = success_trades()
    result = _execution(cid, trades, ExecutionStatus.SUCCESS, [])
    event = WorkflowCompleted(
        **_base(cid, "execution_v2", "ExecutionService"),
        success=True,
        summary=_summary(result),
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario("success_day", event, history_orders() + _ledger_for(cid, trades), *booked(cid, trades, result))


def hold_day() -> Scenario:
    """Every position already at its target: the plan has no trades, execution places nothing."""
    cid = "corr-hold-2026-11-24"
    result = _execution(cid, [], ExecutionStatus.NO_TRADES, [])
    event = WorkflowCompleted(
        **_base(cid, "execution_v2", "ExecutionService"),
        success=True,
        summary=_summary(result),
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario("hold_day", event, history_orders(), *booked(cid, [], result))


def partial_fill_day() -> Scenario:
    """Some orders filled, one partly, one rejected, one halted: WorkflowCompleted with success false."""
    cid = "corr-partial-2026-11-24"
    trades = [
        Trade(
            "TLT", "sell", OrderOutcome.FILLED, D(5), (filled("5", "92.10"),), D("92.08"), D("92.14"), {"klm.clj": D(1)}
        ),
        Trade(
            "SPY",
            "buy",
            OrderOutcome.PARTIALLY_FILLED,
            D(10),
            (
                Step(D(4), D("600.10"), "canceled"),
                Step(D(2), D("600.40"), "canceled"),
                Step(D(0), None, "canceled", "market", "market order canceled at the close"),
            ),
            D("600.05"),
            D("600.15"),
            SPY_ATTRIBUTION,
            "4 of 10 shares unfilled: market order canceled at the close",
        ),
        Trade(
            "TQQQ",
            "buy",
            OrderOutcome.FAILED,
            D(25),
            (Step(D(0), None, "rejected", "limit", "insufficient buying power"),),
            D("80.01"),
            D("80.05"),
            {"nuclear.clj": D(1)},
            "insufficient buying power (requested $2,001.00, available $1,500.00)",
        ),
        Trade(
            "TECL",
            "buy",
            OrderOutcome.SKIPPED,
            D(16),
            (),
            D("93.68"),
            D("93.78"),
            {"tecl.clj": D(1)},
            "not tradable (halted or inactive: status inactive, tradable False)",
        ),
    ]
    result = _execution(cid, trades, ExecutionStatus.PARTIAL, ["buys limited by buying power after sells"])
    event = WorkflowCompleted(
        **_base(cid, "execution_v2", "ExecutionService"),
        success=False,
        summary=_summary(result),
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario(
        "partial_fill_day", event, history_orders() + _ledger_for(cid, trades), *booked(cid, trades, result)
    )


def market_closed_day() -> Scenario:
    """The broker's clock says closed (an unscheduled closure): every trade skipped, WorkflowFailed."""
    cid = "corr-closed-2026-11-24"
    reason = "market closed (next open 2026-11-25T14:30:00+00:00)"
    trades = [
        Trade("TLT", "sell", OrderOutcome.SKIPPED, D(5), (), D("92.08"), D("92.14"), {"klm.clj": D(1)}, reason),
        Trade("SPY", "buy", OrderOutcome.SKIPPED, D("7.5"), (), D("600.05"), D("600.15"), SPY_ATTRIBUTION, reason),
    ]
    result = _execution(cid, trades, ExecutionStatus.FAILURE, [reason]).model_copy(update={"market_open": False})
    event = WorkflowFailed(
        **_base(cid, "execution_v2", "ExecutionService"),
        failure_reason=reason,
        failure_step="execution",
        error_details=_execution_failure_details(result),
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario("market_closed_day", event, history_orders(), history_book())


def strategy_failure() -> Scenario:
    """A strategy that fails to evaluate is reported at once; policy: no trading."""
    cid = "corr-strategy-fail-2026-11-24"
    message = "DslEvaluationError: rsi on UVXY needs 10 bars of history, 7 available (line 41)"
    event = WorkflowFailed(
        **_base(cid, "aggregator_v2", "SignalAggregator"),
        failure_reason=f"strategy evaluation failed: klm.clj: {message}; no trading",
        failure_step="strategy",
        error_details={"failed_strategies": {"klm.clj": message}, "session_id": "session-2026-11-24-dev"},
        trading_date=TRADING_DATE,
    )
    return Scenario("strategy_failure", event, history_orders())


def strategy_malformed() -> Scenario:
    """A strategy file that does not parse: the worker reports the parse error with its position."""
    cid = "corr-strategy-malformed-2026-11-24"
    message = "DslParseError: strategies/tecl.clj:12:5: unbalanced parenthesis: '(' opened at 3:1 is never closed"
    event = WorkflowFailed(
        **_base(cid, "aggregator_v2", "SignalAggregator"),
        failure_reason=f"strategy evaluation failed: tecl.clj: {message}; no trading",
        failure_step="strategy",
        error_details={"failed_strategies": {"tecl.clj": message}, "session_id": "session-2026-11-24-dev"},
        trading_date=TRADING_DATE,
    )
    return Scenario("strategy_malformed", event, history_orders())


def deadline_missing_strategies() -> Scenario:
    cid = "corr-deadline-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "aggregator_v2", "SignalAggregator"),
        failure_reason=(
            "session deadline 2026-11-24T20:40:00+00:00 passed without 2 of 3 strategies: klm.clj, tecl.clj; no trading"
        ),
        failure_step="aggregation",
        error_details={
            "missing_strategies": ["klm.clj", "tecl.clj"],
            "received_strategies": ["nuclear.clj"],
            "deadline": "2026-11-24T20:40:00+00:00",
            "deadline_policy": "no_trading",
            "session_id": "session-2026-11-24-dev",
        },
        trading_date=TRADING_DATE,
    )
    return Scenario("deadline_missing_strategies", event, history_orders())


def merge_failure() -> Scenario:
    cid = "corr-merge-fail-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "aggregator_v2", "SignalAggregator"),
        failure_reason="merging the strategies' signals failed: allocations sum to 0.9, not 1; no trading",
        failure_step="aggregation",
        error_details={"error_type": "ValueError", "session_id": "session-2026-11-24-dev"},
        trading_date=TRADING_DATE,
    )
    return Scenario("merge_failure", event, history_orders())


def portfolio_failure() -> Scenario:
    """Planning failed on a broker error whose text (wrongly) carries the credentials: scrubbed."""
    cid = "corr-portfolio-fail-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "portfolio_v2", "PortfolioService"),
        failure_reason=(
            "portfolio planning failed: broker refused the account request: 403 Forbidden "
            "(APCA-API-KEY-ID=PKX7QZ3L9ARTW2Y8M4NB, APCA-API-SECRET-KEY=Zq8vM2xR7tYp4Lk9Wn3Bc6Hd1Fg5Js0Ae2Qu8Io7Pz)"
        ),
        failure_step="portfolio",
        error_details={
            "exception_type": "BrokerError",
            "broker_status_code": 403,
            "broker_code": 40110000,
            "request_headers": {
                "APCA-API-KEY-ID": "PKX7QZ3L9ARTW2Y8M4NB",
                "APCA-API-SECRET-KEY": "Zq8vM2xR7tYp4Lk9Wn3Bc6Hd1Fg5Js0Ae2Qu8Io7Pz",
                "Accept": "application/json",
            },
        },
        trading_date=TRADING_DATE,
        consolidated_portfolio=portfolio(),
    )
    return Scenario("portfolio_failure", event, history_orders())


def planning_missing_prices() -> Scenario:
    cid = "corr-missing-prices-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "portfolio_v2", "PortfolioService"),
        failure_reason="portfolio planning failed: no usable price for: TECL, TQQQ",
        failure_step="portfolio",
        error_details={"exception_type": "MissingPriceError", "missing_prices": ["TECL", "TQQQ"]},
        trading_date=TRADING_DATE,
        consolidated_portfolio=portfolio(),
    )
    return Scenario("planning_missing_prices", event, history_orders())


def execution_failure() -> Scenario:
    """No order of the plan filled: every one rejected by the broker."""
    cid = "corr-execution-fail-2026-11-24"
    trades = [
        Trade(
            "TLT",
            "sell",
            OrderOutcome.FAILED,
            D(5),
            (Step(D(0), None, "rejected", "limit", "account is restricted to liquidation only"),),
            D("92.08"),
            D("92.14"),
            {"klm.clj": D(1)},
            "rejected: account is restricted to liquidation only (code 40310000)",
        ),
        Trade(
            "SPY",
            "buy",
            OrderOutcome.FAILED,
            D("7.5"),
            (Step(D(0), None, "rejected", "limit", "account is restricted to liquidation only"),),
            D("600.05"),
            D("600.15"),
            SPY_ATTRIBUTION,
            "rejected: account is restricted to liquidation only (code 40310000)",
        ),
    ]
    result = _execution(cid, trades, ExecutionStatus.FAILURE, [])
    event = WorkflowFailed(
        **_base(cid, "execution_v2", "ExecutionService"),
        failure_reason="no order of the plan was filled",
        failure_step="execution",
        error_details=_execution_failure_details(result),
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario(
        "execution_failure", event, history_orders() + _ledger_for(cid, trades), *booked(cid, trades, result)
    )


def execution_interrupted() -> Scenario:
    """The sells filled, then the broker went away and the last delivery gave up: partly executed."""
    cid = "corr-execution-interrupted-2026-11-24"
    error = "BrokerUnavailable: HTTP 503 from the broker after 3 attempts"
    trades = [
        Trade("BIL", "sell", OrderOutcome.FILLED, D(30), (filled("30", "91.50"),), D("91.49"), D("91.51"), UNTARGETED),
        Trade(
            "TLT", "sell", OrderOutcome.FILLED, D(5), (filled("5", "92.10"),), D("92.08"), D("92.14"), {"klm.clj": D(1)}
        ),
        # execution reports the plan's unfinished items as FAILED "not executed", without a quantity
        Trade("SPY", "buy", OrderOutcome.FAILED, None, (), D("600.05"), D("600.15"), SPY_ATTRIBUTION, "not executed"),
        Trade(
            "TQQQ", "buy", OrderOutcome.FAILED, None, (), D("80.01"), D("80.05"), {"nuclear.clj": D(1)}, "not executed"
        ),
    ]
    result = _execution(cid, trades, ExecutionStatus.PARTIAL, [f"execution did not finish: {error}"])
    event = WorkflowFailed(
        **_base(cid, "execution_v2", "ExecutionService"),
        failure_reason=f"execution did not finish after retries: {error}",
        failure_step="execution",
        error_details={"exception_type": "BrokerUnavailable", "plan_id": result.plan_id},
        trading_date=TRADING_DATE,
        execution_data=result,
        consolidated_portfolio=portfolio(),
    )
    return Scenario(
        "execution_interrupted", event, history_orders() + _ledger_for(cid, trades), *booked(cid, trades, result)
    )


def malformed_input_failure() -> Scenario:
    """A step that could not read its input event reports it (the detail is a validation error)."""
    cid = "corr-malformed-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "portfolio_v2", "lambda_handler"),
        failure_reason="malformed SignalGenerated event: 1 validation error for SignalGenerated",
        failure_step="portfolio",
        error_details={
            "exception_type": "EventParseError",
            "error": (
                "consolidated_portfolio.target_weights: target weights sum to 0.97, not 1 "
                "[type=value_error, input_value={'SPY': '0.5', 'TLT': '0.47'}]"
            ),
            "event_id": "4f9c1d2e-8a7b-4c3d-9e1f-0a2b3c4d5e6f",
        },
        trading_date=TRADING_DATE,
    )
    return Scenario("malformed_input_failure", event, history_orders())


def orchestrator_failure() -> Scenario:
    """The orchestrator could not start the workers; the error text carries credentials: scrubbed."""
    cid = "corr-orchestrator-fail-2026-11-24"
    event = WorkflowFailed(
        **_base(cid, "coordinator_v2", "StrategyOrchestrator"),
        failure_reason=(
            "could not invoke the strategy workers: An error occurred (AccessDeniedException) when calling the "
            "Invoke operation; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig123; "
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; credentials from AKIAIOSFODNN7EXAMPLE"
        ),
        failure_step="orchestrator",
        error_details={
            "error_type": "ClientError",
            "stage": "dev",
            "session_token": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ",
        },
        trading_date=TRADING_DATE,
    )
    return Scenario("orchestrator_failure", event, [])


ALL_SCENARIOS = (
    success_day,
    hold_day,
    partial_fill_day,
    market_closed_day,
    strategy_failure,
    strategy_malformed,
    deadline_missing_strategies,
    merge_failure,
    portfolio_failure,
    planning_missing_prices,
    execution_failure,
    execution_interrupted,
    malformed_input_failure,
    orchestrator_failure,
)

# the literal secrets planted in the scenarios: none may appear in any email
PLANTED_SECRETS = (
    "PKX7QZ3L9ARTW2Y8M4NB",
    "Zq8vM2xR7tYp4Lk9Wn3Bc6Hd1Fg5Js0Ae2Qu8Io7Pz",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
    "IQoJb3JpZ2luX2VjEJr",
)
