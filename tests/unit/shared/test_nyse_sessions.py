"""The generated NYSE session table (shared/nyse_sessions.py) against exchange_calendars, over its whole range,
and the calendar past the table's ends (a clear CalendarRangeError, never a guess)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from the_alchemiser.shared import nyse_sessions
from the_alchemiser.shared.calendar import CalendarRangeError, NyseCalendar

REPO = Path(__file__).resolve().parents[3]
NY = ZoneInfo("America/New_York")
FIRST = date.fromisoformat(nyse_sessions.FIRST_SESSION)
LAST = date.fromisoformat(nyse_sessions.LAST_SESSION)


@pytest.fixture(scope="module")
def xnys():  # type: ignore[no-untyped-def]
    xcals = pytest.importorskip("exchange_calendars")  # a dev dependency: the runtime never imports it
    return xcals.get_calendar("XNYS", start=FIRST.isoformat(), end=LAST.isoformat())


def test_the_table_agrees_with_exchange_calendars_over_its_whole_range(xnys) -> None:  # type: ignore[no-untyped-def]
    calendar = NyseCalendar()
    expected = {ts.date(): (o, c) for ts, o, c in zip(xnys.sessions, xnys.opens, xnys.closes, strict=True)}
    assert min(expected) == FIRST
    assert max(expected) == LAST
    assert calendar.trading_days(FIRST, LAST) == sorted(expected)
    day = FIRST
    while day <= LAST:
        session = calendar.session(day)
        if day not in expected:
            assert session is None, day
            assert not calendar.is_trading_day(day)
        else:
            opens, closes = expected[day]
            assert session is not None, day
            assert session.open == opens.to_pydatetime(), day
            assert session.close == closes.to_pydatetime(), day
            assert session.open.tzinfo == NY
            assert session.early_close == (closes.to_pydatetime().astimezone(NY).hour < 16), day
        day += timedelta(days=1)


def test_neighbours_agree_with_exchange_calendars(xnys) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    calendar = NyseCalendar()
    day = FIRST + timedelta(days=1)
    while day < LAST:
        ts = pd.Timestamp(day)
        assert calendar.latest_trading_day(day) == xnys.date_to_session(ts, direction="previous").date(), day
        assert calendar.previous_trading_day(day) == xnys.date_to_session(ts - pd.Timedelta(days=1), "previous").date()
        assert calendar.next_trading_day(day) == xnys.date_to_session(ts + pd.Timedelta(days=1), "next").date(), day
        day += timedelta(days=3)


def test_the_committed_table_is_what_the_script_writes() -> None:
    pytest.importorskip("exchange_calendars")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "nyse_sessions.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "ask",
    [
        lambda c: c.is_trading_day(LAST + timedelta(days=1)),
        lambda c: c.session(LAST + timedelta(days=1)),
        lambda c: c.latest_trading_day(LAST + timedelta(days=1)),
        lambda c: c.previous_trading_day(LAST + timedelta(days=2)),
        lambda c: c.next_trading_day(LAST),
        lambda c: c.trading_days(LAST - timedelta(days=5), LAST + timedelta(days=1)),
        lambda c: c.is_trading_day(FIRST - timedelta(days=1)),
        lambda c: c.previous_trading_day(FIRST),
        lambda c: c.trading_days(FIRST - timedelta(days=1), FIRST),
    ],
)
def test_past_either_end_is_a_range_error_naming_the_range(ask) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CalendarRangeError, match=r"calendar"):
        ask(NyseCalendar())


def test_the_range_error_says_how_to_extend_the_table() -> None:
    with pytest.raises(CalendarRangeError, match=rf"{LAST}.*scripts/nyse_sessions.py"):
        NyseCalendar().is_trading_day(LAST + timedelta(days=400))


def test_the_last_days_of_the_table_still_answer() -> None:
    calendar = NyseCalendar()
    assert calendar.is_trading_day(LAST)
    assert calendar.latest_trading_day(LAST) == LAST
    assert calendar.trading_days(LAST, LAST) == [LAST]
    assert calendar.next_trading_day(FIRST - timedelta(days=1)) == FIRST
