"""The walk through the book, step by step, against a scripted in-memory broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from tests.support.execution_v2.clock import VirtualWaitClock
from tests.support.execution_v2.fake_broker import FakeBroker, crossing_fills, fills_nothing
from the_alchemiser.execution_v2.book_walk import BookWalker, WalkRequest, quantize_qty, step_limit_price
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.order_ids import client_order_id
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, OrderStatus, OrderType, Quote

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def q(bid: str, ask: str, symbol: str = "SPY") -> Quote:
    return Quote(symbol=symbol, bid=D(bid), ask=D(ask))


# --- limit prices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "fraction", "expected"),
    [
        (BUY, "0", "100.02"),  # mid 100.025 rounds down for a buy
        (BUY, "0.5", "100.03"),
        (BUY, "1", "100.05"),  # the ask, never above
        (SELL, "0", "100.03"),  # rounds up for a sell
        (SELL, "0.5", "100.02"),
        (SELL, "1", "100.00"),  # the bid, never below
    ],
)
def test_steps_go_from_the_midpoint_to_the_far_touch(side: OrderSide, fraction: str, expected: str) -> None:
    assert step_limit_price(q("100.00", "100.05"), side, D(fraction), last_limit=False) == D(expected)


def test_sub_dollar_prices_use_the_finer_tick() -> None:
    assert step_limit_price(q("0.5000", "0.5003"), BUY, D(0), last_limit=False) == D("0.5001")
    assert step_limit_price(q("0.5000", "0.5003"), SELL, D(0), last_limit=False) == D("0.5002")


def test_limit_prices_never_cross_the_touch_whatever_the_fraction() -> None:
    quote = q("10.00", "10.01")
    for fraction in (D(0), D("0.3"), D("0.99"), D(1), D(2)):
        assert step_limit_price(quote, BUY, fraction, last_limit=False) <= quote.ask  # type: ignore[operator]
        assert step_limit_price(quote, SELL, fraction, last_limit=False) >= quote.bid  # type: ignore[operator]


def test_quotes_without_a_midpoint() -> None:
    ask_only, bid_only, zero, crossed = q("0", "50.00"), q("49.90", "0"), q("0", "0"), q("50.10", "50.00")
    # only the last limit step may rest at the far touch, and only when the far touch is the side we know
    assert step_limit_price(ask_only, BUY, D(0), last_limit=False) is None
    assert step_limit_price(ask_only, BUY, D(1), last_limit=True) == D("50.00")
    assert step_limit_price(ask_only, SELL, D(1), last_limit=True) is None
    assert step_limit_price(bid_only, SELL, D(1), last_limit=True) == D("49.90")
    assert step_limit_price(zero, BUY, D(1), last_limit=True) is None
    assert step_limit_price(crossed, BUY, D(1), last_limit=True) is None
    assert step_limit_price(None, BUY, D(1), last_limit=True) is None


def test_quantities_round_down() -> None:
    assert quantize_qty(D("3.9"), fractionable=False) == D(3)
    assert quantize_qty(D("0.1234567899"), fractionable=True) == D("0.123456789")
    assert quantize_qty(D("-1"), fractionable=True) == D(0)


# --- the walk -----------------------------------------------------------------------------------


@dataclass
class Recorder:
    events: list[tuple[str, int, str]] = field(default_factory=list)
    quotes: list[Quote | None] = field(default_factory=list)

    def before_placement(self, step: int, coid: str, request: OrderRequest, quote: Quote | None) -> None:
        self.events.append(("intent", step, coid))
        self.quotes.append(quote)

    def order_placed(self, step: int, order: Order) -> None:
        self.events.append(("placed", step, order.client_order_id))

    def order_settled(self, step: int, order: Order) -> None:
        self.events.append(("settled", step, order.status.value))

    def step_skipped(self, step: int, reason: str) -> None:
        self.events.append(("skipped", step, reason))


CONFIG = ExecutionConfig(step_wait_seconds=2, poll_interval_seconds=1, market_wait_seconds=5, cancel_wait_seconds=2)


def walk(broker: FakeBroker, side: OrderSide = BUY, qty: str = "10", **kwargs: object) -> tuple[object, Recorder]:
    recorder = Recorder()
    request = WalkRequest(correlation_id="corr", symbol="SPY", side=side, qty=D(qty), fractionable=False, **kwargs)  # type: ignore[arg-type]
    result = BookWalker(broker, VirtualWaitClock(), CONFIG).walk(request, recorder)
    return result, recorder


def test_a_fill_at_the_midpoint_is_one_order() -> None:
    def mid_fills(request: OrderRequest, quote: Quote | None) -> tuple[Decimal, Decimal | None]:
        return request.qty or D(0), request.limit_price

    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=mid_fills)
    result, _ = walk(broker)
    assert [r.limit_price for r in broker.placed] == [D("100.05")]
    assert result.filled_qty == D(10) and result.avg_fill_price == D("100.05")  # type: ignore[attr-defined]


def test_unfilled_steps_walk_to_the_far_touch_and_each_step_is_cancelled_first() -> None:
    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=crossing_fills)
    result, recorder = walk(broker)
    # midpoint, halfway, the ask: the ask crosses and fills; no market order needed
    assert [(r.type, r.limit_price) for r in broker.placed] == [
        (OrderType.LIMIT, D("100.05")),
        (OrderType.LIMIT, D("100.07")),
        (OrderType.LIMIT, D("100.10")),
    ]
    assert [o.status for o in result.orders] == [  # type: ignore[attr-defined]
        OrderStatus.CANCELED,
        OrderStatus.CANCELED,
        OrderStatus.FILLED,
    ]
    assert [e[2] for e in recorder.events if e[0] == "intent"] == [
        client_order_id("corr", "SPY", "buy", step) for step in range(3)
    ]
    # a look-up of the item's next id before every placement (whoever placed it, it is the item's progress)
    assert broker.calls.count("get_order_by_client_id") == 3


def test_partial_fills_are_cumulative_and_only_the_remainder_is_re_placed() -> None:
    def partial(request: OrderRequest, quote: Quote | None) -> tuple[Decimal, Decimal | None]:
        if request.type == OrderType.MARKET:
            return request.qty or D(0), D("100.11")
        return (D(3), request.limit_price) if request.limit_price == D("100.05") else (D(0), None)

    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=partial)
    result, _ = walk(broker)
    assert [r.qty for r in broker.placed] == [D(10), D(7), D(7), D(7)]
    assert broker.placed[-1].type == OrderType.MARKET
    assert result.filled_qty == D(10)  # type: ignore[attr-defined]
    expected_avg = (D(3) * D("100.05") + D(7) * D("100.11")) / D(10)
    assert result.avg_fill_price == expected_avg  # type: ignore[attr-defined]


def test_a_fill_racing_the_cancel_is_counted_and_nothing_more_is_placed() -> None:
    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=fills_nothing, cancel_race=True)
    result, _ = walk(broker)
    assert len(broker.placed) == 1  # the midpoint order filled while we cancelled it
    assert result.filled_qty == D(10)  # type: ignore[attr-defined]
    assert result.orders[0].status == OrderStatus.FILLED  # type: ignore[attr-defined]


def test_zero_quote_goes_straight_to_the_market_step() -> None:
    broker = FakeBroker(quotes={"SPY": q("0", "0")})
    result, recorder = walk(broker)
    assert [r.type for r in broker.placed] == [OrderType.MARKET]
    assert [e[1] for e in recorder.events if e[0] == "skipped"] == [0, 1, 2]
    assert result.filled_qty == D(10)  # type: ignore[attr-defined]


def test_one_sided_quote_rests_at_the_known_far_touch_only() -> None:
    broker = FakeBroker(quotes={"SPY": q("0", "100.10")}, fill_rule=fills_nothing)
    walk(broker)
    assert [(r.type, r.limit_price) for r in broker.placed] == [
        (OrderType.LIMIT, D("100.10")),
        (OrderType.MARKET, None),
    ]


def test_an_existing_order_is_resumed_not_placed_again() -> None:
    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=fills_nothing)
    # a previous delivery placed the midpoint order, then crashed
    broker.place_order(
        OrderRequest(
            symbol="SPY",
            side=BUY,
            type=OrderType.LIMIT,
            qty=D(10),
            limit_price=D("100.05"),
            client_order_id=client_order_id("corr", "SPY", "buy", 0),
        )
    )
    broker.fill(broker.by_client_id[client_order_id("corr", "SPY", "buy", 0)], D(4), D("100.05"))
    broker.placed.clear()
    broker.fill_rule = crossing_fills
    result, recorder = walk(broker)
    assert [r.qty for r in broker.placed] == [D(6), D(6)]  # steps 1 and 2 only, for the remainder
    assert result.filled_qty == D(10)  # type: ignore[attr-defined]
    assert ("intent", 0, client_order_id("corr", "SPY", "buy", 0)) not in recorder.events


def test_steps_a_previous_delivery_skipped_stay_skipped() -> None:
    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, fill_rule=crossing_fills)
    walk(broker, resume_from_step=2)
    assert [r.limit_price for r in broker.placed] == [D("100.10")]


def test_a_rejected_order_stops_the_walk_with_the_reason() -> None:
    broker = FakeBroker(quotes={"SPY": q("100.00", "100.10")}, positions={"SPY": D(2)})
    result, _ = walk(broker, side=SELL, qty="5")
    assert broker.placed == []
    assert result.filled_qty == 0  # type: ignore[attr-defined]
    assert "insufficient qty" in (result.error or "")  # type: ignore[attr-defined]


def test_the_market_sell_never_exceeds_the_position() -> None:
    broker = FakeBroker(quotes={"SPY": q("0", "0")}, positions={"SPY": D(6)})
    result, _ = walk(broker, side=SELL, qty="10")
    assert [(r.type, r.qty) for r in broker.placed] == [(OrderType.MARKET, D(6))]
    assert result.filled_qty == D(6)  # type: ignore[attr-defined]
