"""The strategy engine's market-data port over the datalake (moto S3): freshness judged against the
requested day, a warm process cache that can never serve an older day, adjusted prices, and the DSL
engine and the worker's market-data factory running on it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.support.shared.market_data.bars import CALENDAR, raw_bars, trading_days, with_adjusted
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.calendar import NEW_YORK, FixedClock
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.market_data import MissingMarketDataError, StaleMarketDataError
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.s3_adapter import BarCache, S3MarketData, StaleBarsError
from the_alchemiser.strategy_v2.dsl import evaluate_strategy, load_strategy
from the_alchemiser.strategy_v2.wiring import market_data_factory

REPO = Path(__file__).resolve().parents[4]
LAST = date(2024, 6, 10)  # Monday
DAYS = trading_days(date(2024, 1, 2), LAST)


class NoClock:
    """Freshness for a requested day must never look at the clock."""

    def now(self) -> datetime:
        raise AssertionError("the clock was consulted")


def adapter(s3_client: Any, bucket: str, **kwargs: Any) -> S3MarketData:
    kwargs.setdefault("clock", NoClock())
    kwargs.setdefault("calendar", CALENDAR)
    kwargs.setdefault("cache", BarCache())
    return S3MarketData(s3_client, bucket, **kwargs)


@pytest.fixture
def stored(datalake: Datalake) -> Datalake:
    for i, symbol in enumerate(("SPY", "TLT")):
        datalake.write(symbol, with_adjusted(raw_bars(DAYS, seed=i)))
    datalake.write("GLD", with_adjusted(raw_bars(DAYS[:-1], seed=9)))  # one day behind
    return datalake


def count_gets(s3_client: Any) -> list[str]:
    calls: list[str] = []
    s3_client.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: calls.append(params["Key"])
    )
    return calls


def test_bars_through_the_requested_day_are_served_whatever_the_clock_says(
    stored: Datalake, s3_client: Any, bucket: str
) -> None:
    port = adapter(s3_client, bucket)
    bars = port.daily_bars(["SPY", "TLT"], end=LAST)
    assert sorted(bars) == ["SPY", "TLT"]
    assert bars["SPY"].last_date == LAST and bars["SPY"].dates.dtype == np.dtype("datetime64[D]")
    assert len(bars["SPY"].open) == len(bars["SPY"].volume) == len(DAYS)

    sunday = port.daily_bars(["SPY"], end=date(2024, 6, 9))  # needs Friday's bar, gets nothing later
    assert sunday["SPY"].last_date == date(2024, 6, 7)
    old = port.daily_bars(["SPY", "GLD"], end=date(2024, 3, 1))  # a rerun for an old day
    assert old["GLD"].last_date == date(2024, 3, 1)
    # a day before a series' first bar: not missing, just no bars yet (the engine's first-bar rule decides)
    before = port.daily_bars(["SPY"], end=date(2023, 12, 29))
    assert len(before["SPY"]) == 0


@pytest.mark.parametrize(
    ("end", "required"),
    [(date(2024, 6, 11), date(2024, 6, 11)), (date(2024, 6, 15), date(2024, 6, 14))],
)
def test_a_store_that_ends_before_the_requested_day_is_stale(
    stored: Datalake, s3_client: Any, bucket: str, end: date, required: date
) -> None:
    with pytest.raises(StaleBarsError) as raised:
        adapter(s3_client, bucket).daily_bars(["SPY", "TLT"], end=end)
    assert isinstance(raised.value, StaleMarketDataError)
    assert raised.value.required == required
    assert raised.value.last_bars == {"SPY": LAST, "TLT": LAST}
    assert f"SPY (last bar {LAST})" in str(raised.value)


def test_one_stale_symbol_fails_the_request_naming_only_it(stored: Datalake, s3_client: Any, bucket: str) -> None:
    with pytest.raises(StaleBarsError) as raised:
        adapter(s3_client, bucket).daily_bars(["SPY", "GLD", "TLT"], end=LAST)
    assert raised.value.symbols == ["GLD"] and raised.value.last_bars["GLD"] == date(2024, 6, 7)


def test_without_an_end_day_the_clock_sets_the_required_bar(stored: Datalake, s3_client: Any, bucket: str) -> None:
    at_the_run = FixedClock(datetime(2024, 6, 11, 15, 30, tzinfo=NEW_YORK))
    assert adapter(s3_client, bucket, clock=at_the_run).daily_bars(["SPY"])["SPY"].last_date == LAST
    next_morning = FixedClock(datetime(2024, 6, 12, 9, 0, tzinfo=NEW_YORK))
    with pytest.raises(StaleBarsError, match="bars through 2024-06-11 needed"):
        adapter(s3_client, bucket, clock=next_morning).daily_bars(["SPY"])


def test_missing_symbols_are_named_before_anything_is_read(stored: Datalake, s3_client: Any, bucket: str) -> None:
    gets = count_gets(s3_client)
    with pytest.raises(MissingMarketDataError) as raised:
        adapter(s3_client, bucket).daily_bars(["SPY", "NOPE", "ALSO/NOT"], end=LAST)
    assert raised.value.symbols == ["ALSO/NOT", "NOPE"]
    assert gets == []


def test_a_warm_process_rereads_a_refreshed_object_and_never_serves_the_older_day(
    stored: Datalake, s3_client: Any, bucket: str
) -> None:
    cache = BarCache()  # shared across adapters, as PROCESS_CACHE is across a warm Lambda's invocations
    gets = count_gets(s3_client)
    first = adapter(s3_client, bucket, cache=cache).daily_bars(["SPY", "TLT"], end=LAST)
    assert sorted(gets) == ["SPY/daily.csv", "TLT/daily.csv"]  # the CSV copies: no pandas on this path

    gets.clear()
    again = adapter(s3_client, bucket, cache=cache).daily_bars(["SPY", "TLT"], end=LAST)
    assert gets == []  # same ETags: served from the cache
    np.testing.assert_array_equal(first["SPY"].close, again["SPY"].close)

    # the next day's run before the evening refresh wrote anything: stale, not yesterday's cache
    with pytest.raises(StaleBarsError):
        adapter(s3_client, bucket, cache=cache).daily_bars(["SPY"], end=date(2024, 6, 11))

    # the refresh appends a bar: the new ETag forces a re-read and the new day is served
    more = trading_days(date(2024, 1, 2), date(2024, 6, 11))
    stored.write("SPY", with_adjusted(raw_bars(more, seed=0)))
    gets.clear()
    today = adapter(s3_client, bucket, cache=cache).daily_bars(["SPY"], end=date(2024, 6, 11))
    assert gets == ["SPY/daily.csv"]
    assert today["SPY"].last_date == date(2024, 6, 11)


def test_served_bars_cannot_change_what_the_next_call_is_served(stored: Datalake, s3_client: Any, bucket: str) -> None:
    cache = BarCache()
    served = adapter(s3_client, bucket, cache=cache).daily_bars(["SPY"], end=LAST)["SPY"]
    original = served.close[-1]
    with pytest.raises(ValueError, match="read-only"):
        served.close[-1] = -1.0
    assert adapter(s3_client, bucket, cache=cache).daily_bars(["SPY"], end=LAST)["SPY"].close[-1] == original


def test_prices_are_served_adjusted_for_splits(datalake: Datalake, s3_client: Any, bucket: str) -> None:
    raw = raw_bars(DAYS, start_price=400.0, seed=3)
    split_day = pd.Timestamp(date(2024, 4, 1))
    after = raw.index >= split_day
    traded = raw.copy()
    traded.loc[after, ["open", "high", "low", "close"]] /= 4  # 4-for-1: raw prices drop on the split day
    traded.loc[after, "volume"] *= 4
    adjusted = raw["close"] / 4  # one continuous series at post-split scale
    datalake.write("NVDA", traded.assign(adjusted=adjusted))

    served = adapter(s3_client, bucket).daily_bars(["NVDA"], end=LAST)["NVDA"]
    np.testing.assert_allclose(served.close, adjusted.to_numpy())
    np.testing.assert_allclose(served.open, raw["open"].to_numpy() / 4)
    np.testing.assert_allclose(served.volume, raw["volume"].to_numpy() * 4)
    assert np.abs(np.diff(served.close) / served.close[:-1]).max() < 0.1  # no fake -75% day


def synthetic_universe(universe: list[str], end: date) -> dict[str, pd.DataFrame]:
    return generate_market(universe, end=end, days=400)


def test_the_dsl_engine_gets_the_same_answer_from_s3_as_from_a_csv_directory(
    datalake: Datalake, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    strategy = load_strategy(REPO / "strategies" / "klm.clj")
    market = synthetic_universe(sorted(strategy.universe), LAST)
    csv = CsvDirectoryMarketData(tmp_path / "bars")
    raw_csv = CsvDirectoryMarketData(tmp_path / "raw")
    for symbol, frame in market.items():
        csv.write(symbol, frame)
        # a 3-for-1 split in SPY's raw tape two days before as_of: the adjusted close the engine reads is
        # the continuous series, so the answer must be the unsplit one
        traded = frame.copy()
        if symbol == "SPY":
            split = frame.index >= pd.Timestamp(date(2024, 6, 7))
            traded.loc[split, ["open", "high", "low", "close"]] /= 3
        raw_csv.write(symbol, traded)
        datalake.write(symbol, traded.assign(adjusted=frame["close"]))

    from_raw = evaluate_strategy(strategy, raw_csv, LAST)
    from_s3 = evaluate_strategy(strategy, adapter(s3_client, bucket), LAST)
    from_csv = evaluate_strategy(strategy, csv, LAST)
    assert from_s3.as_of == from_csv.as_of == LAST
    assert from_s3.weights.keys() == from_csv.weights.keys()
    for symbol, weight in from_csv.weights.items():
        assert from_s3.weights[symbol] == pytest.approx(weight, rel=1e-9)
    assert from_raw.weights != from_csv.weights  # the split would have changed the answer (a real check)

    with pytest.raises(StaleMarketDataError):
        evaluate_strategy(strategy, adapter(s3_client, bucket), date(2024, 6, 11))


def test_the_workers_market_data_factory_builds_the_s3_adapter(
    datalake: Datalake, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARKET_DATA_BUCKET", bucket)
    factory = market_data_factory(Settings(), s3_client)
    port = factory()
    assert isinstance(port, S3MarketData) and port.datalake.bucket == bucket
    assert factory() is not port  # a new adapter per request; the ETag-keyed cache is what persists

    strategy = load_strategy(REPO / "strategies" / "tecl.clj")
    for symbol, frame in synthetic_universe(sorted(strategy.universe), LAST).items():
        datalake.write(symbol, frame.assign(adjusted=frame["close"]))
    result = evaluate_strategy(strategy, factory(), LAST)
    assert result.as_of == LAST and sum(result.weights.values()) == pytest.approx(1.0)
    with pytest.raises(StaleMarketDataError):
        evaluate_strategy(strategy, factory(), date(2024, 6, 11))
