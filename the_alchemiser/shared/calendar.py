"""The clock and the NYSE calendar (offline, from a generated session table): trading days and early closes.

The sessions come from `shared/nyse_sessions.py`, written by scripts/nyse_sessions.py from exchange_calendars
(XNYS) and checked against it over the whole range by a test: no pandas or exchange_calendars import at run
time. A day outside the table's range is a CalendarRangeError, never a guess."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

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


def _times(table: str) -> dict[int, time]:
    """`DAY=HH:MM ...` -> {day ordinal: time}."""
    found = {}
    for item in table.split():
        day, _, at = item.partition("=")
        found[date.fromisoformat(day).toordinal()] = time.fromisoformat(at)
    return found


class NyseCalendar:
    """NYSE sessions from the generated table (see the module docstring)."""

    def __init__(self) -> None:
        from the_alchemiser.shared import nyse_sessions as table

        self.first_session = date.fromisoformat(table.FIRST_SESSION)
        self.last_session = date.fromisoformat(table.LAST_SESSION)
        closed = {date.fromisoformat(d).toordinal() for d in table.CLOSED_WEEKDAYS.split()}
        weekend = {date.fromisoformat(d).toordinal() for d in table.WEEKEND_SESSIONS.split()}
        first, last = self.first_session.toordinal(), self.last_session.toordinal()
        # date.weekday() of an ordinal is (ordinal + 6) % 7
        self._sessions: list[int] = [
            n for n in range(first, last + 1) if ((n + 6) % 7 < 5 and n not in closed) or n in weekend
        ]
        if len(self._sessions) != table.SESSION_COUNT:
            raise RuntimeError(f"the NYSE session table is inconsistent: {len(self._sessions)} sessions")
        self._session_set = frozenset(self._sessions)
        self._open = time.fromisoformat(table.REGULAR_OPEN)
        self._close = time.fromisoformat(table.REGULAR_CLOSE)
        self._special_opens = _times(table.SPECIAL_OPENS)
        self._special_closes = _times(table.SPECIAL_CLOSES)

    def _check(self, day: date) -> int:
        if not (self.first_session <= day <= self.last_session):
            raise CalendarRangeError(
                f"{day} is outside the NYSE calendar's range ({self.first_session} .. {self.last_session}; "
                "extend it with scripts/nyse_sessions.py)"
            )
        return day.toordinal()

    def is_trading_day(self, day: date) -> bool:
        return self._check(day) in self._session_set

    def session(self, day: date) -> TradingSession | None:
        ordinal = self._check(day)
        if ordinal not in self._session_set:
            return None
        opens = self._special_opens.get(ordinal, self._open)
        closes = self._special_closes.get(ordinal, self._close)
        return TradingSession(
            day=day,
            open=datetime.combine(day, opens, tzinfo=NEW_YORK),
            close=datetime.combine(day, closes, tzinfo=NEW_YORK),
        )

    def close_time(self, day: date) -> datetime | None:
        session = self.session(day)
        return session.close if session else None

    def is_early_close(self, day: date) -> bool:
        session = self.session(day)
        return bool(session and session.early_close)

    def _on_or_before(self, day: date) -> date:
        index = bisect_right(self._sessions, self._check(day)) - 1
        if index < 0:
            raise CalendarRangeError(f"no NYSE session in the calendar on or before {day}")
        return date.fromordinal(self._sessions[index])

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self._on_or_before(day - timedelta(days=1))

    def latest_trading_day(self, day: date) -> date:
        """`day` if it is a trading day, else the last one before it."""
        return self._on_or_before(day)

    def next_trading_day(self, day: date) -> date:
        after = day + timedelta(days=1)
        index = bisect_left(self._sessions, self._check(after))
        if index == len(self._sessions):
            raise CalendarRangeError(f"no NYSE session in the calendar on or after {after}")
        return date.fromordinal(self._sessions[index])

    def trading_days(self, start: date, end: date) -> list[date]:
        """The sessions from `start` to `end`, both included."""
        low, high = self._check(start), self._check(end)
        return [
            date.fromordinal(n)
            for n in self._sessions[bisect_left(self._sessions, low) : bisect_right(self._sessions, high)]
        ]

    def is_open_at(self, moment: datetime) -> bool:
        session = self.session(moment.astimezone(NEW_YORK).date())
        return bool(session and session.open <= moment < session.close)

    def run_time(self, day: date, minutes_before_close: int = 30) -> datetime | None:
        """When the daily workflow runs: 30 minutes before the close (15:30, or 12:30 on early closes)."""
        close = self.close_time(day)
        return close - timedelta(minutes=minutes_before_close) if close else None


@lru_cache(maxsize=1)
def nyse_calendar() -> NyseCalendar:
    return NyseCalendar()
