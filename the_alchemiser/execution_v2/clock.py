"""Time for execution: 'now' and waiting, behind a port so tests and benchmarks run without sleeping."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Protocol


class WaitClock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemWaitClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedMarketWaitClock:
    """The local stack's adapter: time is the local paper broker's simulated clock, and waiting
    advances it (which also ticks its market), so a whole day's execution runs in seconds.

    Waits of concurrent workers overlap as they would in real time: a sleep moves the clock to its own
    wake-up time (now + seconds, taken when the sleep began) unless another worker's sleep already got
    it there, instead of adding its seconds on top of theirs. Otherwise ten workers polling once a
    second would run the market ten seconds a second, and every order would see ten times the fills."""

    # The simulated clock counts whole microseconds: a shorter wait would not move it, and a token
    # bucket waiting for the last 1e-9 of a token would spin forever.
    MIN_WAIT_SECONDS = 0.001

    def __init__(self, control_url: str) -> None:
        self._url = control_url.rstrip("/")
        self._origin = self.now()
        self._advance = threading.Lock()

    def _call(self, method: str, path: str, body: dict[str, float] | None = None) -> dict[str, str]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            reply: dict[str, str] = json.loads(response.read())
        return reply

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/_sim/state")["clock"])

    def monotonic(self) -> float:
        return (self.now() - self._origin).total_seconds()  # exact microseconds, unlike an epoch float

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        wake = self.now() + timedelta(seconds=max(seconds, self.MIN_WAIT_SECONDS))
        with self._advance:
            behind = (wake - self.now()).total_seconds()
            if behind > 0:
                self._call("POST", "/_sim/advance", {"seconds": behind})
