"""The local paper broker speaks Alpaca's API as alpaca-py (model mode, its own parsing) and raw HTTP see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position, TradeAccount
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY
from the_alchemiser.local.sim_broker import BarsPriceSource, SimBrokerHandle
from the_alchemiser.shared.calendar import NEW_YORK

AUTH = {"APCA-API-KEY-ID": SIM_API_KEY, "APCA-API-SECRET-KEY": SIM_SECRET_KEY}


def buy_market(
    client: TradingClient, symbol: str, cid: str, *, qty: float | None = None, notional: float | None = None
) -> Order:
    order = client.submit_order(
        MarketOrderRequest(
            symbol=symbol,
            qty=qty,
            notional=notional,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=cid,
        )
    )
    assert isinstance(order, Order)
    return order


def limit_order(symbol: str, side: OrderSide, qty: float, price: float, cid: str) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol, qty=qty, side=side, limit_price=price, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def test_account_and_positions_parse_into_alpaca_py_models(alpaca_trading_client: TradingClient) -> None:
    account = alpaca_trading_client.get_account()
    assert isinstance(account, TradeAccount)
    assert (account.cash, account.buying_power, account.equity) == ("100000", "100000", "100000")
    assert alpaca_trading_client.get_all_positions() == []
    buy_market(alpaca_trading_client, "SPY", "api-buy-1", qty=4)
    positions = alpaca_trading_client.get_all_positions()
    assert len(positions) == 1 and isinstance(positions[0], Position)
    spy = alpaca_trading_client.get_open_position("SPY")
    assert isinstance(spy, Position)
    assert (spy.symbol, spy.qty, spy.qty_available, spy.avg_entry_price) == ("SPY", "4", "4", "500.25")
    assert Decimal(spy.market_value or "0") == Decimal(2000)  # at the 500.00 midpoint
    with pytest.raises(APIError) as caught:
        alpaca_trading_client.get_open_position("QQQ")
    assert caught.value.status_code == 404


def test_orders_by_qty_and_notional_market_and_limit(alpaca_trading_client: TradingClient) -> None:
    by_qty = buy_market(alpaca_trading_client, "QQQ", "api-qty", qty=2)
    assert (by_qty.status, by_qty.filled_qty, by_qty.filled_avg_price) == (OrderStatus.FILLED, "2", "430.22")
    by_notional = buy_market(alpaca_trading_client, "QQQ", "api-notional", notional=500)
    assert by_notional.status == OrderStatus.FILLED
    assert by_notional.notional == "500" and by_notional.qty is None
    assert Decimal(by_notional.filled_qty or "0") == (Decimal(500) / Decimal("430.22")).quantize(
        Decimal("0.000000001"), rounding="ROUND_DOWN"
    )
    resting = alpaca_trading_client.submit_order(limit_order("QQQ", OrderSide.SELL, 1, 440, "api-limit"))
    assert isinstance(resting, Order)
    assert (resting.status, resting.limit_price, resting.filled_qty) == (OrderStatus.NEW, "440", "0")
    found = alpaca_trading_client.get_order_by_client_id("api-limit")
    assert isinstance(found, Order) and found.id == resting.id
    by_id = alpaca_trading_client.get_order_by_id(resting.id)
    assert isinstance(by_id, Order) and by_id.client_order_id == "api-limit"


def test_duplicate_client_order_id_is_a_422(alpaca_trading_client: TradingClient) -> None:
    first = alpaca_trading_client.submit_order(limit_order("SPY", OrderSide.BUY, 1, 450, "api-dup"))
    assert isinstance(first, Order)
    with pytest.raises(APIError) as caught:
        alpaca_trading_client.submit_order(limit_order("SPY", OrderSide.BUY, 1, 450, "api-dup"))
    assert (caught.value.status_code, caught.value.code) == (422, 40010001)
    assert "client_order_id must be unique" in caught.value.message
    alpaca_trading_client.cancel_order_by_id(first.id)
    with pytest.raises(APIError):  # still unique after the cancel
        alpaca_trading_client.submit_order(limit_order("SPY", OrderSide.BUY, 1, 450, "api-dup"))


def test_cancel_replace_and_list(sim_broker: SimBrokerHandle, alpaca_trading_client: TradingClient) -> None:
    order = alpaca_trading_client.submit_order(limit_order("TLT", OrderSide.BUY, 10, 91.5, "api-walk"))
    assert isinstance(order, Order)
    replacement = alpaca_trading_client.replace_order_by_id(
        order.id, ReplaceOrderRequest(limit_price=91.9, client_order_id="api-walk-2")
    )
    assert isinstance(replacement, Order)
    assert (replacement.replaces, replacement.qty, replacement.limit_price) == (order.id, "10", "91.9")
    old = alpaca_trading_client.get_order_by_id(order.id)
    assert isinstance(old, Order)
    assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, replacement.id)
    assert alpaca_trading_client.cancel_order_by_id(replacement.id) is None  # 204, no body
    with pytest.raises(APIError) as not_cancelable:
        alpaca_trading_client.cancel_order_by_id(replacement.id)
    assert not_cancelable.value.status_code == 422
    with pytest.raises(APIError) as unknown:
        alpaca_trading_client.cancel_order_by_id("6a4b8e5c-0000-4000-8000-000000000000")
    assert unknown.value.status_code == 404
    closed = alpaca_trading_client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert {(o.client_order_id, o.status) for o in closed if isinstance(o, Order)} == {
        ("api-walk", OrderStatus.REPLACED),
        ("api-walk-2", OrderStatus.CANCELED),
    }
    assert alpaca_trading_client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []


def test_cancel_all_answers_207_per_order(alpaca_trading_client: TradingClient) -> None:
    for n in range(3):
        alpaca_trading_client.submit_order(limit_order("SPY", OrderSide.BUY, 1, 400 + n, f"api-all-{n}"))
    responses = alpaca_trading_client.cancel_orders()
    assert isinstance(responses, list) and len(responses) == 3
    assert {r.status for r in responses} == {200}  # type: ignore[union-attr]
    orders = alpaca_trading_client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert {o.status for o in orders if isinstance(o, Order)} == {OrderStatus.CANCELED}


def test_clock_calendar_asset(alpaca_trading_client: TradingClient) -> None:
    clock = alpaca_trading_client.get_clock()
    assert clock.is_open  # type: ignore[union-attr]
    assert clock.next_close == datetime(2024, 6, 12, 16, 0, tzinfo=NEW_YORK)  # type: ignore[union-attr]
    assert clock.next_open == datetime(2024, 6, 13, 9, 30, tzinfo=NEW_YORK)  # type: ignore[union-attr]
    days = alpaca_trading_client.get_calendar(GetCalendarRequest(start=date(2024, 7, 1), end=date(2024, 7, 8)))
    assert [(d.date, d.close.time().isoformat()) for d in days] == [  # type: ignore[union-attr]
        (date(2024, 7, 1), "16:00:00"),
        (date(2024, 7, 2), "16:00:00"),
        (date(2024, 7, 3), "13:00:00"),  # the eve of Independence Day closes early
        (date(2024, 7, 5), "16:00:00"),
        (date(2024, 7, 8), "16:00:00"),
    ]
    asset = alpaca_trading_client.get_asset("GLD")
    assert (asset.symbol, asset.tradable, asset.fractionable) == ("GLD", True, True)  # type: ignore[union-attr]


def test_market_data_quotes_and_paged_bars(sim_broker_factory: Callable[..., SimBrokerHandle]) -> None:
    days = pd.bdate_range(end="2024-06-11", periods=4_000)  # 12,000 bars: past one 10,000-bar page
    frames = {
        symbol: pd.DataFrame(
            {"open": base, "high": base + 1, "low": base - 1, "close": base + np.arange(len(days)) % 7, "volume": 1e6},
            index=days,
        )
        for symbol, base in (("SPY", 400.0), ("TLT", 90.0), ("GLD", 200.0))
    }
    handle = sim_broker_factory(price_source=BarsPriceSource(frames))
    data = StockHistoricalDataClient(SIM_API_KEY, SIM_SECRET_KEY, url_override=handle.base_url)
    quote = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["SPY"]))["SPY"]  # type: ignore[index]
    assert 0 < quote.bid_price < quote.ask_price
    request = StockBarsRequest(symbol_or_symbols=list(frames), timeframe=TimeFrame.Day, start=datetime(2000, 1, 1))
    bars = data.get_stock_bars(request).data  # type: ignore[union-attr]
    assert {symbol: len(series) for symbol, series in bars.items()} == {"SPY": 4_000, "TLT": 4_000, "GLD": 4_000}
    assert [r.status for r in handle.requests("/v2/stocks/bars")] == [200, 200]  # alpaca-py followed the token
    spy = bars["SPY"]
    assert len({bar.timestamp for bar in spy}) == 4_000  # no bar twice across pages
    assert spy[-1].timestamp.astimezone(NEW_YORK).date() == date(2024, 6, 11)
    assert spy[0].timestamp.astimezone(NEW_YORK).time().isoformat() == "00:00:00"  # midnight New York
    assert spy[-1].close == 400.0 + (4_000 - 1) % 7


def test_raw_http_errors_and_rate_limit_headers(
    sim_broker: SimBrokerHandle, sim_broker_factory: Callable[..., SimBrokerHandle]
) -> None:
    base = sim_broker.base_url
    ok = requests.get(f"{base}/v2/account", headers=AUTH, timeout=5)
    assert ok.status_code == 200
    assert ok.headers["X-RateLimit-Limit"] == "100000"
    assert int(ok.headers["X-RateLimit-Remaining"]) == 99_999
    assert isinstance(ok.json()["cash"], str)  # decimals as strings
    unauthorised = requests.get(f"{base}/v2/account", timeout=5)
    assert unauthorised.status_code == 401 and set(unauthorised.json()) == {"code", "message"}
    assert requests.get(f"{base}/v2/nope", headers=AUTH, timeout=5).status_code == 404
    bad = requests.post(f"{base}/v2/orders", headers=AUTH, json={"symbol": "SPY", "side": "buy"}, timeout=5)
    assert bad.status_code == 422 and set(bad.json()) == {"code", "message"}
    order = {"symbol": "SPY", "side": "buy", "type": "market", "time_in_force": "day"}
    too_fine = [
        requests.post(f"{base}/v2/orders", headers=AUTH, json=order | extra, timeout=5)
        for extra in ({"notional": 135.68941440804}, {"qty": 0.0000000001}, {"notional": "135.68"})
    ]
    assert [r.status_code for r in too_fine] == [422, 422, 200]  # cents and 9 decimal places, as Alpaca

    limited = sim_broker_factory(rate_limit_per_minute=3)
    answers = [requests.get(f"{limited.base_url}/v2/clock", headers=AUTH, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].json() == {"code": 42910000, "message": "rate limit exceeded"}
    assert int(answers[3].headers["X-RateLimit-Reset"]) >= int(answers[0].headers["X-RateLimit-Reset"])
    state = requests.get(f"{limited.base_url}/_sim/state", timeout=5)  # control requests are not counted
    assert state.status_code == 200
    served = requests.get(f"{limited.base_url}/_sim/requests", params={"path": "/v2/clock"}, timeout=5).json()
    assert [r["status"] for r in served] == [200, 200, 200, 429]


def test_control_endpoints_over_http(sim_broker: SimBrokerHandle, alpaca_trading_client: TradingClient) -> None:
    base = sim_broker.base_url
    order = alpaca_trading_client.submit_order(limit_order("SPY", OrderSide.BUY, 5, 499, "ctl-1"))
    assert isinstance(order, Order)
    assert requests.post(f"{base}/_sim/prices", json={"prices": {"SPY": "498"}}, timeout=5).status_code == 204
    advanced = requests.post(f"{base}/_sim/advance", json={"seconds": 60}, timeout=5).json()
    assert datetime.fromisoformat(advanced["clock"]) == datetime(2024, 6, 12, 10, 31, tzinfo=NEW_YORK)
    filled = alpaca_trading_client.get_order_by_id(order.id)
    assert isinstance(filled, Order)
    assert (filled.status, filled.filled_avg_price) == (OrderStatus.FILLED, "498.25")  # crossed the new ask
    fault = {"status": 503, "path": "/v2/account", "count": 1}
    assert requests.post(f"{base}/_sim/faults", json=fault, timeout=5).status_code == 204
    with pytest.raises(APIError) as caught:  # alpaca-py retries only 429 and 504 itself
        alpaca_trading_client.get_account()
    assert caught.value.status_code == 503
    assert alpaca_trading_client.get_account().cash == "97508.75"  # type: ignore[union-attr]  # 5 bought at 498.25
    behaviour = requests.post(f"{base}/_sim/behaviour", json={"cancel_race": "false"}, timeout=5).json()
    assert behaviour["cancel_race"] == "False"
