"""The CSV report: parses back with pandas, its totals equal the ledger's, P&L by average cost."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.notifications_v2.helpers import build_service
from tests.notifications_v2.ledger_memory import InMemoryTradeLedger
from tests.notifications_v2.scenarios import (
    TRADING_DATE,
    execution_interrupted,
    partial_fill_day,
    success_day,
)
from the_alchemiser.notifications_v2.report import (
    PNL_AVERAGE_COST,
    PNL_UNKNOWN_BASIS,
    REPORT_COLUMNS,
    UNATTRIBUTED,
    build_performance_report,
    realised_by_sell,
    report_key,
    split_exact,
)
from the_alchemiser.shared.ledger import LedgerOrder

T0 = datetime(2026, 1, 5, 20, 30, tzinfo=UTC)


def order(
    cid: str,
    symbol: str,
    side: str,
    qty: str,
    price: str | None,
    at: int,
    attribution: dict[str, D] | None = None,
    correlation_id: str = "corr-today",
    trading_date: date = TRADING_DATE,
) -> LedgerOrder:
    placed = T0 + timedelta(minutes=at)
    return LedgerOrder(
        correlation_id=correlation_id,
        client_order_id=cid,
        broker_order_id=f"b-{cid}",
        plan_id="plan",
        trading_date=trading_date,
        symbol=symbol,
        side=side,
        order_type="limit",
        step=1,
        requested_qty=D(qty),
        requested_notional=None,
        limit_price=D(price) if price else None,
        filled_qty=D(qty) if price else D(0),
        avg_fill_price=D(price) if price else None,
        status="filled" if price else "canceled",
        bid_at_placement=None,
        ask_at_placement=None,
        placed_at=placed,
        updated_at=placed,
        strategy_attribution=attribution or {},
    )


def parse_csv(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body))


def decimal_column(body: bytes, column: str) -> list[D]:
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    return [D(value) for value in frame[column] if value != ""]


@pytest.mark.parametrize("make", [success_day, partial_fill_day, execution_interrupted], ids=lambda m: m.__name__)
def test_csv_parses_back_and_totals_equal_the_ledger(make) -> None:
    scenario = make()
    service, _, store, ledger = build_service(scenario.ledger)
    result = service.handle_event(scenario.event)
    key = report_key(TRADING_DATE, scenario.event.correlation_id)
    assert result.report_key == key
    body = store.objects[key]

    frame = parse_csv(body)
    assert tuple(frame.columns) == REPORT_COLUMNS
    ledger_orders = ledger.orders_for_correlation(scenario.event.correlation_id)
    ledger_buys = sum((o.filled_value for o in ledger_orders if o.side == "buy"), D(0))
    ledger_sells = sum((o.filled_value for o in ledger_orders if o.side == "sell"), D(0))
    ledger_qty = {
        symbol: sum((o.filled_qty for o in ledger_orders if o.symbol == symbol), D(0))
        for symbol in {o.symbol for o in ledger_orders}
    }
    # floats for a spreadsheet reader, exact Decimals for the books
    assert frame["buy_value"].sum() == pytest.approx(float(ledger_buys))
    assert frame["sell_value"].sum() == pytest.approx(float(ledger_sells))
    assert sum(decimal_column(body, "buy_value"), D(0)) == ledger_buys
    assert sum(decimal_column(body, "sell_value"), D(0)) == ledger_sells
    exact = pd.read_csv(io.BytesIO(body), dtype=str)
    for symbol, qty in ledger_qty.items():
        assert sum((D(v) for v in exact[exact["symbol"] == symbol]["filled_qty"]), D(0)) == qty
    # every filled ledger order is in the report, split by strategy shares summing to 1
    filled_ids = {o.client_order_id for o in ledger_orders if o.filled_qty > 0}
    assert set(frame["client_order_id"]) == filled_ids
    for _, rows in exact.groupby("client_order_id"):
        assert sum((D(v) for v in rows["strategy_share"]), D(0)) == pytest.approx(D(1), abs=D("1e-20"))
    # the same workflow's rows only, on its trading date
    assert set(frame["correlation_id"]) == {scenario.event.correlation_id}
    assert set(frame["trading_date"]) == {TRADING_DATE.isoformat()}


def test_success_day_rows_are_per_strategy_with_average_cost_pnl() -> None:
    scenario = success_day()
    service, _, store, _ = build_service(scenario.ledger)
    service.handle_event(scenario.event)
    frame = parse_csv(store.objects[report_key(TRADING_DATE, scenario.event.correlation_id)])

    spy = frame[frame["symbol"] == "SPY"].set_index("strategy")
    assert set(spy.index) == {"nuclear.clj", "tecl.clj"}
    assert spy.loc["nuclear.clj", "buy_value"] == pytest.approx(4500.90 * 2 / 3, abs=1e-6)
    assert spy.loc["tecl.clj", "buy_value"] == pytest.approx(4500.90 / 3, abs=1e-6)
    # TLT: bought 20 @ 90 and 10 @ 93 -> average 91; sold 5 @ 92.10 -> +5.50
    tlt = frame[frame["symbol"] == "TLT"].iloc[0]
    assert tlt["strategy"] == "klm.clj"
    assert tlt["cost_basis"] == pytest.approx(455.0)
    assert tlt["realised_pnl"] == pytest.approx(5.50)
    assert tlt["pnl_basis"] == PNL_AVERAGE_COST
    # BIL: full liquidation nobody targets any more -> UNATTRIBUTED; 30 @ 91 -> 30 @ 91.50
    bil = frame[frame["symbol"] == "BIL"].iloc[0]
    assert bil["strategy"] == UNATTRIBUTED
    assert bil["realised_pnl"] == pytest.approx(15.0)
    assert frame["realised_pnl"].sum() == pytest.approx(20.50)
    # buys realise nothing: their P&L cells are empty, not zero
    assert frame[frame["side"] == "buy"]["realised_pnl"].isna().all()


def test_average_cost_walks_history_in_placement_order() -> None:
    history = [
        order("b1", "XYZ", "buy", "10", "100", at=0),
        order("s1", "XYZ", "sell", "5", "110", at=1),  # avg 100 -> +50
        order("b2", "XYZ", "buy", "5", "120", at=2),  # 5 @ 100 + 5 @ 120 -> avg 110
        order("s2", "XYZ", "sell", "10", "105", at=3),  # -> -50, flat
        order("b3", "XYZ", "buy", "2", "50", at=4),  # a fresh position after flat
        order("s3", "XYZ", "sell", "2", "55", at=5),  # +10
        order("x1", "XYZ", "sell", "3", None, at=6),  # unfilled: ignored
    ]
    bases = realised_by_sell(reversed(history))  # input order must not matter
    assert bases["s1"].realised_pnl == D(50)
    assert bases["s2"].realised_pnl == D(-50)
    assert bases["s2"].cost_basis == D(1100)
    assert bases["s3"].realised_pnl == D(10)
    assert "x1" not in bases


def test_sell_beyond_the_known_position_has_unknown_basis_not_a_guess() -> None:
    today = [order("s1", "OLD", "sell", "10", "50", at=10)]
    history = [order("b0", "OLD", "buy", "4", "40", at=0, correlation_id="older")]
    report = build_performance_report("corr-today", TRADING_DATE, today, {"OLD": history})
    (row,) = report.rows
    assert row.pnl_basis == PNL_UNKNOWN_BASIS
    assert row.realised_pnl is None and row.cost_basis is None
    assert report.total_realised_pnl == 0
    assert report.unknown_basis_sells == 1
    frame = parse_csv(report.to_csv())
    assert pd.isna(frame.loc[0, "realised_pnl"])


def test_todays_orders_count_even_when_the_symbol_index_lags() -> None:
    """The by-symbol GSI is eventually consistent: today's buy may be missing from it."""
    today = [
        order("b1", "ABC", "buy", "10", "20", at=1),
        order("s1", "ABC", "sell", "4", "25", at=2),
    ]
    report = build_performance_report("corr-today", TRADING_DATE, today, {"ABC": []})
    sell = next(row for row in report.rows if row.side == "sell")
    assert sell.realised_pnl == D(20)


