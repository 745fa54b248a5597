"""Five trading days on one kept local account, two strategies switching assets every day: every realised
dollar belongs to a strategy (or to `external`), each strategy's lots are the ones its exits relieve, and
the strategies' realised plus unrealised P&L is the account's change, to the cent (fees aside).

The whole stack runs each day (template routes, every handler, the local paper broker over HTTP,
DynamoDB Local); afterwards the ledger's lot book is read back through DynamoDB Local and the account
from the broker's own state."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from the_alchemiser.cli.commands.positions import read_kept_book
from the_alchemiser.local.sim_broker import DictPriceSource, start_sim_broker
from the_alchemiser.local.stack.day import DayOptions, DayResult, run_trading_day
from the_alchemiser.shared.ledger.book import EXTERNAL, positions_view

pytestmark = pytest.mark.timeout(1800)

D = Decimal
UNIVERSE = ("SPY", "TLT", "QQQ", "BIL")
WEEK = [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
# what each strategy holds each day: exits, entries, a symbol shared, a symbol passed between them
PICKS = [
    {"a.clj": ["SPY"], "b.clj": ["TLT"]},
    {"a.clj": ["QQQ"], "b.clj": ["TLT"]},  # a exits SPY (no one targets it any more)
    {"a.clj": ["QQQ"], "b.clj": ["QQQ", "BIL"]},  # b exits TLT, joins a on QQQ
    {"a.clj": ["SPY"], "b.clj": ["QQQ", "BIL"]},  # a leaves QQQ while b keeps its share
    {"a.clj": ["BIL"], "b.clj": ["SPY"]},  # they swap: a takes BIL from b, b takes SPY from a
]
STARTING_CASH = D(100_000)


def symphony(name: str, picks: list[str]) -> str:
    """Holds `picks` equally; a branch never taken names the whole universe, so every day's market has
    every symbol the account may hold."""
    everything = " ".join(f'(asset "{s}")' for s in UNIVERSE)
    chosen = " ".join(f'(asset "{s}")' for s in picks)
    return (
        f'(defsymphony "{name}" {{}}\n'
        f'  (if (> (rsi "SPY" {{:window 10}}) 1000)\n'
        f"    [(weight-equal [{everything}])]\n"
        f"    [(weight-equal [{chosen}])]))\n"
    )


def trade_rows(result: DayResult) -> list[dict[str, str]]:
    body = (result.output_dir / "report.csv").read_text()
    return [row for row in csv.DictReader(io.StringIO(body)) if row["section"] == "trade"]


def read_kept_book_holding_after(result: DayResult, owner: str, symbol: str) -> str:
    """`open` or `closed`: the owner's holding of the symbol in that day's report."""
    body = (result.output_dir / "report.csv").read_text()
    rows = csv.DictReader(io.StringIO(body))
    return next(
        r["kind"] for r in rows if r["section"] == "position" and (r["strategy"], r["symbol"]) == (owner, symbol)
    )


def broker_account(state: Path) -> tuple[Decimal, dict[str, Decimal]]:
    handle = start_sim_broker(state / "broker.sqlite", price_source=DictPriceSource({}))
    try:
        account = handle.state()
    finally:
        handle.stop()
    return D(account["cash"]), {s: D(q) for s, q in account["positions"].items() if D(q) != 0}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DayResult]]:
    out = tmp_path_factory.mktemp("week")
    strategies = tmp_path_factory.mktemp("strategies")
    (strategies / "allocations.toml").write_text('[local]\n"a.clj" = 0.5\n"b.clj" = 0.5\n')
    results = []
    for day, picks in zip(WEEK, PICKS, strict=True):
        for name, symbols in picks.items():
            (strategies / name).write_text(symphony(name, symbols))
        options = DayOptions(day=day, output_dir=out, strategies_dir=strategies, quiet=True, today=date(2026, 11, 27))
        results.append(run_trading_day(options))
    return out, results


def test_every_day_completes_and_every_realised_dollar_has_an_owner(week: tuple[Path, list[DayResult]]) -> None:
    _, results = week
    for result in results:
        assert result.outcome == "completed", result.summary
        rows = trade_rows(result)
        assert rows, f"{result.day}: nothing traded"
        assert {row["strategy"] for row in rows} <= {"a.clj", "b.clj", EXTERNAL}
        text = (result.output_dir / "email.txt").read_text() + result.summary
        assert "UNATTRIBUTED" not in text and "P&L BY STRATEGY" in text


def test_each_days_page_shows_the_kept_accounts_equity_curve_to_that_day(week: tuple[Path, list[DayResult]]) -> None:
    """output/<date>/<run-id>/report.html: the ledger's equity after each day, one more point a day."""
    _, results = week
    for count, result in enumerate(results, start=1):
        page = (result.output_dir / "report.html").read_text()
        assert page.startswith("<!DOCTYPE html>") and f"Daily report {result.day.isoformat()}" in page
        hover = json.loads(page.split('<script type="application/json">', 1)[1].split("</script>", 1)[0])
        assert hover["d"] == [r.day.isoformat() for r in results[:count]]
        if count == 1:
            assert "The first day the trade ledger has booked: one point." in page
        else:
            assert f"{count} trading days from {results[0].day.isoformat()}" in page
        assert "a.clj" in page and "Fills and slippage" in page and "P&amp;L by strategy" in page


