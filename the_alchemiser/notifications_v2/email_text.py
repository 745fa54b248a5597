"""The email text: a subject with status and PAPER/LIVE, and a plain-text body a trader reads in
ten seconds (status line first, then money, then orders, then the why). Pure: same input, same text.

Everything that came from another process (failure reasons, error details, broker errors, notes)
goes through `scrub` before it is written, subject included."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from the_alchemiser.notifications_v2.formatting import (
    basis_points,
    money,
    percent,
    price,
    quantity,
    signed_money,
)
from the_alchemiser.notifications_v2.report import DailyReport
from the_alchemiser.notifications_v2.scrub import scrub_text, scrub_value
from the_alchemiser.shared.events import WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger import LedgerOrder
from the_alchemiser.shared.notifications import EmailMessage
from the_alchemiser.shared.schemas import (
    ConsolidatedPortfolio,
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
)

OutcomeEvent = WorkflowCompleted | WorkflowFailed

RULE = "-" * 60
# WorkflowCompleted.summary keys (execution_v2) whose figures the ORDERS section already shows
EXECUTION_SUMMARY_KEYS = (
    "status",
    "orders_placed",
    "orders_succeeded",
    "total_buy_value",
    "total_sell_value",
    "not_filled",
)
_REASON_IN_SUBJECT = 60
DETAIL_LIMIT = 1000


@dataclass(frozen=True)
class PageSection:
    """report.html beside the CSV: its link, or why there is none."""

    url: str | None = None
    key: str | None = None
    location: str | None = None  # s3://bucket/key
    note: str | None = None


@dataclass(frozen=True)
class ReportSection:
    """The CSV report as the email mentions it: a link and its totals, or why there is none."""

    url: str | None = None
    key: str | None = None
    lifetime: timedelta | None = None
    location: str | None = None  # s3://bucket/key
    link_may_expire_early: bool = False
    report: DailyReport | None = None
    note: str | None = None
    page: PageSection = field(default_factory=PageSection)  # the day's report.html


@dataclass(frozen=True)
class EmailContext:
    mode_label: str  # PAPER / LIVE
    stage: str
    trading_date: date
    ledger_orders: tuple[LedgerOrder, ...] | None = None  # None: the ledger could not be read
    ledger_error: str | None = None
    report: ReportSection = field(default_factory=ReportSection)
    known_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Headline:
    status: str  # SUCCESS / PARTIAL / FAILED / MARKET CLOSED
    summary: str


def _clean(text: str, context: EmailContext) -> str:
    return scrub_text(text, context.known_secrets)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _count(orders: Sequence[OrderResult], outcome: OrderOutcome) -> int:
    return sum(1 for order in orders if order.outcome == outcome)


def _clip(text: str, limit: int = DETAIL_LIMIT) -> str:
    """Long values (tracebacks, payload dumps) are cut: the email is a summary, the logs have it all."""
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _names(value: Any) -> list[str]:
    """Strategy names from a list, a dict (name -> reason) or a single string."""
    if isinstance(value, dict):
        return sorted(str(key) for key in value)
    if isinstance(value, (list, tuple, set)):
        return sorted(str(item) for item in value)
    if value in (None, ""):
        return []
    return [str(value)]


def execution_headline(result: ExecutionResult) -> Headline:
    orders = result.orders
    filled = _count(orders, OrderOutcome.FILLED)
    partial = _count(orders, OrderOutcome.PARTIALLY_FILLED)
    failed = _count(orders, OrderOutcome.FAILED)
    traded = [order for order in orders if order.outcome != OrderOutcome.SKIPPED]
    if not result.market_open:
        return Headline("MARKET CLOSED", "no orders placed")
    if result.status == ExecutionStatus.NO_TRADES or not traded:
        return Headline("SUCCESS", "no trades needed (all HOLD)")
    if result.status == ExecutionStatus.SUCCESS and partial == 0 and failed == 0:
        return Headline("SUCCESS", f"{_plural(filled, 'order')} filled")
    detail = ", ".join(
        part for part in (f"{partial} partial" if partial else "", f"{failed} failed" if failed else "") if part
    )
    summary = f"{filled} of {len(traded)} orders filled" + (f" ({detail})" if detail else "")
    status = "FAILED" if result.status == ExecutionStatus.FAILURE else "PARTIAL"
    return Headline(status, summary)


def failure_headline(event: WorkflowFailed, context: EmailContext) -> Headline:
    result = event.execution_data
    if result is not None and not result.market_open:
        # execution reports a closed market as a failure (nothing traded); the subject says why
        skipped = _count(result.orders, OrderOutcome.SKIPPED)
        planned = f" ({_plural(skipped, 'planned trade')} skipped)" if skipped else ""
        return Headline("MARKET CLOSED", f"no orders placed{planned}")
    details = event.error_details
    missing = _names(details.get("missing_strategies"))
    failed = _names(details.get("failed_strategies"))
    parts = []
    if failed:
        parts.append(f"{_plural(len(failed), 'strategy', 'strategies')} failed ({', '.join(failed)})")
    if missing:
        parts.append(
            f"{_plural(len(missing), 'strategy', 'strategies')} missing at the deadline ({', '.join(missing)})"
        )
    if result is not None and not parts:
        # what did trade comes first: a half-done rebalance needs a look at the account today
        traded = [order for order in result.orders if order.outcome != OrderOutcome.SKIPPED]
        done = _count(result.orders, OrderOutcome.FILLED) + _count(result.orders, OrderOutcome.PARTIALLY_FILLED)
        if traded:
            parts.append(f"{done} of {_plural(len(traded), 'order')} filled")
    reason = _one_line(_clean(event.failure_reason, context), _REASON_IN_SUBJECT)
    summary = ", ".join(parts) if parts else reason
    if result is not None and parts:
        summary += f"; {reason}"
    return Headline("FAILED", f"at {event.failure_step}: {summary}")


def outcome_headline(event: OutcomeEvent, context: EmailContext) -> Headline:
    if isinstance(event, WorkflowFailed):
        return failure_headline(event, context)
    if event.execution_data is not None:
        headline = execution_headline(event.execution_data)
        if not event.success and headline.status == "SUCCESS":
            return Headline("FAILED", "workflow reported failure")
        return headline
    return (
        Headline("SUCCESS", "workflow completed") if event.success else Headline("FAILED", "workflow reported failure")
    )


def subject_line(context: EmailContext, headline: Headline) -> str:
    return (
        f"[{context.mode_label}] Alchemiser {context.trading_date.isoformat()}: {headline.status} — {headline.summary}"
    )


def _order_line(order: OrderResult, context: EmailContext) -> str:
    side = order.side.upper().ljust(4)
    symbol = order.symbol.ljust(6)
    outcome = {
        OrderOutcome.FILLED: "FILLED",
        OrderOutcome.PARTIALLY_FILLED: "PARTIAL",
        OrderOutcome.FAILED: "FAILED",
        OrderOutcome.SKIPPED: "SKIPPED",
    }[order.outcome].ljust(8)
    if order.requested_qty is not None:
        requested = quantity(order.requested_qty)
    elif order.requested_notional is not None:
        requested = f"{money(order.requested_notional)} worth"
    else:
        requested = "?"
    parts: list[str] = []
    if order.outcome == OrderOutcome.SKIPPED:
        parts.append(f"{requested} requested")
    elif order.filled_qty > 0:
        filled = quantity(order.filled_qty)
        amount = filled if order.outcome == OrderOutcome.FILLED else f"{filled} of {requested}"
        fill_price = price(order.avg_fill_price) if order.avg_fill_price is not None else "price n/a"
        parts.append(f"{amount} @ {fill_price} = {money(order.filled_value)}")
        if order.slippage_bps is not None:
            parts.append(f"slippage {basis_points(order.slippage_bps)}")
    elif order.requested_qty is None and order.requested_notional is None:
        parts.append("nothing filled")
    else:
        parts.append(f"0 of {requested}")
    if order.error:
        label = {OrderOutcome.SKIPPED: "reason: ", OrderOutcome.FILLED: "note: "}.get(order.outcome, "error: ")
        parts.append(label + _clean(order.error, context))
    return f"  {side} {symbol} {outcome} " + " · ".join(parts)


def in_placement_order(orders: Sequence[OrderResult]) -> list[OrderResult]:
    """Sells first (their phase is placed first), then buys; each phase's orders go out together, in plan order."""
    return sorted(orders, key=lambda order: order.side.lower() != "sell")