def test_thirds_split_exactly() -> None:
    third = D(1) / D(3)
    parts = split_exact(D("100.00"), [third, third, third], D("0.000001"))
    assert sum(parts, D(0)) == D("100.00")
    assert parts[0] == parts[1] == D("33.333333")


@settings(max_examples=60, deadline=None)
@given(
    fills=st.lists(
        st.tuples(
            st.sampled_from(["AAA", "BBB", "CCC"]),
            st.sampled_from(["buy", "sell"]),
            st.decimals(min_value=D("0.001"), max_value=D("500"), places=3),
            st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2),
            st.dictionaries(
                st.sampled_from(["a.clj", "b.clj", "c.clj"]),
                st.decimals(min_value=D("0.001"), max_value=D("1"), places=6),
                max_size=3,
            ),
        ),
        max_size=12,
    )
)
def test_report_totals_always_equal_the_ledger(fills) -> None:
    orders = [
        order(f"o{i}", symbol, side, str(qty), str(px), at=i, attribution=attribution)
        for i, (symbol, side, qty, px, attribution) in enumerate(fills)
    ]
    report = build_performance_report("corr-today", TRADING_DATE, orders, {})
    body = report.to_csv()
    assert sum(decimal_column(body, "buy_value"), D(0)) == sum(
        (o.filled_value for o in orders if o.side == "buy"), D(0)
    )
    assert sum(decimal_column(body, "sell_value"), D(0)) == sum(
        (o.filled_value for o in orders if o.side == "sell"), D(0)
    )
    assert sum(decimal_column(body, "filled_qty"), D(0)) == sum((o.filled_qty for o in orders), D(0))
    # per-strategy realised P&L adds up to the per-order average-cost P&L
    per_order = {}
    for symbol in {o.symbol for o in orders}:
        per_order.update(realised_by_sell(o for o in orders if o.symbol == symbol))
    expected_pnl = sum((b.realised_pnl for b in per_order.values() if b.realised_pnl is not None), D(0))
    assert report.total_realised_pnl == expected_pnl
    assert sum(decimal_column(body, "realised_pnl"), D(0)) == expected_pnl
    # each sell row's own columns agree: sell_value - cost_basis == realised_pnl, to the last digit
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    for _, row in frame[frame["pnl_basis"] == PNL_AVERAGE_COST].iterrows():
        assert D(row["sell_value"]) - D(row["cost_basis"]) == D(row["realised_pnl"])


