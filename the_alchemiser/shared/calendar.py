"""The clock and the NYSE calendar (offline, via exchange_calendars): trading days and early closes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)


class Clock(Protocol):
    """The one source of 'now' for business code, so tests and the local stack can set the time."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A settable clock for tests and the simulated trading day."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


@dataclass(frozen=True)
class TradingSession:
    day: date
    open: datetime  # aware, America/New_York
    close: datetime  # aware, America/New_York

    @property
    def early_close(self) -> bool:
        return self.close.timetz().replace(tzinfo=None) < REGULAR_CLOSE


class CalendarRangeError(ValueError):
    """A date outside what the calendar knows: never guess whether the market is open."""


class NyseCalendar:
    """NYSE sessions from exchange_calendars (XNYS)."""

    def __init__(self) -> None:
        self._cal = _xnys()

    def _check(self, day: date) -> pd.Timestamp:
        ts = pd.Timestamp(day)
        if not (self._cal.first_session <= ts <= self._cal.last_session):
            raise CalendarRangeError(f"{day} is outside the NYSE calendar's range")
        return ts

    def is_trading_day(self, day: date) -> bool:
        return bool(self._cal.is_session(self._check(day)))

    def session(self, day: date) -> TradingSession | None:
        ts = self._check(day)
        if not self._cal.is_session(ts):
            return None
        return TradingSession(
            day=day,
            open=self._cal.session_open(ts).to_pydatetime().astimezone(NEW_YORK),
            close=self._cal.session_close(ts).to_pydatetime().astimezone(NEW_YORK),
        )

    def close_time(self, day: date) -> datetime | None:
        session = self.session(day)
        return session.close if session else None

    def is_early_close(self, day: date) -> bool:
        session = self.session(day)
        return bool(session and session.early_close)

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self._cal.date_to_session(pd.Timestamp(day) - pd.Timedelta(days=1), direction="previous").date()  # type: ignore[no-any-return]

    def latest_trading_day(self, day: date) -> date:
        """`day` if it is a trading day, else the last one before it."""
        return self._cal.date_to_session(self._check(day), direction="previous").date()  # type: ignore[no-any-return]

    def next_trading_day(self, day: date) -> date:
        return self._cal.date_to_session(pd.Timestamp(day) + pd.Timedelta(days=1), direction="next").date()  # type: ignore[no-any-return]

    def trading_days(self, start: date, end: date) -> list[date]:
        return [ts.date() for ts in self._cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]

    def is_open_at(self, moment: datetime) -> bool:
        session = self.session(moment.astimezone(NEW_YORK).date())
        return bool(session and session.open <= moment < session.close)

    def run_time(self, day: date, minutes_before_close: int = 30) -> datetime | None:
        """When the daily workflow runs: 30 minutes before the close (15:30, or 12:30 on early closes)."""
        close = self.close_time(day)
        return close - timedelta(minutes=minutes_before_close) if close else None


@lru_cache(maxsize=1)
def _xnys() -> Any:
    import exchange_calendars as xcals  # heavy: only when a calendar question is asked

    return xcals.get_calendar("XNYS")


@lru_cache(maxsize=1)
def nyse_calendar() -> NyseCalendar:
    return NyseCalendar()
