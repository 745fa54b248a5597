"""The clock that stamps events and log lines: the system clock, or a simulated day's.

In AWS it is always the system clock. The local stack runs a whole trading day in-process against a
simulated market, and sets this clock to the simulated one for the day (`stamped_by`), so every event
timestamp and every log line says when it happened on that day, not when the run happened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Now = Callable[[], datetime]


def _system_now() -> datetime:
    return datetime.now(UTC)


_now: Now = _system_now


def stamp_now() -> datetime:
    """Now, aware, in UTC."""
    return _now().astimezone(UTC)


@contextmanager
def stamped_by(now: Now) -> Iterator[None]:
    """Stamp with `now` for the block (one process-wide clock, like the log configuration), then restore."""
    global _now  # noqa: PLW0603 - one stamping clock per process, set only by the local stack
    saved, _now = _now, now
    try:
        yield
    finally:
        _now = saved
