"""report.html of a trading day: each section with the scenario's numbers, everything escaped, written
once per outcome beside the CSV, and linked from the email."""

from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal as D

import pytest

from tests.support.notifications_v2.helpers import service_for
from tests.support.notifications_v2.scenarios import TRADING_DATE, Scenario, hold_day, partial_fill_day, success_day
from the_alchemiser.notifications_v2.report import build_daily_report, report_key
from the_alchemiser.notifications_v2.report_page import build_daily_page, slippage_vs
from the_alchemiser.shared.ledger.book import Book, BookingRef
from the_alchemiser.shared.schemas import OrderOutcome, OrderResult


def page_of(scenario: Scenario) -> str:
    assert scenario.booking is not None
    report = build_daily_report(scenario.booking, scenario.book)
    return build_daily_page(scenario.event, report, mode_label="PAPER", stage="dev")


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace folded."""
    body = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def section(page: str, heading: str) -> str:
    """The text of the section whose heading starts with `heading`."""
    for part in re.findall(r"<section>(.*?)</section>", page, flags=re.S):
        if text_of(part).startswith(heading):
            return text_of(part)
    raise AssertionError(f"no section {heading!r}: {re.findall(r'<h2>(.*?)</h2>', page)}")


def test_each_section_is_there_with_the_days_numbers() -> None:
    scenario = success_day()
    page = page_of(scenario)
    assert page.startswith("<!DOCTYPE html>") and "Daily report 2026-11-24" in page
    head = text_of(page.split("</header>")[0])
    assert "SUCCESS — 5 orders filled" in head and "corr-success-2026-11-24" in head
    assert "$20,047.73 equity after the plan" in head and "+$25.50 realised today" in head

    strategies = section(page, "Strategies: allocations and why")
    assert "nuclear.clj 50.0% SPY 60.0%, TQQQ 40.0%" in strategies
    assert "[Bull market] filter rsi(20) select-bottom 1: kept TQQQ" in strategies  # the deciding reasons
    assert "weights: SPY 60.0%" not in strategies  # the weights line is the holds column
    assert "klm.clj 20.0% TLT 100.0% (no decision path reported)" in strategies

    merged = section(page, "Merged portfolio")
    assert "SPY 45.0% nuclear.clj 30.0%, tecl.clj 15.0%" in merged

    plan = section(page, "Plan")
    assert "TQQQ BUY 0 $0.00 $80.03" in plan and "+$2,000.75 25" in plan
    assert "Plan id plan-corr-success-2026-11-24" in plan

    fills = section(page, "Fills and slippage")
    # TECL: 10 @ 93.70 + 6 @ 93.80 = 93.7375 avg (93.74); plan price 93.73: +0.8 bps; mid 93.73: +0.8 bps
    assert "BUY TECL FILLED 16 16 $93.74 $1,499.80 $93.73 +0.8 bps +0.8 bps" in fills
    # TLT sold at 92.10 against the plan's 92.11: 1.1 bps worse
    assert "SELL TLT FILLED 5 5 $92.10 $460.50 $92.11 +1.1 bps" in fills

    pnl = section(page, "P&L by strategy")
    assert "klm.clj TLT 25 2 $2,280.00 $92.11 $2,302.75 +$22.75 +$10.50" in pnl
    assert "nuclear.clj BIL 0 0 $0.00 $91.50 $0.00 $0.00 +$15.00" in pnl
    today = section(page, "Traded today per strategy")
    assert "nuclear.clj $5,001.60 $2,745.00 +$15.00 BIL, SPY, TQQQ" in today
    trades = section(page, "Trades booked per strategy")
    assert "nuclear.clj BIL sell 30 $91.50 $2,745.00 $2,730.00 +$15.00" in trades

    equity = section(page, "Account equity to date")
    assert "3 trading days from 2026-11-10" in equity
    assert 'id="equity"' in page and 'id="drawdown"' in page


def test_slippage_against_the_plan_price_is_positive_when_worse_for_the_account() -> None:
    def order(side: str, avg: str) -> OrderResult:
        return OrderResult(
            symbol="X",
            side=side,
            outcome=OrderOutcome.FILLED,
            filled_qty=D(1),
            avg_fill_price=D(avg),
            filled_value=D(avg),
        )

    assert slippage_vs(order("buy", "100.10"), D(100)) == D(10)
    assert slippage_vs(order("sell", "100.10"), D(100)) == D(-10)
    assert slippage_vs(order("buy", "100"), None) is None


def test_the_equity_curve_is_the_ledgers_one_point_per_day_up_to_this_booking() -> None:
    scenario = success_day()
    assert scenario.booking is not None
    curve = build_daily_report(scenario.booking, scenario.book).equity_curve
    assert [(p.trading_date.isoformat(), p.equity) for p in curve][-1] == (
        "2026-11-24",
        scenario.booking.account.equity_after,
    )
    assert [p.trading_date for p in curve] == [date(2026, 11, 10), date(2026, 11, 17), TRADING_DATE]
    later = BookingRef(correlation_id="corr-later", trading_date=date(2026, 11, 25), equity=D(1))
    again = BookingRef(correlation_id="corr-rerun", trading_date=date(2026, 11, 17), equity=D(7))
    history = list(scenario.book.history)
    history.insert(2, again)  # a second run on the 17th: the day's last booking stands for the day
    book = scenario.book.model_copy(update={"history": (*history, later)})  # a late report: its own day last
    curve = build_daily_report(scenario.booking, book).equity_curve
    assert [(p.trading_date, p.equity) for p in curve][1:] == [
        (date(2026, 11, 17), D(7)),
        (TRADING_DATE, scenario.booking.account.equity_after),
    ]


def test_a_first_day_shows_one_point_and_says_so() -> None:
    scenario = success_day()
    assert scenario.booking is not None
    book = scenario.book.model_copy(update={"history": ()})
    page = build_daily_page(scenario.event, build_daily_report(scenario.booking, book), mode_label="PAPER", stage="dev")
    assert "The first day the trade ledger has booked: one point." in section(page, "Account equity to date")
    assert page.count("<circle") == 1 and 'id="drawdown"' not in page


def test_a_day_without_trades_and_a_partial_day() -> None:
    hold = page_of(hold_day())
    assert "No orders were reported with this outcome." in section(hold, "Fills")
    assert "Trades booked" not in hold
    partial = page_of(partial_fill_day())
    fills = section(partial, "Fills and slippage")
    assert "BUY TQQQ FAILED 25 0 – $0.00 $80.03 – – insufficient buying power" in fills
    assert "Notes buys limited by buying power after sells" in text_of(partial)


def test_everything_from_other_processes_is_escaped_and_scrubbed() -> None:
    scenario = success_day()
    assert scenario.booking is not None and scenario.event.consolidated_portfolio is not None
    portfolio = scenario.event.consolidated_portfolio
    hostile = portfolio.model_copy(
        update={"decision_paths": {**portfolio.decision_paths, "klm.clj": ['if x < 3 -> <script>alert("x")</script>']}}
    )
    result = scenario.event.execution_data
    assert result is not None
    orders = [
        o.model_copy(update={"error": "<img src=x onerror=alert(1)> key PKX7QZ3L9ARTW2Y8M4NB"}) for o in result.orders
    ]
    event = scenario.event.model_copy(
        update={"consolidated_portfolio": hostile, "execution_data": result.model_copy(update={"orders": orders})}
    )
    report = build_daily_report(scenario.booking, scenario.book)
    page = build_daily_page(
        event, report, mode_label="PAPER", stage="<b>dev</b>", known_secrets=("PKX7QZ3L9ARTW2Y8M4NB",)
    )
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x" in page and "<b>dev</b>" not in page
    assert "PKX7QZ3L9ARTW2Y8M4NB" not in page
    assert page.count("<script>") == 1  # the page's own script; the charts' data is JSON, not script
    assert "src=" not in page.replace("&lt;img src=x", "") and "href=" not in page


def test_the_service_writes_the_page_once_per_outcome_beside_the_csv_and_the_email_links_it() -> None:
    scenario = success_day()
    service, sent, store, _ = service_for(scenario)
    writes: list[str] = []
    original = store.put_html
    store.put_html = lambda key, body: (writes.append(key), original(key, body))[1]  # type: ignore[method-assign]
    first = service.handle_event(scenario.event)
    again = service.handle_event(scenario.event)  # a redelivery: nothing new written
    csv_key = report_key(TRADING_DATE, scenario.event.correlation_id)
    page_key = report_key(TRADING_DATE, scenario.event.correlation_id, "html")
    assert (first.action, again.action) == ("email_sent", "duplicate_skipped")
    assert writes == [page_key] and page_key == csv_key.removesuffix(".csv") + ".html"
    assert set(store.objects) == {csv_key, page_key}
    assert store.objects[page_key].decode() == page_of(scenario)
    (message,) = sent.sent
    assert f"  {store.link(page_key, service._link_lifetime)}\n" in message.body
    assert "The day on one page (allocations and why, plan, fills, P&L, equity curve); link valid 7 days:" in (
        message.body
    )


@pytest.mark.parametrize("failure", [RuntimeError("page builder broke")])
def test_a_page_that_cannot_be_written_is_a_line_in_the_email_and_the_csv_still_goes(failure: Exception) -> None:
    scenario = success_day()
    service, sent, store, _ = service_for(scenario)

    def broken(key: str, body: bytes) -> None:
        raise failure

    store.put_html = broken  # type: ignore[method-assign]
    assert service.handle_event(scenario.event).action == "email_sent"
    (message,) = sent.sent
    assert "  No page: the page could not be written (RuntimeError: page builder broke)" in message.body
    assert set(store.objects) == {report_key(TRADING_DATE, scenario.event.correlation_id)}


def test_a_booking_from_before_the_plan_was_recorded() -> None:
    scenario = success_day()
    assert scenario.booking is not None
    booking = scenario.booking.model_copy(update={"plan": None})
    page = build_daily_page(scenario.event, build_daily_report(booking, Book()), mode_label="PAPER", stage="dev")
    assert "This booking was made before the plan was recorded with it." in section(page, "Plan")
    assert "The first day the trade ledger has booked" in page  # an empty history: this booking's own point
