"""One symbol's daily bars as numpy arrays: the shape the strategy engine reads, with no pandas import.

pandas stays where a DataFrame is the interface a user gets (`evaluate_range`, the datalake tools):
`DailyBars.from_frame` and `.to_frame` convert, importing pandas only when called."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

Array = npt.NDArray[Any]
COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True, eq=False)
class DailyBars:
    """Bars of one symbol: `dates` datetime64[D], strictly ascending; float64 columns of the same length
    (closes adjusted for splits and dividends, as the strategies need)."""

    dates: Array
    open: Array
    high: Array
    low: Array
    close: Array
    volume: Array

    def __len__(self) -> int:
        return len(self.dates)

    @classmethod
    def from_closes(cls, dates: Any, closes: Any) -> DailyBars:
        """Bars where only the closes are known (open = high = low = close, volume 0)."""
        close = np.asarray(closes, dtype=float)
        return cls(np.asarray(dates, dtype="datetime64[D]"), close, close, close, close, np.zeros(len(close)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DailyBars:
        """From the port's former DataFrame shape (a date index; open, high, low, close, volume)."""
        import pandas as pd

        index = frame.index
        if not isinstance(index, pd.DatetimeIndex) or index.tz is not None:
            index = pd.DatetimeIndex(index)
        dates = index.values.astype("datetime64[D]")
        close = frame["close"].to_numpy(dtype=float)

        def column(name: str) -> Array:
            return frame[name].to_numpy(dtype=float) if name in frame.columns else close

        volume = frame["volume"].to_numpy(dtype=float) if "volume" in frame.columns else np.zeros(len(dates))
        return cls(dates, column("open"), column("high"), column("low"), close, volume)

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        index = pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="date")
        return pd.DataFrame({name: getattr(self, name) for name in COLUMNS}, index=index)

    def until(self, end: date | None) -> DailyBars:
        """The bars on or before `end` (binary search; the same object when nothing is after it)."""
        if end is None or not len(self.dates) or self.dates[-1] <= np.datetime64(end, "D"):
            return self
        cut = int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        return DailyBars(
            self.dates[:cut], self.open[:cut], self.high[:cut], self.low[:cut], self.close[:cut], self.volume[:cut]
        )

    @property
    def first_date(self) -> date | None:
        return None if not len(self.dates) else date.fromisoformat(str(self.dates[0]))

    @property
    def last_date(self) -> date | None:
        return None if not len(self.dates) else date.fromisoformat(str(self.dates[-1]))


def strictly_ascending(dates: Array) -> bool:
    """Whether the dates are unique and ascending (the one rule every reader and writer of bars checks)."""
    return len(dates) < 2 or bool((dates[1:] > dates[:-1]).all())


def as_daily_bars(bars: DailyBars | pd.DataFrame) -> DailyBars:
    """Accept either shape while callers move to DailyBars."""
    return bars if isinstance(bars, DailyBars) else DailyBars.from_frame(bars)