def account_section(report: DailyReport) -> list[str]:
    """Equity, cash and P&L from the ledger's booking (at the plan's prices, fees aside)."""
    account = report.booking.account
    day = "n/a (the first run)" if account.day_pnl is None else signed_money(account.day_pnl)
    return [
        "ACCOUNT (at today's prices, fees aside)",
        f"  Equity {money(account.equity_after)} · cash {money(account.cash_after)}",
        f"  Day P&L {day} · since the first run ({account.first_trading_date.isoformat()}) "
        f"{signed_money(account.pnl_since_first)}",
    ]


def strategy_pnl_section(report: DailyReport) -> list[str]:
    """Per strategy (and external): value of its open lots, unrealised and realised P&L, today's trades."""
    days = report.by_strategy()
    if not days:
        return []
    width = max(len(day.strategy) for day in days)
    lines = ["P&L BY STRATEGY (its own lots, first in first out; value at today's prices)"]
    for day in days:
        held = day.position
        value = money(held.market_value) if held is not None else money(Decimal(0))
        unrealised = signed_money(held.unrealised) if held is not None else "$0.00"
        total = signed_money(held.realised) if held is not None else "$0.00"
        symbols = ", ".join(p.symbol for p in held.open_positions) if held is not None else ""
        lots = _plural(sum(p.lots for p in held.open_positions), "lot") if held is not None else "0 lots"
        lines.append(
            f"  {day.strategy.ljust(width)}  value {value}, unrealised {unrealised}, realised today "
            f"{signed_money(day.realised)} (since the first run {total}); {lots}" + (f": {symbols}" if symbols else "")
        )
        if day.bought or day.sold:
            traded = ", ".join(day.symbols)
            lines.append(f"  {''.ljust(width)}  today: bought {money(day.bought)}, sold {money(day.sold)} ({traded})")
    return lines


