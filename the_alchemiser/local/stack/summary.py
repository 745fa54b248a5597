"""What a person reads after a local trading day: allocations with reasons, portfolio, plan, fills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from the_alchemiser.notifications_v2.email_text import (
    account_section,
    decision_lines,
    in_placement_order,
    skipped_section,
    strategy_pnl_section,
)
from the_alchemiser.notifications_v2.formatting import money, price, quantity, signed_money
from the_alchemiser.notifications_v2.report import DailyReport
from the_alchemiser.shared.events import (
    BaseEvent,
    RebalancePlanned,
    SignalGenerated,
    TradeExecuted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowStarted,
)
from the_alchemiser.shared.ledger.book import Book, positions_view

T = TypeVar("T", bound=BaseEvent)


def _pct(value: Decimal) -> str:
    return f"{value * 100:6.2f}%"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else money(value)


def render_summary(events: list[BaseEvent], notes: list[str] | None = None, report: DailyReport | None = None) -> str:
    """The day in reading order; `notes` are what the stack itself has to say (e.g. why nothing ran);
    `report` is the day's report (the ledger's booking: account, skipped legs, P&L by strategy)."""
    lines: list[str] = list(notes or [])
    started = _last(events, WorkflowStarted)
    if started:
        lines.append(
            f"Trading day {started.trading_date} (stage {started.stage}), correlation id {started.correlation_id}"
        )
    signal = _last(events, SignalGenerated)
    if signal:
        lines.append("")
        lines.append("Strategies")
        for s in signal.signals_data:
            weights = ", ".join(f"{sym} {_pct(w).strip()}" for sym, w in sorted(s.weights.items(), key=lambda i: -i[1]))
            lines.append(f"  {s.strategy:<18} allocation {_pct(s.allocation).strip():>7}  as of {s.as_of}: {weights}")
            for reason in decision_lines(s.trace_summary):  # the whole path, as the worker wrote it
                lines.append(f"      why: {reason}")
        lines.append("")
        lines.append("Merged portfolio")
        portfolio = signal.consolidated_portfolio
        for symbol, weight in sorted(portfolio.target_weights.items(), key=lambda i: -i[1]):
            who = ", ".join(f"{k} {_pct(v).strip()}" for k, v in portfolio.attribution(symbol).items())
            lines.append(f"  {symbol:<8} {_pct(weight)}   ({who})")
    planned = _last(events, RebalancePlanned)
    if planned:
        plan = planned.rebalance_plan
        lines.append("")
        lines.append(
            f"Plan: equity {_money(plan.equity)}, cash {_money(plan.cash)}, "
            f"sells {_money(plan.total_sell_value)}, buys {_money(plan.total_buy_value)}"
        )
        for item in plan.items:
            qty = "" if item.quantity is None else f" qty {item.quantity.normalize():f}"
            lines.append(
                f"  {item.action.value:<4} {item.symbol:<8} {_money(abs(item.trade_value)):>14}{qty}"
                f"  target {_pct(item.target_weight)}  {item.reason}"
            )
    executed = _last(events, TradeExecuted)
    if executed:
        result = executed.execution_data
        lines.append("")
        lines.append(
            f"Execution: {result.status.value}, {result.orders_succeeded}/{result.orders_placed} orders filled"
        )
        for order in in_placement_order(result.orders):
            slip = "-" if order.slippage_bps is None else f"{order.slippage_bps:+.1f} bps"
            price = "-" if order.avg_fill_price is None else f"{order.avg_fill_price:.4f}"
            lines.append(
                f"  {order.side:<4} {order.symbol:<8} {order.outcome.value:<16} filled {order.filled_qty.normalize():f}"
                f" @ {price}  slippage {slip}  steps {order.steps}" + (f"  ({order.error})" if order.error else "")
            )
    if report is not None:
        lines += ["", *account_section(report)]
        skipped = skipped_section(report)
        lines += ["", *skipped] if skipped else []
        lines += ["", *strategy_pnl_section(report)]
        lines += [f"  note: {note}" for note in report.booking.notes]
    outcome: Any = _last(events, WorkflowCompleted) or _last(events, WorkflowFailed)
    lines.append("")
    if isinstance(outcome, WorkflowCompleted):
        lines.append(f"Workflow completed: success={outcome.success}")
    elif isinstance(outcome, WorkflowFailed):
        lines.append(f"Workflow FAILED at {outcome.failure_step}: {outcome.failure_reason}")
        for key, value in outcome.error_details.items():
            lines.append(f"  {key}: {value}")
    elif started or not notes:
        lines.append("No workflow outcome was published.")
    return "\n".join(lines)


def _last(events: list[BaseEvent], kind: type[T]) -> T | None:
    found = [e for e in events if isinstance(e, kind)]
    return found[-1] if found else None


def _pnl(value: Decimal | None) -> str:
    return "-" if value is None else signed_money(value)


def render_positions(book: Book, *, lots: bool = False) -> str:
    """The view as text: one block per owner, then the account line."""
    view = positions_view(book)
    if not view:
        return "The trade ledger has no booked plan yet: no positions."
    marked = f"at the prices of {book.last.trading_date}" if book.last is not None else "at the last prices"
    lines = [f"Positions and P&L by strategy ({marked}; lots first in, first out)"]
    header = (
        f"  {'symbol':<8} {'qty':>16} {'lots':>4} {'cost':>14} {'price':>10} {'value':>14} "
        f"{'unrealised':>12} {'realised':>12}"
    )
    for owner in view:
        lines += ["", owner.owner, header]
        for line in owner.positions:
            lines.append(
                f"  {line.symbol:<8} {quantity(line.qty):>16} {line.lots:>4} {_money(line.cost):>14} "
                f"{price(line.mark) if line.mark is not None else '-':>10} {_money(line.market_value):>14} "
                f"{_pnl(line.unrealised):>12} {_pnl(line.realised):>12}"
            )
            if lots:
                for lot in book.holding(owner.owner, line.symbol).lots:
                    lines.append(
                        f"      lot {lot.opened_on} {lot.kind.value:<12} {quantity(lot.qty):>16} @ {price(lot.price)}"
                    )
        lines.append(
            f"  {'total':<8} {'':>16} {owner.lots:>4} {_money(owner.cost):>14} {'':>10} "
            f"{_money(owner.market_value):>14} {_pnl(owner.unrealised):>12} {_pnl(owner.realised):>12}"
        )
    unrealised = sum((o.unrealised for o in view), Decimal(0))
    realised = sum((o.realised for o in view), Decimal(0))
    lines += [
        "",
        f"All owners: unrealised {_pnl(unrealised)}, realised {_pnl(realised)}, together {_pnl(unrealised + realised)}",
    ]
    if book.first is not None and book.last is not None:
        lines.append(
            f"Account: equity {_money(book.last.equity)} after {book.last.trading_date}; "
            f"{_pnl(book.last.equity - book.first.equity)} since the first run ({book.first.trading_date}, "
            f"equity {_money(book.first.equity)})"
        )
    return "\n".join(lines)
