"""The trade ledger and plan state against the real DynamoDB Local."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.aws import unique_name
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.ledger.models import LedgerOrder
from the_alchemiser.shared.ledger.plan_state import PhaseResolution, PlanItemState, PlanItemStatus
from the_alchemiser.shared.schemas.execution import OrderOutcome, OrderResult

pytestmark = pytest.mark.dynamodb_local

T0 = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)


@pytest.fixture
def ledger(dynamodb_local_client: Any) -> DynamoTradeLedger:
    name = unique_name("ledger")
    create_ledger_table(dynamodb_local_client, name)
    return DynamoTradeLedger(dynamodb_local_client, name)


def make_order(
    coid: str = "alc-1",
    *,
    correlation_id: str = "corr-1",
    symbol: str = "SPY",
    status: str = "new",
    filled_qty: str = "0",
    updated_at: datetime = T0,
    placed_at: datetime = T0,
    attribution: dict[str, Decimal] | None = None,
) -> LedgerOrder:
    return LedgerOrder(
        correlation_id=correlation_id,
        client_order_id=coid,
        broker_order_id="b-" + coid,
        plan_id="plan-1",
        trading_date=date(2026, 11, 20),
        symbol=symbol,
        side="buy",
        order_type="limit",
        step=0,
        requested_qty=Decimal("10"),
        requested_notional=None,
        limit_price=Decimal("100.05"),
        filled_qty=Decimal(filled_qty),
        avg_fill_price=Decimal("100.05") if Decimal(filled_qty) > 0 else None,
        status=status,
        bid_at_placement=Decimal("100.00"),
        ask_at_placement=Decimal("100.10"),
        placed_at=placed_at,
        updated_at=updated_at,
        strategy_attribution=attribution if attribution is not None else {"nuclear.clj": Decimal("1")},
    )


def test_record_round_trips_every_field(ledger: DynamoTradeLedger) -> None:
    order = make_order(attribution={"a.clj": Decimal("0.25"), "b.clj": Decimal("0.75")})
    ledger.record(order)
    assert ledger.get_order("alc-1") == order
    assert ledger.orders_for_correlation("corr-1") == [order]
    assert ledger.orders_for_symbol("SPY") == [order]
    assert ledger.orders_for_strategy("a.clj") == [order]
    assert ledger.orders_for_strategy("b.clj") == [order]


def test_record_is_an_upsert_and_a_stale_view_never_overwrites(ledger: DynamoTradeLedger) -> None:
    placed = make_order()
    filled = make_order(status="filled", filled_qty="10", updated_at=T0 + timedelta(seconds=5))
    ledger.record(placed)
    ledger.record(filled)
    ledger.record(filled)  # redelivery: same view again
    ledger.record(placed)  # an older view arriving late
    assert ledger.get_order("alc-1") == filled
    assert ledger.orders_for_correlation("corr-1") == [filled]
    assert ledger.orders_for_strategy("nuclear.clj") == [filled]


def test_indexes_separate_workflows_symbols_and_strategies(ledger: DynamoTradeLedger) -> None:
    a = make_order("alc-a", correlation_id="c1", symbol="SPY", placed_at=T0, attribution={"x.clj": Decimal(1)})
    b = make_order("alc-b", correlation_id="c1", symbol="QQQ", placed_at=T0, attribution={"y.clj": Decimal(1)})
    c = make_order(
        "alc-c", correlation_id="c2", symbol="SPY", placed_at=T0 + timedelta(days=1), attribution={"x.clj": Decimal(1)}
    )
    d = make_order("alc-d", correlation_id="c2", symbol="TLT", attribution={})
    for order in (c, a, b, d):
        ledger.record(order)
    ledger.start_plan("c1", "plan-1", "t")  # plan state must not leak into any index
    assert {o.client_order_id for o in ledger.orders_for_correlation("c1")} == {"alc-a", "alc-b"}
    assert [o.client_order_id for o in ledger.orders_for_symbol("SPY")] == ["alc-a", "alc-c"]  # by placed_at
    assert [o.client_order_id for o in ledger.orders_for_strategy("x.clj")] == ["alc-a", "alc-c"]
    assert [o.client_order_id for o in ledger.orders_for_strategy("y.clj")] == ["alc-b"]
    assert ledger.orders_for_strategy("nobody.clj") == []
    assert [o.client_order_id for o in ledger.orders_for_correlation("c2")] == ["alc-c", "alc-d"]


def test_queries_page_through_many_orders(ledger: DynamoTradeLedger) -> None:
    big = {f"s{i}.clj": Decimal("0.01") for i in range(3)}
    for i in range(120):
        ledger.record(make_order(f"alc-{i:03d}", symbol="SPY", attribution=big))
    assert len(ledger.orders_for_correlation("corr-1")) == 120
    assert len(ledger.orders_for_strategy("s1.clj")) == 120


def result(symbol: str) -> OrderResult:
    return OrderResult(
        symbol=symbol, side="buy", outcome=OrderOutcome.FILLED, filled_qty=Decimal(1), filled_value=Decimal(100)
    )


def test_plan_state_survives_redelivery(ledger: DynamoTradeLedger) -> None:
    assert ledger.load_plan("c1") is None
    state = ledger.start_plan("c1", "plan-1", "2026-11-20T20:30:00Z")
    assert state.plan_id == "plan-1" and state.items == {} and not state.completed

    ledger.save_item("c1", PlanItemState(symbol="SPY", side="buy", status=PlanItemStatus.IN_PROGRESS, step=1))
    done = PlanItemState(
        symbol="QQQ", side="buy", status=PlanItemStatus.DONE, target_qty=Decimal("2.5"), result=result("QQQ")
    )
    ledger.save_item("c1", done)
    # a late IN_PROGRESS write (a slower duplicate worker) never undoes DONE
    ledger.save_item("c1", PlanItemState(symbol="QQQ", side="buy", status=PlanItemStatus.IN_PROGRESS))
    ledger.mark_published("c1", "TradeExecuted", "evt-1")

    again = ledger.start_plan("c1", "plan-other", "later")  # redelivery keeps the first plan id and start
    assert again.plan_id == "plan-1" and again.started_at == "2026-11-20T20:30:00Z"
    assert again.item("buy", "QQQ") == done
    assert again.item("buy", "SPY") is not None and again.item("buy", "SPY").step == 1  # type: ignore[union-attr]
    assert again.published == {"TradeExecuted": "evt-1"}
    ledger.mark_completed("c1")
    assert ledger.load_plan("c1").completed  # type: ignore[union-attr]


def test_first_phase_resolution_wins_even_when_racing(ledger: DynamoTradeLedger) -> None:
    ledger.start_plan("c1", "plan-1", "t")
    candidates = [PhaseResolution(side="buy", quantities={"SPY": Decimal(i)}) for i in range(1, 9)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(lambda r: ledger.resolve_phase("c1", r), candidates))
    assert len({s.model_dump_json() for s in stored}) == 1
    assert ledger.load_plan("c1").phases["buy"] == stored[0]  # type: ignore[union-attr]


def test_plan_progress_is_what_a_forced_run_reads_before_it_starts(ledger: DynamoTradeLedger) -> None:
    """None until execution starts the plan; each lease taken moves worked_until, which outlives the lease's
    release; a completed plan says so."""
    assert ledger.plan_progress("corr-9") is None
    ledger.start_plan("corr-9", "plan-9", "2026-11-20T20:31:00.000000Z")
    started = ledger.plan_progress("corr-9")
    assert started is not None and not started.completed and started.worked_until is None
    assert started.started_at == datetime(2026, 11, 20, 20, 31, tzinfo=UTC)

    now = T0.timestamp()
    assert ledger.acquire_lease("corr-9", "delivery-1", expires_at=now + 900, now=now) is None
    assert ledger.acquire_lease("corr-9", "delivery-2", expires_at=now + 1800, now=now + 10) == now + 900  # refused
    ledger.release_lease("corr-9", "delivery-1")
    released = ledger.plan_progress("corr-9")
    assert released is not None and released.worked_until == T0 + timedelta(seconds=900)

    assert ledger.acquire_lease("corr-9", "delivery-2", expires_at=now + 2000, now=now + 60) is None
    ledger.mark_completed("corr-9")
    done = ledger.plan_progress("corr-9")
    assert done is not None and done.completed and done.worked_until == T0 + timedelta(seconds=2000)