def skipped_section(report: DailyReport) -> list[str]:
    skipped = [leg for leg in report.booking.skipped if abs(leg.trade_value) >= Decimal("0.01")]
    if not skipped:
        return []
    lines = [f"SKIPPED ({_plural(len(skipped), 'leg')} below the minimum trade value, not traded)"]
    for leg in skipped:
        side = "BUY " if leg.trade_value > 0 else "SELL"
        lines.append(f"  {side} {leg.symbol.ljust(6)} {money(abs(leg.trade_value))}")
    return lines


def execution_section(result: ExecutionResult, context: EmailContext) -> list[str]:
    orders = in_placement_order(result.orders)
    buys = result.total_buy_value
    sells = result.total_sell_value
    net = signed_money(buys - sells)
    if buys or sells:
        lines = [f"Capital deployed: {money(buys)} bought, {money(sells)} sold (net {net} into positions)"]
    else:
        lines = ["Capital deployed: none (nothing bought or sold)"]
    report = context.report.report
    if report is not None:
        lines.append(f"Realised P&L today (first in, first out): {signed_money(report.realised_today)}")
    lines.append("")
    if not orders:
        reason = "the market is closed" if not result.market_open else "every position is already at its target"
        lines.append(f"ORDERS: none ({reason})")
        return lines
    counts = ", ".join(
        f"{label} {_count(orders, outcome)}"
        for label, outcome in (
            ("filled", OrderOutcome.FILLED),
            ("partially filled", OrderOutcome.PARTIALLY_FILLED),
            ("failed", OrderOutcome.FAILED),
            ("skipped", OrderOutcome.SKIPPED),
        )
    )
    lines.append(f"ORDERS ({len(orders)}): {counts}")
    lines.extend(_order_line(order, context) for order in orders)
    return lines


