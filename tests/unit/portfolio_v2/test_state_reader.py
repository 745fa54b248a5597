"""PortfolioStateReader over an in-memory BrokerPort: what gets read and which price is used."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support.portfolio_v2.builders import FakeBroker, portfolio, signal
from the_alchemiser.portfolio_v2.core.planner import MissingPriceError, RebalancePlanner
from the_alchemiser.portfolio_v2.core.snapshot import PriceSource
from the_alchemiser.portfolio_v2.core.state_reader import PortfolioStateReader
from the_alchemiser.shared.broker.errors import NotFoundError
from the_alchemiser.shared.broker.models import Account, Asset, Position, Quote
from the_alchemiser.shared.calendar import FixedClock

D = Decimal
NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)


def position(symbol: str, qty: str, price: str) -> Position:
    return Position(
        symbol=symbol,
        qty=D(qty),
        qty_available=D(qty),
        avg_entry_price=D(price),
        market_value=D(qty) * D(price),
        current_price=D(price),
    )


def broker(**overrides: object) -> FakeBroker:
    values: dict[str, object] = {
        "account": Account(
            id="acct", status="ACTIVE", cash=D("1000.50"), buying_power=D(2001), equity=D(5000), portfolio_value=D(5000)
        ),
        "positions": [position("TQQQ", "12.123456789", "80"), position("BRK/B", "2", "400")],
        "quotes": {
            "TQQQ": Quote(symbol="TQQQ", bid=D("79.90"), ask=D("80.10")),
            "BRK/B": Quote(symbol="BRK/B", bid=D(0), ask=D(0)),  # no quote: use the position's price
            "SPY": Quote(symbol="SPY", bid=D(0), ask=D("600.25")),  # one-sided: the ask
        },
        "assets": {
            "TQQQ": Asset(symbol="TQQQ", fractionable=True),
            "BRK/B": Asset(symbol="BRK/B", fractionable=False),
            "SPY": Asset(symbol="SPY", fractionable=True),
            "XYZ": Asset(symbol="XYZ", fractionable=True, tradable=False),
        },
    }
    values.update(overrides)
    return FakeBroker(**values)  # type: ignore[arg-type]


def test_reads_account_positions_prices_and_flags_for_held_and_targeted_symbols() -> None:
    fake = broker()
    snap = PortfolioStateReader(fake, FixedClock(NOW)).read(["SPY", "TQQQ"])
    assert snap.as_of == NOW
    assert (snap.equity, snap.cash, snap.buying_power) == (D(5000), D("1000.50"), D(2001))
    assert snap.spendable_cash == D("1000.50")
    assert snap.positions["TQQQ"].qty == D("12.123456789")
    assert sorted(snap.symbols) == ["BRK/B", "SPY", "TQQQ"]
    assert fake.quote_requests == [["BRK/B", "SPY", "TQQQ"]]  # one batched quote request
    tqqq, brk, spy = snap.symbols["TQQQ"], snap.symbols["BRK/B"], snap.symbols["SPY"]
    assert (tqqq.price, tqqq.price_source, tqqq.fractionable) == (D("80.00"), PriceSource.MIDPOINT, True)
    assert (brk.price, brk.price_source, brk.fractionable) == (D(400), PriceSource.POSITION_PRICE, False)
    assert (spy.price, spy.price_source) == (D("600.25"), PriceSource.ASK)


def test_a_symbol_without_any_price_is_recorded_and_the_planner_names_it() -> None:
    fake = broker()
    snap = PortfolioStateReader(fake, FixedClock(NOW)).read(["XYZ"])
    assert snap.symbols["XYZ"].price is None
    assert snap.symbols["XYZ"].tradable is False
    with pytest.raises(MissingPriceError, match="XYZ"):
        RebalancePlanner().plan(portfolio(signal("a.clj", "1", {"XYZ": "1"})), snap, correlation_id="c")


def test_crossed_quote_is_not_a_midpoint() -> None:
    fake = broker(quotes={"TQQQ": Quote(symbol="TQQQ", bid=D("81"), ask=D("80"))})
    snap = PortfolioStateReader(fake, FixedClock(NOW)).read([])
    assert snap.symbols["TQQQ"].price_source == PriceSource.POSITION_PRICE


def test_unknown_asset_raises_the_broker_error() -> None:
    fake = broker()
    with pytest.raises(NotFoundError, match="NOPE"):
        PortfolioStateReader(fake, FixedClock(NOW)).read(["NOPE"])


def test_short_positions_are_refused() -> None:
    fake = broker(positions=[position("SQQQ", "-3", "10")])
    with pytest.raises(ValueError, match="short"):
        PortfolioStateReader(fake, FixedClock(NOW)).read([])
