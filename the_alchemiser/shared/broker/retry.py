"""Exponential backoff with jitter for transient broker failures (429, 5xx, connection)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Attempt n (0-based) waits `min(max_delay, base_delay * multiplier**n)` scaled by a random factor in
    `[1 - jitter, 1]` (so many clients hitting the same limit spread out). A 429 that says when the window
    resets (Alpaca's X-RateLimit-Reset) waits until then plus that backoff, at most `max_rate_limit_wait`:
    retrying sooner would only spend another request on another 429. Tests use tiny delays.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.5
    max_rate_limit_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)  # wall clock, Unix seconds

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier**attempt)
        return ceiling * (1 - self.jitter * self.rng.random())

    def rate_limit_delay(self, attempt: int, reset_at: float | None) -> float:
        """Seconds to wait after a 429: until `reset_at` (if it is ahead) plus the usual backoff, capped."""
        backoff = self.delay(attempt)
        if reset_at is None:
            return backoff
        return min(self.max_rate_limit_wait, max(0.0, reset_at - self.clock()) + backoff)

    def wait(self, attempt: int, *, reset_at: float | None = None) -> float:
        seconds = self.delay(attempt) if reset_at is None else self.rate_limit_delay(attempt, reset_at)
        self.sleep(seconds)
        return seconds

    @classmethod
    def fast(cls, max_attempts: int = 4) -> RetryPolicy:
        """Millisecond delays: for tests against the local broker."""
        return cls(max_attempts=max_attempts, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=0.05)
