"""The market-data port the strategy engine reads daily bars through (no pandas: the hot path is numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from the_alchemiser.shared.market_data.bars import DailyBars

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
    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, DailyBars]:
        """Daily bars per symbol up to and including `end` (all when None).

        Closes (and open/high/low) adjusted for splits and dividends. A symbol whose series starts after
        `end` is not missing: it is served with no bars (the engine's first-bar rule decides). Raises
        MissingMarketDataError naming every symbol that has no series at all."""
        ...