def test_an_exit_relieves_the_lots_of_the_strategy_that_bought_them(week: tuple[Path, list[DayResult]]) -> None:
    _, results = week
    spy_exit = [r for r in trade_rows(results[1]) if r["symbol"] == "SPY"]
    assert [(r["strategy"], r["kind"]) for r in spy_exit] == [("a.clj", "sell")]
    assert spy_exit[0]["realised_pnl"] != ""
    tlt_exit = [r for r in trade_rows(results[2]) if r["symbol"] == "TLT"]
    assert {(r["strategy"], r["kind"]) for r in tlt_exit} == {("b.clj", "sell")}
    # a leaves QQQ: its lots make the sale (b only trims its own drift, if it drifted above its target)
    sold = [r for r in trade_rows(results[3]) if r["symbol"] == "QQQ" and r["kind"] in ("sell", "transfer_out")]
    by_a = sum((D(r["qty"]) for r in sold if r["strategy"] == "a.clj"), D(0))
    assert by_a > D("0.99") * sum((D(r["qty"]) for r in sold), D(0))
    assert read_kept_book_holding_after(results[3], "a.clj", "QQQ") == "closed"
    swap = {(r["strategy"], r["symbol"], r["kind"]) for r in trade_rows(results[4])}
    assert ("b.clj", "BIL", "sell") in swap or ("b.clj", "BIL", "transfer_out") in swap
    assert ("a.clj", "SPY", "sell") in swap or ("a.clj", "SPY", "transfer_out") in swap


def test_the_strategies_pnl_is_the_accounts_change_to_the_cent(week: tuple[Path, list[DayResult]]) -> None:
    out, _ = week
    book = read_kept_book(out)
    cash, positions = broker_account(out / "state")
    for symbol in set(positions) | set(book.marks):
        assert book.qty(symbol) == positions.get(symbol, D(0)), symbol  # every share has exactly one owner
    owners = positions_view(book)
    assert {owner.owner for owner in owners} <= {"a.clj", "b.clj", EXTERNAL}
    pnl = sum((owner.realised + owner.unrealised for owner in owners), D(0))
    account_change = cash + sum((qty * book.marks[s] for s, qty in positions.items()), D(0)) - STARTING_CASH
    assert abs(pnl - account_change) < D("0.005"), (pnl, account_change)
    realised = sum((owner.realised for owner in owners), D(0))
    assert realised != 0  # the week did realise something, all of it owned
