"""The date axis a strategy is evaluated on, and each symbol's closes laid on it (numpy only)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from the_alchemiser.shared.market_data import MissingMarketDataError
from the_alchemiser.shared.market_data.bars import DailyBars, as_daily_bars, strictly_ascending
from the_alchemiser.strategy_v2.dsl.errors import DslEvaluationError

if TYPE_CHECKING:
    import pandas as pd

Array = npt.NDArray[Any]


class Market:
    """Calendar = union of the symbols' bar dates up to `end`. Per symbol: its own closes (indicators use
    them), the index of its last bar on or before each calendar day, and its daily returns on the
    calendar with the close carried forward over days it lacks (synthetic series use them).

    Bars come as `DailyBars` (or the DataFrames the port used to give). A symbol with no bars at all is
    missing (MissingMarketDataError, naming every such symbol). A symbol whose bars all lie after `end`
    is not missing: it lists later, and `first_bar` keeps its first bar's date for the errors."""

    def __init__(
        self, bars: Mapping[str, DailyBars | pd.DataFrame], symbols: Collection[str], end: date | None = None
    ) -> None:
        missing = sorted(s for s in symbols if s not in bars or bars[s] is None or len(bars[s]) == 0)
        if missing:
            raise MissingMarketDataError(missing)
        self.own_dates: dict[str, Array] = {}
        self.own_closes: dict[str, Array] = {}
        self.first_bar: dict[str, date] = {}
        for symbol in sorted(symbols):
            series = as_daily_bars(bars[symbol])
            dates = series.dates
            if not strictly_ascending(dates):
                raise DslEvaluationError(f"bars of {symbol} are not in strictly ascending date order")
            self.first_bar[symbol] = date.fromisoformat(str(dates[0]))
            series = series.until(end)
            self.own_dates[symbol] = series.dates
            self.own_closes[symbol] = series.close
        non_empty = [d for d in self.own_dates.values() if len(d)]
        if not non_empty:  # every symbol lists after `end`
            listed_later = "; ".join(self.not_listed_yet(s) for s in sorted(symbols))
            raise DslEvaluationError(f"no bars on or before {end} ({listed_later})")
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

    def not_listed_yet(self, symbol: str) -> str:
        """Why the symbol has nothing on a calendar day before its first bar."""
        return f"{symbol}: first bar {self.first_bar[symbol]}, after the as-of day"

    def position(self, symbol: str) -> Array:
        """For each calendar day, the index of the symbol's last own bar on or before it (-1: none yet)."""
        found = self._position.get(symbol)
        if found is None:
            found = np.searchsorted(self.own_dates[symbol], self.dates, side="right") - 1
            self._position[symbol] = found
        return found

    def calendar_returns(self, symbol: str) -> Array:
        """C(t)/C(t-1) - 1 on the calendar, closes carried forward; 0 where there is no previous close
        (before the first bar too, so a composite holding a later listing earns nothing on it yet)."""
        found = self._returns.get(symbol)
        if found is None:
            found = np.zeros(len(self.dates))
            closes = self.own_closes[symbol]
            if len(closes):
                pos = self.position(symbol)
                filled = np.where(pos >= 0, closes[np.maximum(pos, 0)], np.nan)
                with np.errstate(divide="ignore", invalid="ignore"):
                    found[1:] = filled[1:] / filled[:-1] - 1.0
                found[~np.isfinite(found)] = 0.0
            self._returns[symbol] = found
        return found
