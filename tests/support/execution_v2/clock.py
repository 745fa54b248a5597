"""A wait clock for tests: sleeping advances a virtual time at once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualWaitClock:
    """Sleeping advances a virtual time at once (thread-safe): waits cost nothing in tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._elapsed += seconds
        time.sleep(0)  # let other threads run
