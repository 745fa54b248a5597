"""The request budget: Alpaca allows 200 requests a minute; the token bucket shared by the workers keeps
every 60-second window (of the wait clock's time) under it, and transient errors are retried then raised."""

from __future__ import annotations

import threading

import pytest

from tests.support.execution_v2.clock import VirtualWaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.rate_limit import RateLimitedBroker, TokenBucket
from the_alchemiser.shared.broker.errors import BrokerUnavailableError


def busiest_minute(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_ten_workers_never_exceed_the_budget_in_any_minute() -> None:
    config = ExecutionConfig()
    clock = VirtualWaitClock()
    bucket = TokenBucket(clock, config.trading_requests_per_minute, config.trading_burst)
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            bucket.acquire()
            with lock:
                times.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bucket.acquired == 1000
    assert busiest_minute(times) <= 200
    # and it is a budget, not a brake: 1000 requests take about 1000/180 minutes, not much more
    assert clock.monotonic() <= (1000 - config.trading_burst) / config.trading_requests_per_minute * 60 + 1


def test_bad_bucket_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(VirtualWaitClock(), 0, 10)


class FlakyClock:
    """Answers after `failures` transient errors."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def get_clock(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise BrokerUnavailableError("503 from the broker")
        return "ok"


def limited(inner: object, retries: int) -> RateLimitedBroker:
    clock = VirtualWaitClock()
    return RateLimitedBroker(
        inner,  # type: ignore[arg-type]
        clock,
        TokenBucket(clock, 180, 20),
        TokenBucket(clock, 180, 20),
        retries=retries,
        backoff_seconds=1,
    )


def test_transient_errors_are_retried_then_raised() -> None:
    assert limited(FlakyClock(failures=2), retries=2).get_clock() == "ok"  # type: ignore[comparison-overlap]
    flaky = FlakyClock(failures=3)
    with pytest.raises(BrokerUnavailableError):
        limited(flaky, retries=2).get_clock()
    assert flaky.calls == 3


class MicrosecondEpochClock:
    """Like the simulated broker's clock: epoch seconds (large floats) moving in whole microseconds."""

    def __init__(self) -> None:
        self.micros = 1_718_202_600_000_000  # 2024-06-12 14:30 UTC

    def now(self) -> object:
        raise NotImplementedError

    def monotonic(self) -> float:
        return self.micros / 1_000_000

    def sleep(self, seconds: float) -> None:
        self.micros += int(seconds * 1_000_000)  # what a timedelta keeps of it


def test_the_bucket_never_spins_on_a_coarse_clock_at_a_large_time() -> None:
    """A refill that lands a hair under one token must not ask for a wait the clock cannot register."""
    clock = MicrosecondEpochClock()
    bucket = TokenBucket(clock, 180, 20)  # type: ignore[arg-type]
    start = clock.monotonic()
    times = []
    for _ in range(400):
        bucket.acquire()
        times.append(clock.monotonic())
    assert busiest_minute(times) <= 200
    assert clock.monotonic() - start < (400 - 20) / 3 + 1
