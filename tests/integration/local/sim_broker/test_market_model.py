"""The local broker's market model and order rules, seen through the real adapter (alpaca-py over HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.errors import (
    InsufficientBuyingPowerError,
    InsufficientQuantityError,
    OrderNotCancelableError,
    OrderRejectedError,
)
from the_alchemiser.shared.broker.models import OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce
from the_alchemiser.shared.calendar import NEW_YORK

Factory = Callable[..., SimBrokerHandle]
BrokerFactory = Callable[..., AlpacaBroker]


def request(
    symbol: str,
    side: str,
    cid: str,
    *,
    qty: str | None = None,
    notional: str | None = None,
    limit: str | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=OrderSide(side),
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        qty=Decimal(qty) if qty else None,
        notional=Decimal(notional) if notional else None,
        limit_price=Decimal(limit) if limit else None,
        time_in_force=tif,
        client_order_id=cid,
    )


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def test_market_orders_fill_at_the_far_touch(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.set_fill_behaviour(spread_bps=40)  # 500 +- 1.00
    bought = alpaca_broker.place_order(request("SPY", "buy", "far-buy", qty="10"))
    assert bought.filled_avg_price == Decimal("501.00")  # the ask
    sold = alpaca_broker.place_order(request("SPY", "sell", "far-sell", qty="4"))
    assert (sold.status, sold.filled_avg_price) == (OrderStatus.FILLED, Decimal("499.00"))  # the bid
    position = alpaca_broker.get_position("SPY")
    assert position is not None and (position.qty, position.avg_entry_price) == (Decimal(6), Decimal("501.00"))
    account = alpaca_broker.get_account()
    assert account.cash == Decimal(100_000) - 10 * Decimal("501.00") + 4 * Decimal("499.00")
    alpaca_broker.place_order(request("SPY", "sell", "far-sell-rest", qty="6"))
    assert alpaca_broker.get_position("SPY") is None  # sold out: the position is gone


def test_market_order_larger_than_the_displayed_size_still_fills_in_full(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    sim_broker.set_fill_behaviour(displayed_size=5)
    order = alpaca_broker.place_order(request("TLT", "buy", "big-market", qty="40"))
    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.FILLED,
        Decimal(40),
        Decimal("92.05"),
    )


def test_a_limit_inside_the_spread_fills_at_its_price_by_seeded_chance(
    sim_broker_factory: Factory, alpaca_broker_factory: BrokerFactory
) -> None:
    def ticks_to_fill(seed: int) -> int:
        handle = sim_broker_factory(behaviour=None)
        handle.set_fill_behaviour(spread_bps=40, inside_fill_probability=0.5, seed=seed)
        broker = alpaca_broker_factory(handle)
        inside = broker.place_order(request("SPY", "buy", "inside", qty="3", limit="500.00"))  # the midpoint
        near = broker.place_order(request("SPY", "buy", "at-the-bid", qty="3", limit="499.00"))
        assert inside.status == OrderStatus.NEW  # placing never fills inside the spread
        ticks = 0
        while broker.get_order(inside.id).status != OrderStatus.FILLED:
            ticks += 1
            assert ticks < 200, "an order at the midpoint never filled"
            handle.advance(1)
        filled = broker.get_order(inside.id)
        assert (filled.filled_qty, filled.filled_avg_price) == (Decimal(3), Decimal("500.00"))  # its own price
        assert broker.get_order(near.id).status == OrderStatus.NEW  # at the near touch: never
        return ticks

    first = ticks_to_fill(seed=11)
    assert ticks_to_fill(seed=11) == first  # the same seed, the same luck


def test_partial_fills_of_a_sell_hold_only_the_remainder(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    alpaca_broker.place_order(request("GLD", "buy", "gld-buy", qty="20"))
    sim_broker.set_fill_behaviour(displayed_size=6)
    sell = alpaca_broker.place_order(request("GLD", "sell", "gld-sell", qty="15", limit="214.00"))  # crosses the bid
    assert (sell.status, sell.filled_qty, sell.filled_avg_price) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal(6),
        Decimal("214.89"),
    )
    position = alpaca_broker.get_position("GLD")
    assert position is not None and (position.qty, position.qty_available) == (Decimal(14), Decimal(5))
    with pytest.raises(InsufficientQuantityError):
        alpaca_broker.place_order(request("GLD", "sell", "gld-sell-2", qty="6"))
    alpaca_broker.cancel_order(sell.id)
    position = alpaca_broker.get_position("GLD")
    assert position is not None and position.qty_available == Decimal(14)  # the cancel released the hold


def test_a_notional_sell_holds_shares_and_a_cancel_releases_buying_power(
    sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker
) -> None:
    alpaca_broker.place_order(request("SPY", "buy", "hold-base", qty="4"))
    sim_broker.set_clock(ny(2024, 6, 12, 17))  # closed: orders wait, so their holds show
    alpaca_broker.place_order(request("SPY", "sell", "hold-notional", notional="999.5"))  # 2 shares at the bid
    position = alpaca_broker.get_position("SPY")
    assert position is not None and position.qty_available == Decimal(2)
    cash = alpaca_broker.get_account().cash
    buy = alpaca_broker.place_order(request("TLT", "buy", "hold-buy", qty="100", limit="90.00"))
    assert alpaca_broker.get_account().buying_power == cash - Decimal(9000)
    with pytest.raises(InsufficientBuyingPowerError):
        alpaca_broker.place_order(request("QQQ", "buy", "hold-too-much", qty="210", limit="430.00"))
    alpaca_broker.cancel_order(buy.id)
    assert alpaca_broker.get_account().buying_power == cash


def test_fractional_orders_only_with_day(sim_broker_factory: Factory, alpaca_broker_factory: BrokerFactory) -> None:
    handle = sim_broker_factory(non_fractionable=["GLD"])
    broker = alpaca_broker_factory(handle)
    for tif in (TimeInForce.GTC, TimeInForce.IOC):
        with pytest.raises(OrderRejectedError, match="fractional orders must be DAY") as caught:
            broker.place_order(request("SPY", "buy", f"frac-{tif}", qty="1.5", limit="499.00", tif=tif))
        assert caught.value.status_code == 422
        with pytest.raises(OrderRejectedError, match="fractional orders must be DAY"):
            broker.place_order(request("SPY", "buy", f"notional-{tif}", notional="100", tif=tif))
    with pytest.raises(OrderRejectedError, match="not fractionable"):
        broker.place_order(request("GLD", "buy", "gld-frac", qty="0.5"))
    assert broker.get_asset("GLD").fractionable is False
    day = broker.place_order(request("SPY", "buy", "frac-day", qty="1.5"))
    assert (day.status, day.filled_qty) == (OrderStatus.FILLED, Decimal("1.5"))
    sold = broker.place_order(request("SPY", "sell", "frac-sell", qty="0.25"))
    assert sold.filled_qty == Decimal("0.25")
    position = broker.get_position("SPY")
    assert position is not None and position.qty == Decimal("1.25")
    assert handle.state()["orders"] == 2  # the rejected ones left no trace


def test_ioc_fills_what_crosses_and_cancels_the_rest(sim_broker: SimBrokerHandle, alpaca_broker: AlpacaBroker) -> None:
    sim_broker.set_fill_behaviour(displayed_size=4)
    partial = alpaca_broker.place_order(request("TLT", "buy", "ioc-1", qty="10", limit="93.00", tif=TimeInForce.IOC))
    assert (partial.status, partial.filled_qty) == (OrderStatus.CANCELED, Decimal(4))
    missed = alpaca_broker.place_order(request("TLT", "buy", "ioc-2", qty="10", limit="91.00", tif=TimeInForce.IOC))
    assert (missed.status, missed.filled_qty) == (OrderStatus.CANCELED, Decimal(0))


def test_closed_market_queues_orders_and_fills_them_at_the_open(
    sim_broker_factory: Factory, alpaca_broker_factory: BrokerFactory
) -> None:
    handle = sim_broker_factory(clock_start=ny(2024, 6, 14, 18))  # Friday evening
    broker = alpaca_broker_factory(handle)
    clock = broker.get_clock()
    assert not clock.is_open
    assert clock.next_open == ny(2024, 6, 17, 9, 30)  # Monday
    assert clock.next_close == ny(2024, 6, 17, 16)
    market = broker.place_order(request("SPY", "buy", "weekend-market", qty="2"))
    day_limit = broker.place_order(request("QQQ", "buy", "weekend-day", qty="1", limit="420.00"))
    gtc_limit = broker.place_order(request("QQQ", "buy", "weekend-gtc", qty="1", limit="420.00", tif=TimeInForce.GTC))
    assert {o.status for o in (market, day_limit, gtc_limit)} == {OrderStatus.ACCEPTED}
    assert market.filled_qty == 0
    handle.set_clock(ny(2024, 6, 15, 12))  # Saturday noon: still closed, nothing fills
    assert broker.get_order(market.id).status == OrderStatus.ACCEPTED

    handle.set_clock(ny(2024, 6, 17, 9, 31))  # Monday after the open: the queue goes to the market
    opened = broker.get_order(market.id)
    assert (opened.status, opened.filled_qty, opened.filled_avg_price) == (
        OrderStatus.FILLED,
        Decimal(2),
        Decimal("500.25"),
    )
    assert broker.get_order(day_limit.id).status == OrderStatus.NEW
    handle.set_clock(ny(2024, 6, 17, 16, 1))  # after Monday's close: the day order expired there, the GTC lives
    expired = broker.get_order(day_limit.id)
    assert expired.status == OrderStatus.EXPIRED
    assert broker.get_order(gtc_limit.id).status == OrderStatus.NEW
    with pytest.raises(OrderNotCancelableError):
        broker.cancel_order(expired.id)


def test_early_close_comes_from_the_nyse_calendar(
    sim_broker_factory: Factory, alpaca_broker_factory: BrokerFactory
) -> None:
    handle = sim_broker_factory(clock_start=ny(2024, 11, 29, 11))  # the day after Thanksgiving: closes at 13:00
    broker = alpaca_broker_factory(handle)
    clock = broker.get_clock()
    assert clock.is_open and clock.next_close == ny(2024, 11, 29, 13)
    resting = broker.place_order(request("SPY", "buy", "early-day", qty="1", limit="450.00"))
    handle.advance(seconds=timedelta(hours=2, minutes=30).total_seconds(), ticks=5)  # to 13:30
    clock = broker.get_clock()
    assert not clock.is_open
    assert clock.next_open == ny(2024, 12, 2, 9, 30)
    expired = broker.get_order(resting.id)
    assert expired.status == OrderStatus.EXPIRED
    late = broker.place_order(request("SPY", "buy", "early-late", qty="1"))  # after the early close: queued
    assert (late.status, late.filled_qty) == (OrderStatus.ACCEPTED, Decimal(0))
    assert [
        d.close.isoformat() for d in broker.get_calendar(ny(2024, 11, 29, 0).date(), ny(2024, 11, 29, 0).date())
    ] == ["13:00:00"]


def test_holiday_is_closed_all_day(sim_broker_factory: Factory, alpaca_broker_factory: BrokerFactory) -> None:
    handle = sim_broker_factory(clock_start=ny(2024, 7, 4, 11))  # Independence Day
    broker = alpaca_broker_factory(handle)
    clock = broker.get_clock()
    assert (clock.is_open, clock.next_open) == (False, ny(2024, 7, 5, 9, 30))
    order = broker.place_order(request("SPY", "buy", "holiday", qty="1"))
    handle.advance(3600)
    assert broker.get_order(order.id).status == OrderStatus.ACCEPTED
