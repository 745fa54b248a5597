"""The live-bar mode dsl.md allows: completed bars, plus today's bar built from the latest quote.

Composer evaluates near the close on the price of the moment; the completed-bars mode (the default) uses
the previous trading day's closes. In live-bar mode every symbol gets one more bar, dated `day`, whose
open/high/low/close are the quote's midpoint (volume 0), after its completed bars up to `completed_through`
(the trading day before `day`). A symbol without a two-sided quote fails the request by name, and so do
completed bars that stop before `completed_through` (StaleMarketDataError): a strategy must never run on a
mix of live and stale prices."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from the_alchemiser.shared.market_data.bars import DailyBars
from the_alchemiser.shared.market_data.port import MarketDataError, MarketDataPort, StaleMarketDataError

if TYPE_CHECKING:
    from the_alchemiser.shared.broker.models import Quote

QuoteSource = Callable[[Sequence[str]], Mapping[str, "Quote"]]


class NoLiveQuoteError(MarketDataError):
    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = sorted(symbols)
        super().__init__(f"no two-sided live quote for: {', '.join(self.symbols)}")


def with_bar(bars: DailyBars, day: date, price: float) -> DailyBars:
    """`bars` up to the day before `day`, then one bar at `price` on `day`."""
    kept = bars.until(day - timedelta(days=1))
    stamp = np.array([np.datetime64(day, "D")])
    one = np.array([price], dtype=np.float64)
    return DailyBars(
        np.concatenate((kept.dates, stamp)),
        np.concatenate((kept.open, one)),
        np.concatenate((kept.high, one)),
        np.concatenate((kept.low, one)),
        np.concatenate((kept.close, one)),
        np.concatenate((kept.volume, np.zeros(1))),
    )


def midpoints(quotes: Mapping[str, Quote], symbols: Sequence[str]) -> dict[str, float]:
    """Each symbol's quote midpoint; NoLiveQuoteError naming the symbols without a two-sided quote."""
    prices: dict[str, float] = {}
    for symbol in symbols:
        quote = quotes.get(symbol) or quotes.get(symbol.replace("/", "."))
        mid: Decimal | None = None if quote is None else quote.midpoint
        if mid is not None:
            prices[symbol] = float(mid)
    absent = [s for s in symbols if s not in prices]
    if absent:
        raise NoLiveQuoteError(absent)
    return prices


class LiveBarMarketData:
    """A MarketDataPort: `inner`'s completed bars through `completed_through`, plus the live bar on `day`."""

    def __init__(self, inner: MarketDataPort, quotes: QuoteSource, day: date, completed_through: date) -> None:
        self.inner = inner
        self.quotes = quotes
        self.day = day
        self.completed_through = completed_through

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, DailyBars]:
        completed = self.inner.daily_bars(symbols, end=self.completed_through)
        newest = max((b.last_date for b in completed.values() if b.last_date is not None), default=None)
        if newest != self.completed_through:
            raise StaleMarketDataError(
                f"completed bars end on {newest}; a live bar on {self.day} needs them through {self.completed_through}"
            )
        if end is not None and end < self.day:
            return {s: b.until(end) for s, b in completed.items()}
        prices = midpoints(self.quotes([s.replace("/", ".") for s in symbols]), symbols)
        return {s: with_bar(completed[s], self.day, prices[s]) for s in symbols}


def quote_day(quotes: Mapping[str, Quote], fallback: datetime) -> date:
    """The New York date of the newest quote (the broker's today), else of `fallback`."""
    from the_alchemiser.shared.calendar import NEW_YORK

    stamps = [q.timestamp for q in quotes.values() if q.timestamp is not None]
    return (max(stamps) if stamps else fallback).astimezone(NEW_YORK).date()


def live_market_data(market: MarketDataPort, symbols: Sequence[str]) -> tuple[LiveBarMarketData, date]:
    """The command line's live-bar port: quotes from the Alpaca data API Settings point at (the real one,
    or the local broker via ALPACA_DATA_URL), today = the quotes' New York date."""
    from datetime import UTC

    from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
    from the_alchemiser.shared.broker.errors import BrokerError
    from the_alchemiser.shared.calendar import nyse_calendar
    from the_alchemiser.shared.config.settings import Settings

    try:
        broker = AlpacaBroker.from_settings(Settings())
        first = broker.get_latest_quotes([s.replace("/", ".") for s in symbols])
    except BrokerError as exc:
        raise MarketDataError(f"live quotes: {exc}") from exc
    day = quote_day(first, datetime.now(UTC))
    completed_through = nyse_calendar().previous_trading_day(day)

    def quotes(wanted: Sequence[str]) -> Mapping[str, Quote]:
        missing = [s for s in wanted if s not in first]
        return first if not missing else {**first, **broker.get_latest_quotes(missing)}

    return LiveBarMarketData(market, quotes, day, completed_through), day
