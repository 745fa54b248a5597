"""The date axis a strategy is evaluated on, and each symbol's closes laid on it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from the_alchemiser.shared.market_data import MissingMarketDataError
from the_alchemiser.shared.market_data.bars import DailyBars, as_daily_bars
from the_alchemiser.strategy_v2.dsl.errors import DslEvaluationError

Array = npt.NDArray[Any]


class Market:
    """Calendar = union of the symbols' bar dates up to `end`. Per symbol: its own closes (indicators use
    them), the index of its last bar on or before each calendar day, and its daily returns on the
    calendar with the close carried forward over days it lacks (synthetic series use them)."""

    def __init__(
        self, bars: Mapping[str, DailyBars | pd.DataFrame], symbols: Collection[str], end: date | None = None
    ) -> None:
        missing = sorted(s for s in symbols if s not in bars or bars[s] is None or len(bars[s]) == 0)
        if missing:
            raise MissingMarketDataError(missing)
        limit = None if end is None else np.datetime64(end, "D")
        self.own_dates: dict[str, Array] = {}
        self.own_closes: dict[str, Array] = {}
        for symbol in sorted(symbols):
            series = as_daily_bars(bars[symbol])
            dates, closes = series.dates, series.close
            if len(dates) > 1 and not bool(np.all(dates[1:] > dates[:-1])):
                raise DslEvaluationError(f"bars of {symbol} are not in strictly ascending date order")
            if limit is not None and len(dates) and dates[-1] > limit:
                cut = int(np.searchsorted(dates, limit, side="right"))
                dates, closes = dates[:cut], closes[:cut]
            self.own_dates[symbol] = dates
            self.own_closes[symbol] = closes
        non_empty = [d for d in self.own_dates.values() if len(d)]
        if not non_empty:
            raise DslEvaluationError(f"no bars on or before {end}" if end else "no bars at all")
        first = non_empty[0]
        if all(len(d) == len(first) and np.array_equal(d, first) for d in non_empty):
            self.dates: Array = first  # the usual case: every symbol trades on the same days
        else:
            self.dates = np.unique(np.concatenate(non_empty))
        self._position: dict[str, Array] = {}
        self._returns: dict[str, Array] = {}

    def __len__(self) -> int:
        return len(self.dates)

    def day(self, index: int) -> date:
        return date.fromisoformat(str(self.dates[index]))

    def position(self, symbol: str) -> Array:
        """For each calendar day, the index of the symbol's last own bar on or before it (-1: none yet)."""
        found = self._position.get(symbol)
        if found is None:
            found = np.searchsorted(self.own_dates[symbol], self.dates, side="right") - 1
            self._position[symbol] = found
        return found

    def calendar_returns(self, symbol: str) -> Array:
        """C(t)/C(t-1) - 1 on the calendar, closes carried forward; 0 where there is no previous close."""
        found = self._returns.get(symbol)
        if found is None:
            pos = self.position(symbol)
            closes = self.own_closes[symbol]
            filled = np.where(pos >= 0, closes[np.maximum(pos, 0)], np.nan)
            found = np.zeros(len(self.dates))
            with np.errstate(divide="ignore", invalid="ignore"):
                found[1:] = filled[1:] / filled[:-1] - 1.0
            found[~np.isfinite(found)] = 0.0
            self._returns[symbol] = found
        return found
