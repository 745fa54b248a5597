"""One symbol's bars as the datalake keeps them, as numpy arrays: the refresh's unit (no pandas).

Columns: open, high, low, close, volume as traded (Alpaca `adjustment=raw`) and adjusted, the close adjusted
for splits and dividends (`adjustment=all`). `adjusted_bars` gives the strategies' view (DailyBars)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from the_alchemiser.shared.market_data.bars import Array, DailyBars, strictly_ascending
from the_alchemiser.shared.market_data.port import MarketDataError

if TYPE_CHECKING:
    import pandas as pd

DATALAKE_COLUMNS = ("open", "high", "low", "close", "volume", "adjusted")


class DatalakeError(MarketDataError):
    """An object in the datalake is unreadable or bars cannot be stored."""


@dataclass(frozen=True, slots=True, eq=False)
class StoredBars:
    """`dates` datetime64[D]; float64 columns of the same length (see the module docstring). `validated`
    checks the rest (ascending unique dates, positive prices)."""

    dates: Array
    open: Array
    high: Array
    low: Array
    close: Array
    volume: Array
    adjusted: Array

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def first_date(self) -> date:
        return date.fromisoformat(str(self.dates[0]))

    @property
    def last_date(self) -> date:
        return date.fromisoformat(str(self.dates[-1]))

    def _take(self, where: Any) -> StoredBars:
        return StoredBars(*(getattr(self, f.name)[where] for f in fields(self)))

    def tail(self, count: int) -> StoredBars:
        return self._take(slice(-count, None))

    def through(self, day: date) -> StoredBars:
        """The bars on or before `day`."""
        return self._take(slice(0, int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right"))))

    def after(self, day: np.datetime64) -> StoredBars:
        return self._take(slice(int(np.searchsorted(self.dates, day, side="right")), None))

    def between(self, start: date, end: date) -> StoredBars:
        return self._take((self.dates >= np.datetime64(start, "D")) & (self.dates <= np.datetime64(end, "D")))

    def then(self, later: StoredBars) -> StoredBars:
        """These bars followed by `later`'s."""
        return StoredBars(*(np.concatenate((getattr(self, f.name), getattr(later, f.name))) for f in fields(self)))

    def validated(self, symbol: str) -> StoredBars:
        """These bars as float64 arrays, checked; DatalakeError naming the symbol otherwise."""
        if len(self) == 0:
            raise DatalakeError(f"{symbol}: no bars to store")
        dates = np.asarray(self.dates)
        if not np.issubdtype(dates.dtype, np.datetime64):
            raise DatalakeError(f"{symbol}: bar dates must be dates")
        dates = dates.astype("datetime64[D]")
        columns = {name: np.asarray(getattr(self, name), dtype=np.float64) for name in DATALAKE_COLUMNS}
        if any(len(values) != len(dates) for values in columns.values()):
            raise DatalakeError(f"{symbol}: bar columns differ in length")
        if not strictly_ascending(dates):
            raise DatalakeError(f"{symbol}: bar dates must be unique and ascending")
        prices = np.stack([columns[name] for name in ("open", "high", "low", "close", "adjusted")])
        if not np.isfinite(prices).all() or (prices <= 0).any():
            raise DatalakeError(f"{symbol}: prices must be finite and positive")
        if not np.isfinite(columns["volume"]).all():
            raise DatalakeError(f"{symbol}: volume must be finite")
        return StoredBars(dates, **columns)

    def adjusted_bars(self) -> DailyBars:
        """The strategies' bars: prices scaled to the adjusted close (open/high/low by the day's factor
        adjusted/close), volume inversely (exact for splits)."""
        factor = self.adjusted / self.close
        return DailyBars(
            self.dates, self.open * factor, self.high * factor, self.low * factor, self.adjusted, self.volume / factor
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> StoredBars:
        """From a DataFrame in the datalake's shape (a date index; DATALAKE_COLUMNS); pandas only here."""
        import pandas as pd

        missing = [c for c in DATALAKE_COLUMNS if c not in frame.columns]
        if missing:
            raise DatalakeError(f"bars lack columns {missing}")
        index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:
            raise DatalakeError("bar dates must be tz-naive dates")
        dates = index.normalize().values.astype("datetime64[D]")
        return cls(dates, *(frame[name].to_numpy(dtype=np.float64) for name in DATALAKE_COLUMNS))

    @classmethod
    def of(cls, bars: StoredBars | pd.DataFrame) -> StoredBars:
        """Either shape as StoredBars (tools and tests hold frames); pandas only for a frame."""
        return bars if isinstance(bars, StoredBars) else cls.from_frame(bars)

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        index = pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="date")
        return pd.DataFrame({name: getattr(self, name) for name in DATALAKE_COLUMNS}, index=index)
