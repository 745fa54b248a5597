"""Hypothesis strategies that build valid instances of every event and the DTOs they carry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import strategies as st

from the_alchemiser.shared.events import (
    PartialSignalGenerated,
    RebalancePlanned,
    SignalGenerated,
    TradeExecuted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
)
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

symbols = st.sampled_from(["SPY", "QQQ", "TQQQ", "BRK/B", "TLT", "GLD", "BIL", "UVXY"])
texts = st.text(min_size=1, max_size=20)
money = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False, places=6
)
positive_money = st.decimals(
    min_value=Decimal(0), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False, places=4
)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
aware_datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=10))


@st.composite
def unit_weights(draw: st.DrawFn) -> dict[str, Decimal]:
    """Weights over distinct symbols summing exactly to 1."""
    chosen = draw(st.lists(symbols, min_size=1, max_size=5, unique=True))
    raw = [Decimal(draw(st.integers(1, 1000))) for _ in chosen]
    total = sum(raw)
    weights = [(r / total).quantize(Decimal("1e-12")) for r in raw]
    weights[0] += Decimal(1) - sum(weights)
    return dict(zip(chosen, weights, strict=True))


@st.composite
def strategy_signals(draw: st.DrawFn, allocation: Decimal | None = None) -> StrategySignal:
    return StrategySignal(
        strategy=draw(st.sampled_from(["nuclear.clj", "tecl.clj", "klm.clj"])),
        strategy_name=draw(texts),
        allocation=allocation if allocation is not None else Decimal(draw(st.integers(0, 100))) / 100,
        weights=draw(unit_weights()),
        as_of=draw(dates),
        rebalance_threshold=draw(st.none() | st.just(Decimal("0.05"))),
        trace_summary=draw(st.lists(texts, max_size=3)),
        trace_s3_key=draw(st.none() | texts),
    )


@st.composite
def portfolios(draw: st.DrawFn) -> tuple[list[StrategySignal], ConsolidatedPortfolio]:
    first = draw(strategy_signals(allocation=Decimal("0.6")))
    second = draw(strategy_signals(allocation=Decimal("0.4")))
    second = second.model_copy(update={"strategy": first.strategy + ".b"})
    signals = [first, second]
    return signals, ConsolidatedPortfolio.merge(signals)


@st.composite
def plan_items(draw: st.DrawFn) -> RebalancePlanItem:
    action = draw(st.sampled_from(list(TradeAction)))
    dollars = draw(positive_money.filter(lambda d: d > 0))
    return RebalancePlanItem(
        symbol=draw(symbols),
        action=action,
        current_qty=draw(positive_money),
        current_value=draw(positive_money),
        price=draw(positive_money.filter(lambda d: d > 0)),
        target_weight=draw(st.decimals(min_value=0, max_value=1, places=6)),
        target_value=draw(positive_money),
        # the plan schema's rule: the trade value's sign is the action's, quantities positive, a HOLD trades 0
        trade_value={TradeAction.BUY: dollars, TradeAction.SELL: -dollars}.get(action, Decimal(0)),
        quantity=None if action == TradeAction.HOLD else draw(st.none() | positive_money.filter(lambda d: d > 0)),
        fractionable=draw(st.booleans()),
        full_liquidation=draw(st.booleans()),
        reason=draw(st.text(max_size=10)),
        strategy_attribution=draw(st.dictionaries(texts, st.decimals(min_value=0, max_value=1, places=4), max_size=2)),
    )


@st.composite
def plans(draw: st.DrawFn) -> RebalancePlan:
    return RebalancePlan(
        plan_id=draw(texts),
        correlation_id=draw(texts),
        trading_date=draw(dates),
        created_at=draw(aware_datetimes),
        equity=draw(positive_money),
        cash=draw(money),
        deployable_equity=draw(positive_money),
        items=draw(st.lists(plan_items(), max_size=4)),
        total_sell_value=draw(positive_money),
        total_buy_value=draw(positive_money),
        estimated_cash_after=draw(money),
    )


@st.composite
def order_results(draw: st.DrawFn) -> OrderResult:
    return OrderResult(
        symbol=draw(symbols),
        side=draw(st.sampled_from(["buy", "sell"])),
        outcome=draw(st.sampled_from(list(OrderOutcome))),
        requested_qty=draw(st.none() | positive_money),
        requested_notional=draw(st.none() | positive_money),
        filled_qty=draw(positive_money),
        avg_fill_price=draw(st.none() | positive_money),
        filled_value=draw(positive_money),
        quote_at_placement=draw(
            st.none() | st.builds(QuoteSnapshot, bid=st.none() | positive_money, ask=st.none() | positive_money)
        ),
        slippage_bps=draw(st.none() | money),
        client_order_ids=draw(st.lists(texts, max_size=3)),
        broker_order_ids=draw(st.lists(texts, max_size=3)),
        steps=draw(st.integers(0, 6)),
        error=draw(st.none() | texts),
        strategy_attribution=draw(st.dictionaries(texts, st.decimals(min_value=0, max_value=1, places=4), max_size=2)),
    )


@st.composite
def execution_results(draw: st.DrawFn) -> ExecutionResult:
    return ExecutionResult(
        plan_id=draw(texts),
        correlation_id=draw(texts),
        status=draw(st.sampled_from(list(ExecutionStatus))),
        orders=draw(st.lists(order_results(), max_size=3)),
        orders_placed=draw(st.integers(0, 50)),
        orders_succeeded=draw(st.integers(0, 50)),
        total_buy_value=draw(positive_money),
        total_sell_value=draw(positive_money),
        started_at=draw(aware_datetimes),
        completed_at=draw(aware_datetimes),
        market_open=draw(st.booleans()),
        notes=draw(st.lists(texts, max_size=2)),
    )


def base_fields(draw: st.DrawFn) -> dict[str, object]:
    return {
        "correlation_id": draw(texts),
        "causation_id": draw(texts),
        "timestamp": draw(aware_datetimes),
        "source_module": draw(st.sampled_from(["coordinator_v2", "strategy_v2", "execution_v2"])),
        "source_component": draw(texts),
        "metadata": draw(st.dictionaries(texts, texts, max_size=2)),
    }


@st.composite
def events(draw: st.DrawFn) -> object:
    base = base_fields(draw)
    kind = draw(st.sampled_from(["started", "partial", "signal", "planned", "executed", "completed", "failed"]))
    if kind == "started":
        return WorkflowStarted(
            **base,
            trading_date=draw(dates),
            stage="dev",
            session_id=draw(texts),
            strategies={"nuclear.clj": Decimal("0.5"), "tecl.clj": Decimal("0.5")},
            deadline=draw(aware_datetimes),
            forced=draw(st.booleans()),
        )
    if kind == "partial":
        success = draw(st.booleans())
        return PartialSignalGenerated(
            **base,
            session_id=draw(texts),
            dsl_file="nuclear.clj",
            strategy_number=1,
            total_strategies=3,
            success=success,
            signals_data=draw(strategy_signals()) if success else None,
            error_message=None if success else draw(texts),
        )
    signals, portfolio = draw(portfolios())
    if kind == "signal":
        return SignalGenerated(
            **base, session_id=draw(texts), signals_data=signals, consolidated_portfolio=portfolio, signal_count=2
        )
    if kind == "planned":
        return RebalancePlanned(
            **base,
            rebalance_plan=draw(plans()),
            allocation_comparison={"SPY": {"target_weight": Decimal("0.5"), "current_weight": Decimal("0.25")}},
            trades_required=draw(st.booleans()),
            consolidated_portfolio=portfolio,
        )
    execution = draw(execution_results())
    if kind == "executed":
        return TradeExecuted(
            **base, execution_data=execution, orders_placed=3, orders_succeeded=2, consolidated_portfolio=portfolio
        )
    if kind == "completed":
        return WorkflowCompleted(
            **base,
            success=True,
            summary={"orders": draw(json_scalars)},
            trading_date=draw(dates),
            execution_data=execution,
            consolidated_portfolio=draw(st.none() | st.just(portfolio)),
        )
    return WorkflowFailed(
        **base,
        failure_reason=draw(texts),
        failure_step="aggregation",
        error_details={"missing_strategies": ["klm.clj"], "x": draw(json_scalars)},
        trading_date=draw(st.none() | dates),
        execution_data=draw(st.none() | st.just(execution)),
    )
