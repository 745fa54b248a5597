"""AlpacaBroker (real alpaca-py over HTTP) against the local paper broker: every call the system makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.errors import (
    AuthenticationError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
    InsufficientBuyingPowerError,
    InsufficientQuantityError,
    NotFoundError,
    OrderNotCancelableError,
    OrderRejectedError,
    RateLimitedError,
)
from the_alchemiser.shared.broker.models import (
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.calendar import NEW_YORK


def market(symbol: str, side: str, cid: str, *, qty: str | None = None, notional: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=OrderSide(side),
        type=OrderType.MARKET,
        qty=Decimal(qty) if qty else None,
        notional=Decimal(notional) if notional else None,
        client_order_id=cid,
    )


def limit(symbol: str, side: str, cid: str, qty: str, price: str, tif: TimeInForce = TimeInForce.DAY) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=OrderSide(side),
        type=OrderType.LIMIT,
        qty=Decimal(qty),
        limit_price=Decimal(price),
        time_in_force=tif,
        client_order_id=cid,
    )


def test_is_a_broker_port(alpaca_broker: AlpacaBroker) -> None:
    port: BrokerPort = alpaca_broker
    assert port.get_account().cash == Decimal(100_000)


def test_account_in_decimal(alpaca_broker: AlpacaBroker) -> None:
    account = alpaca_broker.get_account()
    assert account.cash == Decimal("100000")
    assert account.buying_power == Decimal("100000")
    assert account.equity == Decimal("100000")
    assert isinstance(account.portfolio_value, Decimal)
    assert account.status == "ACTIVE"


def test_market_buy_by_qty_fills_at_the_ask_and_becomes_a_position(alpaca_broker: AlpacaBroker) -> None:
    quote = alpaca_broker.get_latest_quotes(["SPY"])["SPY"]
    assert (quote.bid, quote.ask) == (Decimal("499.75"), Decimal("500.25"))  # 10 bps around 500
    order = alpaca_broker.place_order(market("SPY", "buy", "buy-spy-1", qty="10"))
    assert order.status == OrderStatus.FILLED
    assert order.filled_qty == Decimal(10)
    assert order.filled_avg_price == quote.ask
    position = alpaca_broker.get_position("SPY")
    assert position is not None
    assert (position.qty, position.qty_available, position.avg_entry_price) == (Decimal(10), Decimal(10), quote.ask)
    assert [p.symbol for p in alpaca_broker.get_positions()] == ["SPY"]
    assert alpaca_broker.get_position("QQQ") is None
    account = alpaca_broker.get_account()
    assert account.cash == Decimal(100_000) - Decimal(10) * quote.ask
    assert account.equity == account.cash + Decimal(10) * Decimal(500)


def test_market_buy_by_notional_is_fractional(alpaca_broker: AlpacaBroker) -> None:
    order = alpaca_broker.place_order(market("QQQ", "buy", "notional-1", notional="1000"))
    assert order.status == OrderStatus.FILLED
    assert order.notional == Decimal(1000)
    ask = Decimal("430.22")  # 430 + 5 bps, rounded up to the cent
    assert order.filled_avg_price == ask
    assert order.filled_qty == (Decimal(1000) / ask).quantize(Decimal("0.000000001"), rounding="ROUND_DOWN")
    assert order.filled_qty != order.filled_qty.to_integral_value()


def test_crossing_limit_fills_at_the_touch_and_resting_limit_waits(alpaca_broker: AlpacaBroker) -> None:
    crossing = alpaca_broker.place_order(limit("SPY", "buy", "cross-1", "5", "501.00"))
    assert crossing.status == OrderStatus.FILLED
    assert crossing.filled_avg_price == Decimal("500.25")  # price improvement to the ask
    resting = alpaca_broker.place_order(limit("SPY", "buy", "rest-1", "5", "499.00"))
    assert resting.status == OrderStatus.NEW
    assert resting.filled_qty == 0
    assert resting.limit_price == Decimal("499.00")
    assert alpaca_broker.get_order(resting.id).status == OrderStatus.NEW


def test_partial_fills_are_cumulative(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.set_fill_behaviour(displayed_size=100)
    order = alpaca_broker.place_order(limit("TLT", "buy", "big-1", "250", "93.00"))
    assert order.status == OrderStatus.PARTIALLY_FILLED
    assert order.filled_qty == Decimal(100)
    sim_broker.advance(60)
    after_one = alpaca_broker.get_order(order.id)
    assert (after_one.status, after_one.filled_qty) == (OrderStatus.PARTIALLY_FILLED, Decimal(200))
    sim_broker.advance(60)
    done = alpaca_broker.get_order(order.id)
    assert (done.status, done.filled_qty) == (OrderStatus.FILLED, Decimal(250))
    assert done.filled_at is not None
    position = alpaca_broker.get_position("TLT")
    assert position is not None and position.qty == Decimal(250)


def test_cancel_an_open_order_then_cancel_again_is_not_cancelable(alpaca_broker: AlpacaBroker) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "cancel-1", "1", "400.00"))
    alpaca_broker.cancel_order(order.id)
    canceled = alpaca_broker.get_order(order.id)
    assert canceled.status == OrderStatus.CANCELED
    assert canceled.canceled_at is not None
    with pytest.raises(OrderNotCancelableError) as caught:
        alpaca_broker.cancel_order(order.id)
    assert caught.value.status_code == 422
    with pytest.raises(NotFoundError):
        alpaca_broker.cancel_order("00000000-0000-0000-0000-000000000000")


def test_a_fill_racing_the_cancel_wins(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "race-1", "7", "499.90"))
    assert order.status == OrderStatus.NEW
    sim_broker.fill_order(order.id)  # the exchange fills it just before the cancel arrives
    with pytest.raises(OrderNotCancelableError):
        alpaca_broker.cancel_order(order.id)
    filled = alpaca_broker.get_order(order.id)
    assert (filled.status, filled.filled_qty, filled.filled_avg_price) == (
        OrderStatus.FILLED,
        Decimal(7),
        Decimal("499.90"),
    )
    position = alpaca_broker.get_position("SPY")
    assert position is not None and position.qty == Decimal(7)


def test_cancel_race_behaviour_fills_the_remainder_first(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    sim_broker.set_fill_behaviour(displayed_size=3)
    order = alpaca_broker.place_order(limit("GLD", "buy", "race-2", "10", "216.00"))
    assert order.filled_qty == Decimal(3)
    sim_broker.set_fill_behaviour(cancel_race=True)
    with pytest.raises(OrderNotCancelableError):
        alpaca_broker.cancel_order(order.id)
    filled = alpaca_broker.get_order(order.id)
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, Decimal(10))


def test_an_acknowledged_cancel_can_still_end_filled(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "race-3", "5", "499.00"))
    sim_broker.set_fill_behaviour(cancel_fill_race=True)
    alpaca_broker.cancel_order(order.id)  # 204: the cancel was requested, not done
    pending = alpaca_broker.get_order(order.id)
    assert pending.status == OrderStatus.PENDING_CANCEL and not pending.is_terminal
    assert alpaca_broker.get_account().buying_power == Decimal(100_000) - 5 * Decimal("499.00")  # still reserved
    with pytest.raises(OrderNotCancelableError):
        alpaca_broker.cancel_order(order.id)
    sim_broker.advance(1)  # the fill reaches the order before the cancel does
    done = alpaca_broker.get_order(order.id)
    assert (done.status, done.filled_qty, done.filled_avg_price) == (OrderStatus.FILLED, Decimal(5), Decimal("499.00"))
    position = alpaca_broker.get_position("SPY")
    assert position is not None and position.qty == Decimal(5)


def test_partially_filled_then_canceled_keeps_its_filled_qty(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "part-cancel", "10", "499.00"))
    sim_broker.fill_order(order.id, qty=Decimal(4))
    alpaca_broker.cancel_order(order.id)
    canceled = alpaca_broker.get_order(order.id)
    assert (canceled.status, canceled.filled_qty) == (OrderStatus.CANCELED, Decimal(4))


def test_replace_makes_a_new_order_and_marks_the_old_replaced(alpaca_broker: AlpacaBroker) -> None:
    old = alpaca_broker.place_order(limit("SPY", "buy", "walk-1", "4", "499.80"))
    new = alpaca_broker.replace_order(old.id, limit_price=Decimal("499.90"), client_order_id="walk-1-r1")
    assert new.id != old.id
    assert new.replaces == old.id
    assert new.client_order_id == "walk-1-r1"
    assert (new.qty, new.limit_price) == (Decimal(4), Decimal("499.90"))
    previous = alpaca_broker.get_order(old.id)
    assert previous.status == OrderStatus.REPLACED
    assert previous.replaced_by == new.id
    crossing = alpaca_broker.replace_order(new.id, qty=Decimal(3), limit_price=Decimal("500.50"))
    assert crossing.status == OrderStatus.FILLED
    assert crossing.filled_qty == Decimal(3)
    with pytest.raises(OrderRejectedError):
        alpaca_broker.replace_order(crossing.id, limit_price=Decimal("500.00"))  # filled: nothing to replace


def test_lookup_by_client_order_id(alpaca_broker: AlpacaBroker) -> None:
    placed = alpaca_broker.place_order(limit("SPY", "buy", "lookup-1", "1", "450.00"))
    found = alpaca_broker.get_order_by_client_id("lookup-1")
    assert found is not None and found.id == placed.id
    assert alpaca_broker.get_order_by_client_id("never-used") is None
    with pytest.raises(NotFoundError):
        alpaca_broker.get_order("00000000-0000-0000-0000-000000000000")


def test_duplicate_client_order_id(alpaca_broker: AlpacaBroker) -> None:
    first = alpaca_broker.place_order(limit("SPY", "buy", "dup-1", "1", "450.00"))
    again = alpaca_broker.place_order(limit("SPY", "buy", "dup-1", "1", "450.00"))
    assert again.id == first.id  # the same order sent twice resolves to the one that exists
    with pytest.raises(DuplicateClientOrderIdError) as caught:
        alpaca_broker.place_order(limit("QQQ", "sell", "dup-1", "2", "450.00"))  # a different order, same id
    assert caught.value.status_code == 422
    alpaca_broker.cancel_order(first.id)
    with pytest.raises(DuplicateClientOrderIdError):  # unique even after cancel
        alpaca_broker.place_order(limit("SPY", "buy", "dup-1", "2", "450.00"))
    assert len(alpaca_broker.list_orders(status="all")) == 1


def test_429_is_retried_with_backoff(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.inject_fault(429, count=2, path="/v2/account")
    assert alpaca_broker.get_account().cash == Decimal(100_000)
    sim_broker.inject_fault(429, count=2, path="/v2/orders", method="POST")
    order = alpaca_broker.place_order(market("SPY", "buy", "after-429", qty="1"))
    assert order.status == OrderStatus.FILLED
    assert len(alpaca_broker.list_orders(status="all")) == 1
    # a 429 is a refusal, not an ambiguity: sent again without a look-up, and only the last one placed it
    assert [r.status for r in sim_broker.requests("/v2/orders")][:3] == [429, 429, 200]


def test_429_past_the_retry_budget_raises_rate_limited(
    sim_broker: SimBrokerHandle, alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=4, base_delay=0.001, jitter=0, sleep=sleeps.append)
    broker = alpaca_broker_factory(sim_broker, retry=retry)
    sim_broker.inject_fault(429, count=5, path="/v2/positions")
    with pytest.raises(RateLimitedError) as caught:
        broker.get_positions()
    assert caught.value.status_code == 429
    # four attempts, three exponential waits (the budget was not spent, so no wait for the window's reset)
    assert sleeps == [0.001, 0.002, 0.004]
    assert len(sim_broker.requests("/v2/positions")) == 4


class FakeWallClock:
    """Wall time shared by the broker's rate limiter and the adapter's retry policy; sleeping advances it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_real_rate_limit_waits_for_the_reset_then_succeeds(
    sim_broker_factory: Callable[..., SimBrokerHandle], alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    handle = sim_broker_factory(rate_limit_per_minute=2)
    wall = FakeWallClock()
    handle.app.rate_limiter.clock = wall.time
    retry = RetryPolicy(max_attempts=3, base_delay=0.001, sleep=wall.sleep, clock=wall.time)
    broker = alpaca_broker_factory(handle, retry=retry)
    broker.get_account()
    wall.now += 10  # the second request ten seconds later: the window frees at start + 60
    broker.get_positions()
    order = broker.place_order(market("SPY", "buy", "over-the-limit", qty="1"))  # the third within a minute
    assert order.status == OrderStatus.FILLED
    # it waited for X-RateLimit-Reset (start + 60, 50 s after the 429) plus a millisecond backoff, not 3 s twice
    assert len(wall.sleeps) == 1
    assert 50 <= wall.sleeps[0] <= 50.01
    assert len(broker.list_orders(status="all")) == 1  # (the fourth request: the window moved on)


def test_rate_limited_error_carries_the_headers(
    sim_broker_factory: Callable[..., SimBrokerHandle], alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    handle = sim_broker_factory(rate_limit_per_minute=2)
    wall = FakeWallClock()
    handle.app.rate_limiter.clock = wall.time
    broker = alpaca_broker_factory(handle, retry=RetryPolicy(max_attempts=1, clock=wall.time, sleep=wall.sleep))
    broker.get_account()
    broker.get_account()
    with pytest.raises(RateLimitedError) as caught:
        broker.get_account()
    error = caught.value
    assert (error.status_code, error.limit, error.remaining, error.reset_at) == (429, 2, 0, wall.now + 60)
    assert wall.sleeps == []  # one attempt: no wait
    capped = RetryPolicy(base_delay=0.001, max_rate_limit_wait=5, clock=wall.time, jitter=0)
    assert capped.rate_limit_delay(0, wall.now + 60) == 5  # never longer than the cap
    assert capped.rate_limit_delay(0, wall.now - 1) == 0.001  # a reset in the past: plain backoff


def test_5xx_on_reads_is_retried(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.inject_fault(503, count=2, path="/v2/positions")
    sim_broker.inject_fault(500, count=1, path="/v2/orders:by_client_order_id")
    sim_broker.inject_fault(502, count=1, path="/v2/stocks/quotes/latest")
    assert alpaca_broker.get_positions() == []
    assert alpaca_broker.get_order_by_client_id("nothing") is None
    assert alpaca_broker.get_latest_quotes(["SPY"])["SPY"].ask == Decimal("500.25")
    assert sim_broker.app.faults.pending() == []  # every fault was hit (and retried past)


def test_5xx_past_the_retry_budget_is_unavailable(
    sim_broker: SimBrokerHandle, alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    broker = alpaca_broker_factory(sim_broker, retry=RetryPolicy.fast(3))
    sim_broker.inject_fault(503, count=3, path="/v2/account")
    with pytest.raises(BrokerUnavailableError) as caught:
        broker.get_account()
    assert caught.value.status_code == 503


def test_lost_cancel_response_is_reconciled(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "lost-cancel", "3", "450.00"))
    sim_broker.inject_fault(500, count=1, path=f"/v2/orders/{order.id}", method="DELETE", when="after")
    alpaca_broker.cancel_order(order.id)  # the cancel went through; its response was lost; the retry sees 422
    assert alpaca_broker.get_order(order.id).status == OrderStatus.CANCELED


def test_lost_acknowledgement_of_a_pending_cancel_is_reconciled(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "lost-pending-cancel", "3", "450.00"))
    sim_broker.set_fill_behaviour(cancel_fill_race=True)
    sim_broker.inject_fault(502, count=1, path=f"/v2/orders/{order.id}", method="DELETE", when="after")
    alpaca_broker.cancel_order(order.id)  # accepted (pending_cancel) though its 204 was lost; the retry sees 422
    assert alpaca_broker.get_order(order.id).status == OrderStatus.PENDING_CANCEL
    assert [r.status for r in sim_broker.requests(f"/v2/orders/{order.id}", method="DELETE")] == [502, 422]


def test_lost_cancel_response_when_the_order_filled_is_not_cancelable(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    order = alpaca_broker.place_order(limit("SPY", "buy", "lost-cancel-2", "3", "450.00"))
    sim_broker.fill_order(order.id)
    sim_broker.inject_fault(503, count=1, path=f"/v2/orders/{order.id}", method="DELETE")
    with pytest.raises(OrderNotCancelableError):
        alpaca_broker.cancel_order(order.id)
    assert alpaca_broker.get_order(order.id).status == OrderStatus.FILLED


def test_lost_replace_response_returns_the_replacement_without_a_second_one(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    old = alpaca_broker.place_order(limit("SPY", "buy", "lost-replace", "3", "499.00"))
    sim_broker.inject_fault(500, count=1, path=f"/v2/orders/{old.id}", method="PATCH", when="after")
    new = alpaca_broker.replace_order(old.id, limit_price=Decimal("499.10"), client_order_id="lost-replace-r1")
    assert (new.client_order_id, new.replaces, new.limit_price) == ("lost-replace-r1", old.id, Decimal("499.10"))
    assert [o.client_order_id for o in alpaca_broker.list_orders(status="all")] == ["lost-replace-r1", "lost-replace"]


def test_lost_response_on_a_filled_market_order_is_reconciled(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    sim_broker.inject_fault(504, count=1, path="/v2/orders", method="POST", when="after")
    order = alpaca_broker.place_order(market("SPY", "buy", "lost-market", qty="2"))
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, Decimal(2))
    position = alpaca_broker.get_position("SPY")
    assert position is not None and position.qty == Decimal(2)  # bought once, not twice
    assert len(sim_broker.fills()) == 1


def test_403_and_422_are_the_projects_errors(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.inject_fault(403, count=1, path="/v2/orders", method="POST")
    with pytest.raises(OrderRejectedError) as forbidden:
        alpaca_broker.place_order(market("SPY", "buy", "forbidden-1", qty="1"))
    assert forbidden.value.status_code == 403
    assert not isinstance(forbidden.value, DuplicateClientOrderIdError)
    with pytest.raises(OrderRejectedError) as invalid:
        alpaca_broker.place_order(limit("SPY", "buy", "invalid-tif", "0.5", "499.00", tif=TimeInForce.IOC))
    assert (invalid.value.status_code, invalid.value.code) == (422, 40010001)
    assert sim_broker.state()["orders"] == 0  # neither was retried into existence


def test_wrong_keys_are_an_authentication_error(sim_broker: SimBrokerHandle) -> None:
    broker = AlpacaBroker("wrong", "keys", base_url=sim_broker.base_url, retry=RetryPolicy.fast())
    with pytest.raises(AuthenticationError) as caught:
        broker.get_account()
    assert caught.value.status_code == 401


def test_restart_on_the_same_port_serves_a_connected_client(
    tmp_path, sim_broker_factory: Callable[..., SimBrokerHandle], alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    state = tmp_path / "same-port.sqlite"
    first = sim_broker_factory(state_path=state)
    broker = alpaca_broker_factory(first)  # one client, its kept-alive connection pool spanning the restart
    broker.place_order(market("SPY", "buy", "before-restart", qty="3"))
    port = first.port
    first.stop()
    with pytest.raises(BrokerUnavailableError):
        broker.get_account()  # down is down: a clear error, not a hang
    second = sim_broker_factory(state_path=state, port=port)
    assert second.port == port
    position = broker.get_position("SPY")
    assert position is not None and position.qty == Decimal(3)
    again = broker.place_order(market("SPY", "buy", "before-restart", qty="3"))
    assert again.status == OrderStatus.FILLED and len(second.fills()) == 1  # resolved to the kept order


def test_5xx_after_the_order_was_placed_is_reconciled_without_a_second_order(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    # the broker takes the order, then the response is lost as a 500
    sim_broker.inject_fault(500, count=1, path="/v2/orders", method="POST", when="after")
    order = alpaca_broker.place_order(limit("SPY", "buy", "ambiguous-1", "2", "499.00"))
    assert order.client_order_id == "ambiguous-1"
    assert [(r.method, r.path, r.status) for r in sim_broker.requests("/v2/orders")] == [
        ("POST", "/v2/orders", 500),  # placed, but the answer was lost
        ("GET", "/v2/orders:by_client_order_id", 200),  # found: not sent again
    ]
    orders = alpaca_broker.list_orders(status="all")
    assert [o.client_order_id for o in orders] == ["ambiguous-1"]
    assert sim_broker.state()["orders"] == 1


def test_5xx_before_the_order_was_placed_sends_it_once(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    sim_broker.inject_fault(503, count=2, path="/v2/orders", method="POST")
    order = alpaca_broker.place_order(limit("SPY", "buy", "ambiguous-2", "2", "499.00"))
    assert order.status == OrderStatus.NEW
    assert sim_broker.state()["orders"] == 1
    # every resend only after a look-up said the order is not there
    assert [(r.method, r.status) for r in sim_broker.requests("/v2/orders")] == [
        ("POST", 503),
        ("GET", 404),
        ("POST", 503),
        ("GET", 404),
        ("POST", 200),
    ]


def test_ambiguous_failure_with_a_failing_lookup_never_resubmits(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    sim_broker.inject_fault(500, count=1, path="/v2/orders", method="POST", when="after")
    sim_broker.inject_fault(500, count=50, path="/v2/orders:by_client_order_id")
    with pytest.raises(BrokerUnavailableError, match="may or may not have been placed"):
        alpaca_broker.place_order(limit("SPY", "buy", "ambiguous-3", "2", "499.00"))
    sim_broker.clear_faults()
    assert sim_broker.state()["orders"] == 1
    assert len(sim_broker.requests("/v2/orders", method="POST")) == 1


def test_insufficient_buying_power_is_403(alpaca_broker: AlpacaBroker) -> None:
    with pytest.raises(InsufficientBuyingPowerError) as caught:
        alpaca_broker.place_order(limit("SPY", "buy", "too-big", "1000", "500.00"))
    assert caught.value.status_code == 403


def test_open_buys_reserve_buying_power(alpaca_broker: AlpacaBroker) -> None:
    alpaca_broker.place_order(limit("SPY", "buy", "reserve-1", "150", "400.00"))  # reserves 60,000
    assert alpaca_broker.get_account().buying_power == Decimal(40_000)
    with pytest.raises(InsufficientBuyingPowerError):
        alpaca_broker.place_order(limit("QQQ", "buy", "reserve-2", "100", "420.00"))


def test_shares_held_by_an_open_sell_are_not_available(alpaca_broker: AlpacaBroker) -> None:
    alpaca_broker.place_order(market("SPY", "buy", "hold-buy", qty="10"))
    alpaca_broker.place_order(limit("SPY", "sell", "hold-sell-1", "6", "510.00"))
    position = alpaca_broker.get_position("SPY")
    assert position is not None and (position.qty, position.qty_available) == (Decimal(10), Decimal(4))
    with pytest.raises(InsufficientQuantityError, match="insufficient qty available") as caught:
        alpaca_broker.place_order(limit("SPY", "sell", "hold-sell-2", "5", "510.00"))
    assert caught.value.status_code == 403
    with pytest.raises(InsufficientQuantityError):
        alpaca_broker.place_order(market("QQQ", "sell", "no-position", qty="1"))


def test_fractional_qty_with_gtc_is_rejected(alpaca_broker: AlpacaBroker) -> None:
    with pytest.raises(OrderRejectedError, match="fractional orders must be DAY") as caught:
        alpaca_broker.place_order(limit("SPY", "buy", "frac-gtc", "0.5", "499.00", tif=TimeInForce.GTC))
    assert caught.value.status_code == 422
    order = alpaca_broker.place_order(limit("SPY", "buy", "frac-day", "0.5", "501.00"))
    assert order.filled_qty == Decimal("0.5")
    whole = alpaca_broker.place_order(limit("SPY", "buy", "whole-gtc", "2", "499.00", tif=TimeInForce.GTC))
    assert whole.time_in_force == TimeInForce.GTC


def test_sub_penny_limit_and_halted_symbols_are_rejected(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    with pytest.raises(OrderRejectedError, match="sub-penny"):
        alpaca_broker.place_order(limit("SPY", "buy", "subpenny", "1", "499.001"))
    penny = alpaca_broker.place_order(limit("PENNY", "buy", "penny-ok", "100", "0.4990"))
    assert penny.limit_price == Decimal("0.4990")
    sim_broker.halt("QQQ")
    assert alpaca_broker.get_asset("QQQ").tradable is False
    with pytest.raises(OrderRejectedError, match="not tradable"):
        alpaca_broker.place_order(market("QQQ", "buy", "halted", qty="1"))
    with pytest.raises(OrderRejectedError, match="not found"):
        alpaca_broker.place_order(market("NOPE", "buy", "unknown", qty="1"))


def test_list_orders_filters(alpaca_broker: AlpacaBroker) -> None:
    alpaca_broker.place_order(market("SPY", "buy", "list-1", qty="1"))
    alpaca_broker.place_order(limit("QQQ", "buy", "list-2", "1", "400.00"))
    assert {o.client_order_id for o in alpaca_broker.list_orders(status="all")} == {"list-1", "list-2"}
    assert [o.client_order_id for o in alpaca_broker.list_orders(status="open")] == ["list-2"]
    assert [o.client_order_id for o in alpaca_broker.list_orders(status="closed")] == ["list-1"]
    assert [o.client_order_id for o in alpaca_broker.list_orders(symbols=["SPY"])] == ["list-1"]


def test_list_orders_pages_past_500(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    for n in range(510):
        sim_broker.engine.place_order(
            {
                "symbol": "BIL",
                "side": "buy",
                "type": "limit",
                "qty": "1",
                "limit_price": "80",
                "time_in_force": "day",
                "client_order_id": f"many-{n}",
            }
        )
    # all at one simulated instant (the clock stands still): paging must not lose orders that share a stamp
    orders = alpaca_broker.list_orders(status="open")
    assert len(orders) == 510
    assert len({o.id for o in orders}) == 510
    assert [o.client_order_id for o in orders[:2]] == ["many-509", "many-508"]  # newest first


def test_clock_calendar_asset(alpaca_broker: AlpacaBroker) -> None:
    clock = alpaca_broker.get_clock()
    assert clock.is_open
    assert clock.timestamp == datetime(2024, 6, 12, 10, 30, tzinfo=NEW_YORK)
    assert clock.next_close == datetime(2024, 6, 12, 16, 0, tzinfo=NEW_YORK)
    days = alpaca_broker.get_calendar(date(2024, 11, 27), date(2024, 12, 2))
    assert [d.date for d in days] == [date(2024, 11, 27), date(2024, 11, 29), date(2024, 12, 2)]
    assert days[1].close == time(13, 0)  # the day after Thanksgiving closes early
    assert days[0].open == time(9, 30)
    asset = alpaca_broker.get_asset("SPY")
    assert (asset.symbol, asset.tradable, asset.fractionable) == ("SPY", True, True)
    with pytest.raises(NotFoundError):
        alpaca_broker.get_asset("NOPE")
    assert set(alpaca_broker.get_latest_quotes(["SPY", "NOPE", "TLT"])) == {"SPY", "TLT"}


def test_unreachable_broker_is_unavailable() -> None:
    broker = AlpacaBroker("k", "s", base_url="http://127.0.0.1:9", retry=RetryPolicy.fast(2), timeout=1)
    with pytest.raises(BrokerUnavailableError):
        broker.get_account()


def test_restart_on_the_same_state_keeps_positions_and_orders(
    tmp_path, sim_broker_factory: Callable[..., SimBrokerHandle], alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    state = tmp_path / "restart.sqlite"
    first = sim_broker_factory(state_path=state)
    broker = alpaca_broker_factory(first)
    broker.place_order(market("SPY", "buy", "keep-1", qty="10"))
    broker.place_order(market("QQQ", "buy", "keep-2", notional="1000"))
    resting = broker.place_order(limit("SPY", "sell", "keep-3", "4", "520.00"))
    first.advance(120)
    before_positions = broker.get_positions()
    before_orders = broker.list_orders(status="all")
    before_account = broker.get_account()
    before_clock = first.now()
    first.stop()

    second = sim_broker_factory(state_path=state, initial_cash=1)  # initial cash only applies to a new file
    again = alpaca_broker_factory(second)
    assert again.get_positions() == before_positions
    assert again.list_orders(status="all") == before_orders
    assert again.get_account() == before_account
    assert second.now() == before_clock
    position = again.get_position("SPY")
    assert position is not None and position.qty_available == Decimal(6)  # still held by the resting sell
    with pytest.raises(DuplicateClientOrderIdError):
        again.place_order(limit("SPY", "sell", "keep-1", "1", "520.00"))
    again.cancel_order(resting.id)
    assert again.get_order(resting.id).status == OrderStatus.CANCELED


def test_from_settings_uses_the_environment(sim_broker_env: SimBrokerHandle) -> None:
    from the_alchemiser.shared.config.settings import Settings

    broker = AlpacaBroker.from_settings(Settings(), retry=RetryPolicy.fast())
    assert broker.get_account().cash == Decimal(100_000)


def test_order_amounts_finer_than_alpaca_takes_are_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="9 decimal places"):
        market("SPY", "buy", "too-fine", qty="0.0000000001")
    with pytest.raises(ValueError, match="whole cents"):
        market("SPY", "buy", "too-fine", notional="135.68941440804")
    with pytest.raises(ValueError, match="positive"):
        market("SPY", "buy", "zero", qty="0")
    assert market("SPY", "buy", "fine", qty="0.123456789").qty == Decimal("0.123456789")


def test_the_same_order_placed_from_many_threads_at_once_exists_once(
    sim_broker: SimBrokerHandle, alpaca_broker_factory: Callable[..., AlpacaBroker]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    brokers = [alpaca_broker_factory(sim_broker) for _ in range(8)]  # eight clients, eight connection pools
    with ThreadPoolExecutor(max_workers=8) as pool:
        same = list(pool.map(lambda b: b.place_order(limit("SPY", "buy", "raced", "2", "499.00")).id, brokers))
        distinct = list(
            pool.map(lambda n: brokers[n % 8].place_order(limit("TLT", "buy", f"many-{n}", "1", "91.00")).id, range(40))
        )
    assert len(set(same)) == 1  # one order; the other seven resolved their 422 to it
    assert len(set(distinct)) == 40
    assert sim_broker.state()["orders"] == 41
    assert alpaca_broker_factory(sim_broker).get_account().buying_power == Decimal(100_000) - 2 * Decimal(
        "499.00"
    ) - 40 * Decimal("91.00")
