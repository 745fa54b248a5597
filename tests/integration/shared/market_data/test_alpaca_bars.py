"""The Alpaca bars source through the real alpaca-py client against the local paper broker over HTTP:
paging, symbol mapping, retries, rate limiting, and the refresh service end to end on moto S3."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY, fast_retry
from tests.support.shared.market_data.bars import (
    CALENDAR,
    SwappableBarsPriceSource,
    after_close,
    raw_bars,
    trading_days,
)
from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.broker.errors import AuthenticationError, BrokerUnavailableError
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.market_data.alpaca_bars import AlpacaBarsSource, RateLimiter
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.refresh import MarketDataRefresher, RefreshPolicy

FIRST = date(2023, 1, 3)
DAY_1 = date(2024, 6, 10)
DAY_2 = date(2024, 6, 11)
SYMBOLS = ("SPY", "QQQ", "BRK/B")


def market(end: date) -> dict[str, pd.DataFrame]:
    days = trading_days(FIRST, end)
    return {symbol: raw_bars(days, start_price=80.0 + 30 * i, seed=10 + i) for i, symbol in enumerate(SYMBOLS)}


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return market(DAY_2)


@pytest.fixture
def prices(frames: dict[str, pd.DataFrame]) -> SwappableBarsPriceSource:
    # the broker knows Alpaca's spelling; the datalake and strategies use Composer's BRK/B
    return SwappableBarsPriceSource({s.replace("/", "."): f for s, f in frames.items()})


@pytest.fixture
def broker(sim_broker_factory: Callable[..., SimBrokerHandle], prices: SwappableBarsPriceSource) -> SimBrokerHandle:
    return sim_broker_factory(price_source=prices, clock_start=after_close(DAY_1))


def source_for(broker: SimBrokerHandle, **kwargs: Any) -> AlpacaBarsSource:
    kwargs.setdefault("retry", fast_retry())
    return AlpacaBarsSource(SIM_API_KEY, SIM_SECRET_KEY, data_url=broker.base_url, **kwargs)


def test_bars_are_paged_and_complete_in_the_datalake_shape(broker: SimBrokerHandle, frames: dict[str, Any]) -> None:
    source = source_for(broker, page_limit=100)
    bars = source.daily_bars(list(SYMBOLS), FIRST, DAY_1)

    days = trading_days(FIRST, DAY_1)
    assert sorted(bars) == sorted(SYMBOLS)
    for symbol in SYMBOLS:
        frame = bars[symbol].to_frame()
        assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adjusted"]
        assert [ts.date() for ts in frame.index] == days  # keyed by the New York date, none lost or doubled
        expected = frames[symbol].loc[: pd.Timestamp(DAY_1)]
        np.testing.assert_allclose(frame[["open", "high", "low", "close", "volume"]].to_numpy(), expected.to_numpy())
        np.testing.assert_allclose(frame["adjusted"].to_numpy(), expected["close"].to_numpy())
    pages = math.ceil(len(days) * len(SYMBOLS) / 100)
    assert pages > 5
    assert source.requests_made == 2 * pages  # raw and split-and-dividend adjusted, each paged


def test_the_source_never_sees_a_bar_past_the_brokers_today(broker: SimBrokerHandle) -> None:
    bars = source_for(broker).daily_bars(["SPY"], DAY_1, DAY_2)
    assert bars["SPY"].dates.tolist() == [DAY_1]
    assert source_for(broker).daily_bars(["NOPE"], FIRST, DAY_1) == {}


def test_429_and_5xx_are_retried_and_a_bad_key_is_not(broker: SimBrokerHandle) -> None:
    broker.inject_fault(429, count=2, path="/v2/stocks/bars")
    broker.inject_fault(503, count=1, path="/v2/stocks/bars")
    source = source_for(broker)
    bars = source.daily_bars(["SPY"], DAY_1, DAY_1)
    assert bars["SPY"].dates.tolist() == [DAY_1]
    assert source.requests_made == 2 + 3

    broker.inject_fault(503, count=10, path="/v2/stocks/bars")
    with pytest.raises(BrokerUnavailableError):
        source_for(broker, retry=fast_retry(3)).daily_bars(["SPY"], DAY_1, DAY_1)
    broker.clear_faults()

    wrong = AlpacaBarsSource("other-key", "other-secret", data_url=broker.base_url, retry=fast_retry())
    with pytest.raises(AuthenticationError):
        wrong.daily_bars(["SPY"], DAY_1, DAY_1)
    assert wrong.requests_made == 1


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_rate_limiter_keeps_any_minute_under_its_budget() -> None:
    time = FakeTime()
    limiter = RateLimiter(3, monotonic=time.monotonic, sleep=time.sleep)
    stamps = []
    for _ in range(10):
        limiter.acquire()
        stamps.append(time.now)
        time.now += 1.0
    for i in range(len(stamps) - 3):
        assert stamps[i + 3] - stamps[i] >= 60.0  # no four requests inside one 60-second window
    assert time.slept and len(time.slept) == 3


def test_every_page_request_passes_the_rate_limiter(broker: SimBrokerHandle) -> None:
    time = FakeTime()
    limiter = RateLimiter(4, monotonic=time.monotonic, sleep=time.sleep)
    source = source_for(broker, page_limit=200, rate_limiter=limiter)
    source.daily_bars(list(SYMBOLS), FIRST, DAY_1)
    assert source.requests_made > 8
    assert len(time.slept) == math.ceil(source.requests_made / 4) - 1


def test_refresh_through_the_broker_seeds_appends_and_re_seeds_a_split(
    broker: SimBrokerHandle, prices: SwappableBarsPriceSource, frames: dict[str, pd.DataFrame], datalake: Datalake
) -> None:
    source = source_for(broker, page_limit=500)
    clock = FixedClock(after_close(DAY_1))
    refresher = MarketDataRefresher(
        datalake, source, clock=clock, calendar=CALENDAR, policy=RefreshPolicy(seed_start=FIRST, batch_size=10)
    )

    seeded = refresher.refresh(list(SYMBOLS))
    assert seeded.ok and seeded.counts() == {"seeded": 3} and seeded.target == DAY_1
    assert datalake.key_for("BRK/B") == "BRK.B/daily.parquet"
    info = datalake.head("BRK/B")
    assert info is not None and info.last_bar == DAY_1 and info.row_count == len(trading_days(FIRST, DAY_1))

    # the next evening: one new bar each; SPY had a 2-for-1 split that the broker's tape shows as halved
    # earlier prices (this broker serves one series for every adjustment)
    broker.set_clock(after_close(DAY_2))
    clock.current = after_close(DAY_2)
    spy = frames["SPY"].copy()
    spy.loc[spy.index < pd.Timestamp(DAY_2), ["open", "high", "low", "close"]] /= 2
    prices.replace("SPY", spy)
    report = refresher.refresh(list(SYMBOLS))

    actions = {r.symbol: r.action for r in report.results}
    assert report.ok and actions == {"SPY": "reseeded", "QQQ": "appended", "BRK/B": "appended"}
    found = datalake.read("SPY")
    assert found is not None
    stored, spy_info = found
    assert spy_info.last_bar == DAY_2
    np.testing.assert_allclose(stored.adjusted, spy["close"].to_numpy(), atol=1e-4)  # cents to 4 dp


class FakeWall:
    """One wall clock for the broker's rate-limit window and the client's retry policy."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_waits_for_the_window_reset_the_headers_name(
    sim_broker_factory: Callable[..., SimBrokerHandle], prices: SwappableBarsPriceSource
) -> None:
    """Past the broker's budget the 429 says when a slot frees (X-RateLimit-Reset): the source waits for
    it instead of burning its retries on more 429s, and no day is lost or doubled."""
    broker = sim_broker_factory(price_source=prices, clock_start=after_close(DAY_1), rate_limit_per_minute=2)
    wall = FakeWall()
    broker.app.rate_limiter.clock = wall.clock
    retry = RetryPolicy(
        max_attempts=3, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=120, sleep=wall.sleep, clock=wall.clock
    )
    source = source_for(broker, page_limit=400, retry=retry, rate_limiter=RateLimiter(1000))

    bars = source.daily_bars(list(SYMBOLS), FIRST, DAY_1)  # 2 x 3 pages: 429s between pages, mid-paging

    days = trading_days(FIRST, DAY_1)
    assert all(bars[s].dates.tolist() == days for s in SYMBOLS)
    assert [status for status in (r.status for r in broker.requests("/v2/stocks/bars"))].count(429) >= 1
    assert wall.slept and max(wall.slept) >= 59  # until the oldest request leaves the 60 s window