def ledger_section(context: EmailContext) -> list[str]:
    """For outcomes without an execution result: what the trade ledger says was placed."""
    if context.ledger_orders is None:
        reason = _clean(context.ledger_error or "unknown error", context)
        return [f"ORDERS: unknown. The trade ledger could not be read ({reason}); check the broker account."]
    if not context.ledger_orders:
        return ["ORDERS: none. No order was placed for this workflow (the trade ledger has none)."]
    lines = [f"ORDERS in the trade ledger for this workflow ({len(context.ledger_orders)}):"]
    for order in sorted(context.ledger_orders, key=lambda o: (o.placed_at, o.step, o.client_order_id)):
        fill = (
            f"{quantity(order.filled_qty)} filled @ {price(order.avg_fill_price)}"
            if order.filled_qty > 0 and order.avg_fill_price is not None
            else "nothing filled"
        )
        line = f"  {order.side.upper().ljust(4)} {order.symbol.ljust(6)} {order.status} · {fill}"
        if order.error:
            line += f" · error: {_clean(order.error, context)}"
        lines.append(line)
    return lines


def portfolio_section(portfolio: ConsolidatedPortfolio) -> list[str]:
    lines = [f"TARGET PORTFOLIO (merged, signals as of {portfolio.as_of.isoformat()})"]
    if not portfolio.target_weights:
        lines.append("  (empty: all cash)")
    ordered = sorted(portfolio.target_weights.items(), key=lambda item: (-item[1], item[0]))
    for symbol, weight in ordered:
        wanted_by = sorted(
            (
                (strategy, contributions[symbol])
                for strategy, contributions in portfolio.strategy_contributions.items()
                if contributions.get(symbol, Decimal(0)) > 0
            ),
            key=lambda item: (-item[1], item[0]),
        )
        who = ", ".join(f"{strategy} {percent(share)}" for strategy, share in wanted_by)
        lines.append(f"  {symbol.ljust(6)} {percent(weight).rjust(6)}  <- {who}")
    lines.append("")
    lines.append("STRATEGY ALLOCATIONS (each strategy's own picks)")
    for strategy, allocation in sorted(portfolio.strategy_allocations.items(), key=lambda item: (-item[1], item[0])):
        contributions = portfolio.strategy_contributions.get(strategy, {})
        if allocation > 0 and contributions:
            own = sorted(((s, w / allocation) for s, w in contributions.items() if w > 0), key=lambda i: (-i[1], i[0]))
            picks = ", ".join(f"{symbol} {percent(weight)}" for symbol, weight in own)
        else:
            picks = "no positions"
        lines.append(f"  {strategy}: {percent(allocation)} of the portfolio -> {picks}")
    return lines


def decisions_section(portfolio: ConsolidatedPortfolio) -> list[str]:
    """Each strategy's whole decision path, every line as the strategy worker wrote it (never cut here)."""
    if not portfolio.decision_paths:
        return []
    lines = ["WHY (each strategy's decisions to what it holds)"]
    for strategy in sorted(portfolio.decision_paths):
        lines.append(f"  {strategy}")
        lines.extend(f"    {line}" for line in decision_lines(portfolio.decision_paths[strategy]))
    return lines


def decision_lines(trace_summary: Sequence[str]) -> list[str]:
    """The trace summary without its weights line (the allocation lines show the weights)."""
    return [line for line in trace_summary if not line.startswith("weights:")]


