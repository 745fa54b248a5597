"""report.html of a trading day: the backtest report's page and charts (shared/reporting) with the day.

What the day decided and did, in reading order: the account's equity to date (the ledger's equity after
each booked plan), each strategy's allocation with its deciding reasons, the merged portfolio, the plan,
the fills with their slippage against the plan's price and the quote at placement, P&L by strategy and
the trades booked. One self-contained file (no fetch); text from other processes is scrubbed, and every
value is escaped by the page builders."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from the_alchemiser.notifications_v2.email_text import (
    EmailContext,
    OutcomeEvent,
    decision_lines,
    in_placement_order,
    outcome_headline,
)
from the_alchemiser.notifications_v2.formatting import basis_points, money, percent, price, quantity, signed_money
from the_alchemiser.notifications_v2.report import DailyReport
from the_alchemiser.notifications_v2.scrub import scrub_text
from the_alchemiser.shared.reporting.charts import PORTFOLIO_COLOR, Series, drawdown_chart, line_chart
from the_alchemiser.shared.reporting.page import Html, Page, join, table, tag
from the_alchemiser.shared.reporting.series import drawdowns
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, OrderResult, RebalancePlan

_ZERO = Decimal(0)
BPS = Decimal(10_000)


def _sign_class(value: Decimal | None) -> str:
    return "" if value is None or value == 0 else "pos" if value > 0 else "neg"


def _lines(lines: Sequence[str]) -> Html:
    return join(tag("div", line) for line in lines)


def slippage_vs(order: OrderResult, reference: Decimal | None) -> Decimal | None:
    """Basis points the average fill was worse (+) or better (-) than `reference` (the plan's price)."""
    if order.avg_fill_price is None or not reference:
        return None
    worse = order.avg_fill_price - reference if order.side.lower() == "buy" else reference - order.avg_fill_price
    return worse / reference * BPS


def build_daily_page(
    event: OutcomeEvent, report: DailyReport, *, mode_label: str, stage: str, known_secrets: Sequence[str] = ()
) -> str:
    secrets = tuple(known_secrets)
    context = EmailContext(mode_label=mode_label, stage=stage, trading_date=report.trading_date, known_secrets=secrets)
    headline = outcome_headline(event, context)
    account = report.booking.account
    page = Page(
        f"Daily report {report.trading_date.isoformat()}",
        subtitle=scrub_text(f"{headline.status} — {headline.summary}", secrets),
        lines=[
            f"{mode_label} trading · stage {stage} · correlation id {report.correlation_id} · "
            f"booked {report.booking.booked_at.isoformat(timespec='seconds')}"
        ],
    )
    day_pnl = "n/a (the first run)" if account.day_pnl is None else signed_money(account.day_pnl)
    page.headline = [
        ("equity after the plan", money(account.equity_after)),
        ("day P&L", day_pnl),
        (f"since the first run ({account.first_trading_date.isoformat()})", signed_money(account.pnl_since_first)),
        ("realised today (first in, first out)", signed_money(report.realised_today)),
        ("cash after", money(account.cash_after)),
    ]
    _equity(page, report)
    portfolio = event.consolidated_portfolio
    if portfolio is None:
        page.add("Strategies", tag("p", "The outcome event carries no portfolio."))
    else:
        _strategies(page, portfolio, secrets)
        _merged(page, portfolio)
    _plan(page, report.booking.plan, secrets)
    _fills(page, event, report, secrets)
    _pnl(page, report)
    _trades(page, report)
    notes = [*(event.execution_data.notes if event.execution_data else ()), *report.booking.notes]
    skipped = [leg for leg in report.booking.skipped if abs(leg.trade_value) >= Decimal("0.01")]
    if skipped:
        rows = [["BUY" if leg.trade_value > 0 else "SELL", leg.symbol, money(abs(leg.trade_value))] for leg in skipped]
        page.add(
            "Skipped (below the minimum trade value, not traded)", table(["side", "symbol", "value"], rows, left=2)
        )
    if notes:
        page.add("Notes", tag("ul", join(tag("li", scrub_text(note, secrets)) for note in notes)))
    return page.render()


def _equity(page: Page, report: DailyReport) -> None:
    curve = report.equity_curve
    dates = [point.trading_date for point in curve]
    values = [float(point.equity) for point in curve]
    chart = line_chart("equity", dates, [Series("account equity", values, PORTFOLIO_COLOR, width=2.2)], kind="money")
    if len(curve) == 1:
        note = "The first day the trade ledger has booked: one point. The curve gains a point with every trading day."
    else:
        note = (
            f"{len(curve)} trading days from {dates[0].isoformat()}: the equity after each day's plan at its prices "
            "(fees aside), as the trade ledger booked it."
        )
    page.add("Account equity to date", chart, note=note)
    if len(curve) > 1:
        page.add("Drawdown", drawdown_chart("drawdown", dates, [Series("account", drawdowns(values), PORTFOLIO_COLOR)]))


def _strategies(page: Page, portfolio: ConsolidatedPortfolio, secrets: tuple[str, ...]) -> None:
    rows = []
    for strategy, allocation in sorted(portfolio.strategy_allocations.items(), key=lambda i: (-i[1], i[0])):
        contributions = portfolio.strategy_contributions.get(strategy, {})
        own = sorted(((s, w / allocation) for s, w in contributions.items() if w > 0 and allocation > 0), key=_by_size)
        picks = ", ".join(f"{symbol} {percent(weight)}" for symbol, weight in own) or "no positions"
        why = [scrub_text(line, secrets) for line in decision_lines(portfolio.decision_paths.get(strategy, []))]
        rows.append([strategy, percent(allocation), picks, _lines(why or ["(no decision path reported)"])])
    page.add(
        f"Strategies: allocations and why (signals as of {portfolio.as_of.isoformat()})",
        table(["strategy", "allocation", "holds", "why (its decisions to what it holds)"], rows, text=(2, 3)),
    )


def _by_size(item: tuple[str, Decimal]) -> tuple[Decimal, str]:
    return -item[1], item[0]


def _merged(page: Page, portfolio: ConsolidatedPortfolio) -> None:
    rows = []
    for symbol, weight in sorted(portfolio.target_weights.items(), key=_by_size):
        wanted = sorted(
            ((s, c[symbol]) for s, c in portfolio.strategy_contributions.items() if c.get(symbol, _ZERO) > 0),
            key=_by_size,
        )
        rows.append([symbol, percent(weight), ", ".join(f"{s} {percent(share)}" for s, share in wanted)])
    page.add(
        "Merged portfolio (target weights)",
        table(["symbol", "weight", "wanted by (share of the portfolio)"], rows or [["(all cash)", "", ""]], text=(2,)),
    )


def _plan(page: Page, plan: RebalancePlan | None, secrets: tuple[str, ...]) -> None:
    if plan is None:
        page.add("Plan", tag("p", "This booking was made before the plan was recorded with it."))
        return
    rows = [
        [
            item.symbol,
            item.action.value,
            quantity(item.current_qty),
            money(item.current_value),
            price(item.price),
            percent(item.target_weight),
            money(item.target_value),
            signed_money(item.trade_value),
            "" if item.quantity is None else quantity(item.quantity),
            scrub_text(item.reason, secrets),
        ]
        for item in plan.items
    ]
    headers = ["symbol", "action", "held", "value", "plan price", "target", "target value", "trade", "qty", "reason"]
    page.add(
        "Plan",
        table(headers, rows, text=(9,)),
        note=f"Equity {money(plan.equity)}, cash {money(plan.cash)}, deployable {money(plan.deployable_equity)}; "
        f"sells {money(plan.total_sell_value)}, buys {money(plan.total_buy_value)}. Plan id {plan.plan_id}.",
    )


def _fills(page: Page, event: OutcomeEvent, report: DailyReport, secrets: tuple[str, ...]) -> None:
    result = event.execution_data
    if result is None or not result.orders:
        page.add("Fills", tag("p", "No orders were reported with this outcome."))
        return
    rows, classes = [], {}
    cost = _ZERO
    for r, order in enumerate(in_placement_order(result.orders)):
        reference = report.booking.marks.get(order.symbol)
        vs_plan = slippage_vs(order, reference)
        if vs_plan is not None and reference is not None:
            cost += vs_plan / BPS * reference * order.filled_qty
        classes[(r, 8)] = _sign_class(-vs_plan if vs_plan is not None else None)
        rows.append(
            [
                order.side.upper(),
                order.symbol,
                order.outcome.value,
                quantity(order.requested_qty) if order.requested_qty is not None else "",
                quantity(order.filled_qty),
                price(order.avg_fill_price) if order.avg_fill_price is not None else "–",
                money(order.filled_value),
                price(reference) if reference is not None else "–",
                basis_points(vs_plan) if vs_plan is not None else "–",
                basis_points(order.slippage_bps) if order.slippage_bps is not None else "–",
                scrub_text(order.error or "", secrets),
            ]
        )
    headers = ["side", "symbol", "outcome", "requested", "filled", "avg price", "value", "plan price",
               "vs plan price", "vs mid at placement", "note"]  # fmt: skip
    page.add(
        "Fills and slippage",
        table(headers, rows, left=3, text=(10,), cell_classes=classes),
        note="Slippage in basis points, positive = worse for the account: against the price the plan sized with, "
        "and against the quote's midpoint when the order was placed. Against the plan's prices the fills came to "
        f"{signed_money(-cost)} for the account (negative: they cost it).",
    )


def _pnl(page: Page, report: DailyReport) -> None:
    rows: list[list[object]] = []
    classes: dict[tuple[int, int], str] = {}
    emphasis, today = [], []
    for day in report.by_strategy():
        held = day.position
        for line in held.positions if held is not None else ():
            classes[(len(rows), 7)], classes[(len(rows), 8)] = _sign_class(line.unrealised), _sign_class(line.realised)
            rows.append(
                [
                    day.strategy,
                    line.symbol,
                    quantity(line.qty),
                    line.lots,
                    money(line.cost),
                    price(line.mark) if line.mark is not None else "–",
                    money(line.market_value) if line.market_value is not None else "–",
                    signed_money(line.unrealised) if line.unrealised is not None else "–",
                    signed_money(line.realised),
                ]
            )
        if held is not None:
            emphasis.append(len(rows))
            classes[(len(rows), 7)], classes[(len(rows), 8)] = _sign_class(held.unrealised), _sign_class(held.realised)
            rows.append([day.strategy, "total", "", held.lots, money(held.cost), "", money(held.market_value),
                         signed_money(held.unrealised), signed_money(held.realised)])  # fmt: skip
        today.append([day.strategy, money(day.bought), money(day.sold), signed_money(day.realised),
                      ", ".join(day.symbols)])  # fmt: skip
    headers = ["strategy", "symbol", "qty", "lots", "cost", "price", "value", "unrealised", "realised"]
    page.add(
        "P&L by strategy (its own lots, first in first out; value at today's prices)",
        table(headers, rows or [["(nothing held)", "", "", "", "", "", "", "", ""]], left=2, emphasis=emphasis,
              cell_classes=classes),
        note="Realised is since the first run.",
    )  # fmt: skip
    if today:
        page.add(
            "Traded today per strategy",
            table(["strategy", "bought", "sold", "realised today", "symbols"], today, text=(4,)),
        )


def _trades(page: Page, report: DailyReport) -> None:
    movements = report.movements()
    if not movements:
        return
    rows = [
        [
            m.owner,
            m.symbol,
            m.kind.value,
            quantity(m.qty),
            price(m.price),
            money(m.value),
            money(m.cost_basis) if m.cost_basis is not None else "",
            signed_money(m.realised) if m.realised is not None else "",
        ]
        for m in movements
    ]
    headers = ["strategy", "symbol", "kind", "qty", "price", "value", "cost basis", "realised"]
    page.add("Trades booked per strategy (as in the CSV)", table(headers, rows, left=3))
