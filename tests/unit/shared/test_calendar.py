from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from the_alchemiser.shared.calendar import CalendarRangeError, nyse_calendar

NY = ZoneInfo("America/New_York")


def test_thanksgiving_2026_is_closed() -> None:
    calendar = nyse_calendar()
    assert not calendar.is_trading_day(date(2026, 11, 26))
    assert calendar.session(date(2026, 11, 26)) is None
    assert calendar.run_time(date(2026, 11, 26)) is None


@pytest.mark.parametrize("day", [date(2026, 11, 27), date(2026, 12, 24)])
def test_early_closes_at_13_00_new_york(day: date) -> None:
    calendar = nyse_calendar()
    close = calendar.close_time(day)
    assert close is not None
    assert close.tzinfo is not None
    assert close.astimezone(NY).time() == time(13, 0)
    assert calendar.is_early_close(day)
    assert calendar.run_time(day) == datetime(day.year, day.month, day.day, 12, 30, tzinfo=NY)


def test_regular_day_closes_at_16_00_and_runs_at_15_30() -> None:
    calendar = nyse_calendar()
    day = date(2026, 11, 24)
    assert calendar.close_time(day) == datetime(2026, 11, 24, 16, 0, tzinfo=NY)
    assert not calendar.is_early_close(day)
    assert calendar.run_time(day) == datetime(2026, 11, 24, 15, 30, tzinfo=NY)


def test_weekends_and_neighbours() -> None:
    calendar = nyse_calendar()
    assert not calendar.is_trading_day(date(2026, 11, 28))
    assert calendar.previous_trading_day(date(2026, 11, 27)) == date(2026, 11, 25)
    assert calendar.latest_trading_day(date(2026, 11, 29)) == date(2026, 11, 27)
    assert calendar.next_trading_day(date(2026, 11, 25)) == date(2026, 11, 27)
    assert calendar.trading_days(date(2026, 11, 23), date(2026, 11, 29)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]


def test_open_at() -> None:
    calendar = nyse_calendar()
    assert calendar.is_open_at(datetime(2026, 11, 27, 12, 59, tzinfo=NY))
    assert not calendar.is_open_at(datetime(2026, 11, 27, 13, 0, tzinfo=NY))
    assert not calendar.is_open_at(datetime(2026, 11, 26, 12, 0, tzinfo=NY))


def test_out_of_range_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarRangeError):
        nyse_calendar().is_trading_day(date(2099, 1, 2))