def report_section(context: EmailContext) -> list[str]:
    section = context.report
    lines = ["REPORT"]
    if section.url:
        days = section.lifetime.days if section.lifetime is not None else None
        if days and section.link_may_expire_early:
            validity = f"; link valid up to {_plural(days, 'day')}"
        else:
            validity = f"; link valid {_plural(days, 'day')}" if days else ""
        page = section.page
        if page.url:
            lines.append(f"  The day on one page (allocations and why, plan, fills, P&L, equity curve){validity}:")
            lines.append(f"  {page.url}")
        lines.append(f"  CSV with per-strategy trades, positions and P&L{validity}:")
        lines.append(f"  {section.url}")
        if page.note:
            lines.append(f"  No page: {_clean(page.note, context)}")
        if section.link_may_expire_early and section.location:
            files = ", ".join(where for where in (page.location if page.url else None, section.location) if where)
            lines.append(
                f"  (signed with temporary credentials, {'they' if page.url else 'it'} can stop working sooner; "
                f"the {'files' if page.url else 'file'}: {files})"
            )
    else:
        lines.append(f"  No CSV report: {_clean(section.note or 'no orders were filled', context)}")
    return lines


def _detail_lines(details: dict[str, Any], context: EmailContext, skip: Iterable[str] = ()) -> list[str]:
    scrubbed = scrub_value(details, context.known_secrets)
    lines = []
    for key in sorted(scrubbed):
        value = scrubbed[key]
        if key in skip or value in (None, "", {}, []):
            continue
        if isinstance(value, dict):
            rendered = "; ".join(f"{k}={v}" for k, v in sorted(value.items()))
        elif isinstance(value, list):
            rendered = ", ".join(str(item) for item in value)
        else:
            rendered = str(value)
        lines.append(f"  {key}: {_clip(rendered)}")
    return lines


def _strategy_problem_lines(details: dict[str, Any], context: EmailContext) -> list[str]:
    lines = []
    failed = details.get("failed_strategies")
    if failed:
        if isinstance(failed, dict):
            lines.append("  Failed strategies:")
            for name in sorted(failed):
                reason = scrub_value(failed[name], context.known_secrets)
                lines.append(f"    {name}: {_one_line(str(reason), 300)}")
        else:
            lines.append(f"  Failed strategies: {', '.join(_names(scrub_value(failed, context.known_secrets)))}")
    missing = _names(details.get("missing_strategies"))
    if missing:
        lines.append(f"  Missing strategies (no result by the deadline): {', '.join(missing)}")
    return lines


def _footer(event: OutcomeEvent) -> list[str]:
    return [
        RULE,
        f"Correlation id: {event.correlation_id}",
        f"Event: {event.event_type} {event.event_id} from {event.source_module}.{event.source_component} "
        f"at {event.timestamp.isoformat()}",
    ]


def _heading(context: EmailContext, headline: Headline) -> list[str]:
    return [
        f"{headline.status} — {headline.summary}",
        f"{context.mode_label} trading · stage {context.stage} · trading date {context.trading_date.isoformat()}",
        RULE,
    ]


def _booked_sections(context: EmailContext) -> tuple[list[str], list[str], list[str]]:
    """(account lines, skipped legs, P&L by strategy) when the ledger booked the plan."""
    report = context.report.report
    if report is None:
        return [], [], []
    return account_section(report), skipped_section(report), strategy_pnl_section(report)


def _notes(result: ExecutionResult | None, context: EmailContext) -> list[str]:
    notes = list(result.notes) if result is not None else []
    if context.report.report is not None:
        notes += context.report.report.booking.notes
    return [_clean(note, context) for note in notes]


def _portfolio_sections(portfolio: ConsolidatedPortfolio | None) -> list[str]:
    if portfolio is None:
        return []
    lines = ["", *portfolio_section(portfolio)]
    decisions = decisions_section(portfolio)
    return lines + (["", *decisions] if decisions else [])


def _with_blank(section: list[str]) -> list[str]:
    return ["", *section] if section else []


def _trading_sections(event: WorkflowCompleted | WorkflowFailed, context: EmailContext) -> tuple[list[str], list[str]]:
    """The account, the orders (or the ledger's), skipped legs, P&L by strategy and the portfolio; and the notes."""
    lines: list[str] = []
    account, skipped, by_strategy = _booked_sections(context)
    if account:
        lines += [*account, ""]
    if event.execution_data is not None:
        lines += execution_section(event.execution_data, context)
    else:
        lines += ledger_section(context)
    lines += _with_blank(skipped) + _with_blank(by_strategy)
    lines += _portfolio_sections(event.consolidated_portfolio)
    return lines, _notes(event.execution_data, context)


