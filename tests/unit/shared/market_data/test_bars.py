"""DailyBars: numpy bars with DataFrame conversion both ways and a binary-search cut."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from the_alchemiser.shared.market_data.bars import DailyBars, as_daily_bars


def _frame() -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"]), name="date")
    return pd.DataFrame(
        {
            "open": [1.0, 2, 3],
            "high": [1.5, 2.5, 3.5],
            "low": [0.5, 1.5, 2.5],
            "close": [1.2, 2.2, 3.2],
            "volume": [10.0, 20, 30],
        },
        index=index,
    )


def test_round_trip_through_a_frame_keeps_every_column() -> None:
    bars = DailyBars.from_frame(_frame())
    assert bars.dates.dtype == np.dtype("datetime64[D]")
    assert bars.first_date == date(2024, 1, 2) and bars.last_date == date(2024, 1, 5)
    pd.testing.assert_frame_equal(bars.to_frame(), _frame(), check_freq=False, check_index_type=False)


def test_until_cuts_after_the_day_and_returns_itself_when_nothing_is_after() -> None:
    bars = DailyBars.from_frame(_frame())
    assert list(bars.until(date(2024, 1, 4)).close) == [1.2, 2.2]
    assert bars.until(date(2024, 1, 5)) is bars
    assert bars.until(None) is bars
    assert len(bars.until(date(2023, 12, 31))) == 0


def test_as_daily_bars_accepts_both_shapes() -> None:
    bars = DailyBars.from_closes(["2024-01-02"], [5.0])
    assert as_daily_bars(bars) is bars
    assert list(as_daily_bars(_frame()).close) == [1.2, 2.2, 3.2]
