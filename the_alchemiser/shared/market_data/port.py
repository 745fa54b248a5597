"""The market-data port the strategy engine reads daily bars through."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import pandas as pd

BAR_COLUMNS = ("open", "high", "low", "close", "volume")


class MarketDataError(Exception):
    """Market data cannot be served as asked."""


class MissingMarketDataError(MarketDataError):
    """Symbols with no data at all: a strategy that mentions them cannot run."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = sorted(symbols)
        super().__init__(f"no market data for: {', '.join(self.symbols)}")


class StaleMarketDataError(MarketDataError):
    """The newest bar is older than the trading day the caller needs."""


class MarketDataPort(Protocol):
    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, pd.DataFrame]:
        """Daily bars per symbol up to and including `end` (all when None).

        Each frame: a sorted, unique DatetimeIndex of dates (tz-naive midnight) named `date`, float
        columns open, high, low, close, volume; closes adjusted for splits and dividends. Raises
        MissingMarketDataError naming every symbol that has no data."""
        ...