def render_completed_body(event: WorkflowCompleted, context: EmailContext, headline: Headline) -> str:
    lines = _heading(context, headline)
    trading, notes = _trading_sections(event, context)
    lines += trading
    lines += ["", *report_section(context)]
    if notes:
        lines += ["", "NOTES", *(f"  - {note}" for note in notes)]
    # the summary's figures the execution section already shows are not repeated
    shown = EXECUTION_SUMMARY_KEYS if event.execution_data is not None else ()
    summary = _detail_lines(event.summary, context, skip=shown)
    if summary:
        lines += ["", "WORKFLOW SUMMARY", *summary]
    lines += _footer(event)
    return "\n".join(lines) + "\n"


def render_failed_body(event: WorkflowFailed, context: EmailContext, headline: Headline) -> str:
    lines = _heading(context, headline)
    lines += [
        "WHAT FAILED",
        f"  Step: {event.failure_step}",
        f"  Reason: {_clip(_clean(event.failure_reason, context))}",
        *_strategy_problem_lines(event.error_details, context),
    ]
    skip = ["missing_strategies", "failed_strategies"]
    if event.execution_data is not None:
        skip.append("orders")  # each order's error is on its line under ORDERS
    other_details = _detail_lines(event.error_details, context, skip=skip)
    if other_details:
        lines += ["", "ERROR DETAILS", *other_details]
    lines.append("")
    trading, notes = _trading_sections(event, context)
    lines += trading
    if context.report.url or (context.ledger_orders and any(o.filled_qty > 0 for o in context.ledger_orders)):
        lines += ["", *report_section(context)]
    if notes:
        lines += ["", "NOTES", *(f"  - {note}" for note in notes)]
    lines += _footer(event)
    return "\n".join(lines) + "\n"


def render_outcome_email(event: OutcomeEvent, context: EmailContext) -> EmailMessage:
    """The one email for a workflow outcome (WorkflowCompleted or WorkflowFailed)."""
    headline = outcome_headline(event, context)
    if isinstance(event, WorkflowFailed):
        body = render_failed_body(event, context, headline)
    else:
        body = render_completed_body(event, context, headline)
    return EmailMessage(
        subject=_clean(subject_line(context, headline), context),
        body=body,
        attributes={
            "status": headline.status,
            "mode": context.mode_label,
            "stage": context.stage,
            "event_type": event.event_type,
            "correlation_id": event.correlation_id,
        },
    )


def render_malformed_event_email(
    *,
    mode_label: str,
    stage: str,
    envelope_id: str,
    detail_type: str | None,
    source: str | None,
    error: str,
    received_at: datetime,
    known_secrets: Sequence[str] = (),
) -> EmailMessage:
    """An operator alert for an event notifications could not read: the workflow's outcome is unknown."""
    secrets = tuple(known_secrets)
    kind = detail_type or "unknown event"
    subject = f"[{mode_label}] Alchemiser: FAILED — notifications could not read {kind}"
    body = "\n".join(
        [
            f"FAILED — notifications could not read a {kind} event",
            f"{mode_label} trading · stage {stage} · received {received_at.isoformat()}",
            RULE,
            "The workflow's outcome is unknown from this event: check the trade ledger and the broker account.",
            "",
            "WHAT FAILED",
            "  Step: notifications",
            "  Reason: malformed event",
            f"  Source: {scrub_text(source or 'unknown', secrets)}",
            f"  EventBridge event id: {scrub_text(envelope_id, secrets)}",
            "",
            "ERROR DETAILS",
            *(f"  {scrub_text(line, secrets)}" for line in error.strip().splitlines()[:40]),
            RULE,
        ]
    )
    return EmailMessage(
        subject=scrub_text(subject, secrets),
        body=body + "\n",
        attributes={"status": "FAILED", "mode": mode_label, "stage": stage, "event_type": "MalformedEvent"},
    )