def test_planner_unattributed_label_is_one_strategy_not_a_split() -> None:
    """The planner labels sells of holdings no strategy targets {"UNATTRIBUTED": 1}: same row as no attribution."""
    today = [
        order("s1", "OLD", "sell", "4", "50", at=2, attribution={UNATTRIBUTED: D(1)}),
        order("s2", "GONE", "sell", "2", "10", at=3),
    ]
    history = {"OLD": [order("b0", "OLD", "buy", "4", "40", at=0, correlation_id="older")]}
    report = build_performance_report("corr-today", TRADING_DATE, today, history)
    assert [(row.strategy, row.strategy_share) for row in report.rows] == [(UNATTRIBUTED, D(1)), (UNATTRIBUTED, D(1))]
    (totals,) = report.by_strategy()
    assert (totals.strategy, totals.sell_value, totals.realised_pnl) == (UNATTRIBUTED, D(220), D(40))
    assert totals.symbols == ("GONE", "OLD") and totals.unknown_basis_sells == 1


def test_no_report_when_nothing_filled() -> None:
    ledger = InMemoryTradeLedger([order("x1", "XYZ", "buy", "3", None, at=0)])
    service, _, store, _ = build_service(ledger=ledger)
    assert service.write_report("corr-today", TRADING_DATE, ledger.orders_for_correlation("corr-today")) is None
    assert store.objects == {}


def test_report_key_is_deterministic_and_safe() -> None:
    assert report_key(date(2026, 11, 24), "abc-123") == "reports/2026-11-24/abc-123.csv"
    assert report_key(date(2026, 11, 24), "a/b c") == "reports/2026-11-24/a_b_c.csv"
