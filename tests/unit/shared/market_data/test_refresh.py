"""The refresh service over moto S3 and a vendor tape with splits and dividends: seed, append, re-seed,
and every way a symbol can fail to become current."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.support.shared.market_data.bars import (
    CALENDAR,
    CorporateActionTape,
    after_close,
    raw_bars,
    trading_days,
)
from the_alchemiser.shared.calendar import NEW_YORK, FixedClock
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.refresh import (
    MarketDataRefresher,
    RefreshPolicy,
    last_complete_trading_day,
)

SEED_START = date(2023, 1, 3)
DAY_1 = date(2024, 6, 10)  # a Monday
DAY_2 = date(2024, 6, 11)
DAY_3 = date(2024, 6, 12)
POLICY = RefreshPolicy(seed_start=SEED_START, overlap_days=3, batch_size=2)


def tape_through(end: date, symbols: tuple[str, ...] = ("SPY", "QQQ", "TLT")) -> CorporateActionTape:
    days = trading_days(SEED_START, end)
    return CorporateActionTape({s: raw_bars(days, start_price=50.0 + 40 * i, seed=i) for i, s in enumerate(symbols)})


def next_bars(tape: CorporateActionTape, symbol: str, day: date) -> pd.DataFrame:
    """One more bar continuing the symbol's raw series."""
    last = tape.raw[symbol]["close"].iloc[-1]
    bar = raw_bars([day], start_price=float(last), seed=day.toordinal())
    return bar


def refresher(datalake: Datalake, tape: CorporateActionTape, now: datetime) -> MarketDataRefresher:
    return MarketDataRefresher(datalake, tape, clock=FixedClock(now), calendar=CALENDAR, policy=POLICY)


def stored_frame(datalake: Datalake, symbol: str) -> pd.DataFrame:
    found = datalake.read(symbol)
    assert found is not None, f"{symbol} not stored"
    return found[0].to_frame()


def test_seed_then_up_to_date_then_append(datalake: Datalake) -> None:
    tape = tape_through(DAY_1)
    report = refresher(datalake, tape, after_close(DAY_1)).refresh(["SPY", "QQQ", "TLT", "SPY"])

    assert report.ok and report.target == DAY_1
    assert report.counts() == {"seeded": 3}
    assert [r.symbol for r in report.results] == ["QQQ", "SPY", "TLT"]
    expected_rows = len(trading_days(SEED_START, DAY_1))
    for symbol in ("SPY", "QQQ", "TLT"):
        info = datalake.head(symbol)
        assert info is not None and (info.first_bar, info.last_bar, info.row_count) == (
            SEED_START,
            DAY_1,
            expected_rows,
        )
        stored = stored_frame(datalake, symbol)
        np.testing.assert_allclose(stored["close"].to_numpy(), tape.raw[symbol]["close"].to_numpy())
        np.testing.assert_allclose(stored["adjusted"].to_numpy(), tape.raw[symbol]["close"].to_numpy())
    # batches of two symbols share one source request
    assert [len(symbols) for symbols, _, _ in tape.requests] == [2, 1]

    tape.requests.clear()
    again = refresher(datalake, tape, after_close(DAY_1, 20)).refresh(["SPY", "QQQ", "TLT"])
    assert again.counts() == {"up_to_date": 3} and tape.requests == []

    for symbol in ("SPY", "QQQ", "TLT"):
        tape.extend(symbol, next_bars(tape, symbol, DAY_2))
    appended = refresher(datalake, tape, after_close(DAY_2)).refresh(["SPY", "QQQ", "TLT"])
    assert appended.ok and appended.counts() == {"appended": 3}
    assert all(r.rows_added == 1 and r.last_bar == DAY_2 for r in appended.results)
    # only the overlap was fetched: three stored days plus the new one
    for _symbols, start, end in tape.requests:
        assert (start, end) == (CALENDAR.trading_days(date(2024, 6, 1), DAY_1)[-3], DAY_2)
    stored = stored_frame(datalake, "SPY")
    assert stored.index[-1].date() == DAY_2 and len(stored) == len(trading_days(SEED_START, DAY_2))
    np.testing.assert_allclose(stored["close"].to_numpy(), tape.raw["SPY"]["close"].to_numpy())


def test_a_split_re_seeds_the_symbol_with_the_new_adjusted_history(datalake: Datalake) -> None:
    tape = tape_through(DAY_1)
    refresher(datalake, tape, after_close(DAY_1)).refresh(["SPY", "QQQ"])
    old_spy = stored_frame(datalake, "SPY")

    for symbol in ("SPY", "QQQ"):
        tape.extend(symbol, next_bars(tape, symbol, DAY_2))
    tape.split("SPY", DAY_2, 4.0)  # 4-for-1 effective on DAY_2
    report = refresher(datalake, tape, after_close(DAY_2)).refresh(["SPY", "QQQ"])

    by_symbol = {r.symbol: r for r in report.results}
    assert report.ok
    assert by_symbol["QQQ"].action == "appended"
    assert by_symbol["SPY"].action == "reseeded" and "adjusted close changed" in by_symbol["SPY"].detail
    new_spy = stored_frame(datalake, "SPY")
    assert new_spy.index[-1].date() == DAY_2 and new_spy.index[0].date() == SEED_START
    before = new_spy.index < pd.Timestamp(DAY_2)
    # raw history stays as traded; the adjusted close of every earlier day is a quarter of it
    np.testing.assert_allclose(new_spy.loc[before, "close"].to_numpy(), old_spy["close"].to_numpy())
    np.testing.assert_allclose(new_spy.loc[before, "adjusted"].to_numpy(), old_spy["close"].to_numpy() / 4)
    assert new_spy["adjusted"].iloc[-1] == new_spy["close"].iloc[-1]


def test_a_dividend_re_seeds_even_when_it_moves_prices_by_a_few_basis_points(datalake: Datalake) -> None:
    tape = tape_through(DAY_1)
    refresher(datalake, tape, after_close(DAY_1)).refresh(["TLT"])
    tape.extend("TLT", next_bars(tape, "TLT", DAY_2))
    tape.dividend("TLT", DAY_2, 0.02)
    report = refresher(datalake, tape, after_close(DAY_2)).refresh(["TLT"])
    assert report.results[0].action == "reseeded"
    stored = stored_frame(datalake, "TLT")
    np.testing.assert_allclose(stored["adjusted"].to_numpy(), tape.adjusted_close("TLT").to_numpy())
    assert stored["adjusted"].iloc[-2] < stored["close"].iloc[-2]


def test_a_corrected_raw_bar_or_a_day_the_source_gained_re_seeds(datalake: Datalake) -> None:
    tape = tape_through(DAY_1)
    tape.raw["SPY"] = tape.raw["SPY"].drop(index=pd.Timestamp(date(2024, 6, 6)))
    refresher(datalake, tape, after_close(DAY_1)).refresh(["SPY", "QQQ"])
    assert stored_frame(datalake, "SPY").index[-2].date() == date(2024, 6, 7)

    full = tape_through(DAY_1)
    tape.raw["SPY"] = full.raw["SPY"]  # the vendor filled in the missing day
    tape.raw["QQQ"].loc[pd.Timestamp(date(2024, 6, 7)), "close"] += 0.5  # and corrected a close
    for symbol in ("SPY", "QQQ"):
        tape.extend(symbol, next_bars(tape, symbol, DAY_2))
    report = refresher(datalake, tape, after_close(DAY_2)).refresh(["SPY", "QQQ"])
    details = {r.symbol: (r.action, r.detail) for r in report.results}
    assert details["SPY"][0] == "reseeded" and "2024-06-06" in details["SPY"][1]
    assert details["QQQ"] == ("reseeded", "adjusted close changed on 2024-06-07: stored 68.8142, fetched 69.3142")
    assert len(stored_frame(datalake, "SPY")) == len(trading_days(SEED_START, DAY_2))


def test_symbols_that_cannot_become_current_are_reported_and_do_not_stop_the_others(datalake: Datalake) -> None:
    tape = tape_through(DAY_1, ("SPY", "QQQ", "TLT", "GLD"))
    refresher(datalake, tape, after_close(DAY_1)).refresh(["SPY", "QQQ", "TLT"])
    tape.extend("SPY", next_bars(tape, "SPY", DAY_2))  # QQQ, TLT and the new GLD get no DAY_2 bar
    tape.failing.add("TLT")
    report = refresher(datalake, tape, after_close(DAY_2)).refresh(["SPY", "QQQ", "TLT", "GLD", "ZZZZ"])

    actions = {r.symbol: r.action for r in report.results}
    assert not report.ok
    # batches of two: [GLD, ZZZZ] to seed; [QQQ, SPY] and [TLT] to extend (TLT's request fails alone)
    assert actions == {"GLD": "behind", "ZZZZ": "no_data", "QQQ": "behind", "SPY": "appended", "TLT": "failed"}
    assert {r.symbol for r in report.problems} == {"GLD", "ZZZZ", "QQQ", "TLT"}
    assert datalake.head("GLD") is not None  # what the source had is stored; the report still says behind
    assert "ConnectionError" in next(r.detail for r in report.results if r.symbol == "TLT")
    info = datalake.head("QQQ")
    assert info is not None and info.last_bar == DAY_1  # untouched


def test_a_seed_that_ends_before_the_target_is_behind(datalake: Datalake) -> None:
    tape = tape_through(DAY_1)
    report = refresher(datalake, tape, after_close(DAY_2)).refresh(["SPY"])
    assert report.results[0].action == "behind" and not report.ok
    assert "only through 2024-06-10" in report.results[0].detail


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 6, 11, 15, 59, tzinfo=NEW_YORK), date(2024, 6, 10)),  # before the close
        (datetime(2024, 6, 11, 16, 10, tzinfo=NEW_YORK), date(2024, 6, 10)),  # closed, not settled
        (datetime(2024, 6, 11, 16, 20, tzinfo=NEW_YORK), date(2024, 6, 11)),  # settled
        (datetime(2024, 6, 15, 12, 0, tzinfo=NEW_YORK), date(2024, 6, 14)),  # Saturday
        (datetime(2024, 7, 4, 20, 0, tzinfo=NEW_YORK), date(2024, 7, 3)),  # Independence Day
        (datetime(2024, 7, 3, 13, 25, tzinfo=NEW_YORK), date(2024, 7, 3)),  # early close at 13:00
        (datetime(2024, 6, 12, 0, 30, tzinfo=NEW_YORK) + timedelta(hours=4), date(2024, 6, 11)),  # morning
    ],
)
def test_the_target_is_the_last_complete_trading_day(moment: datetime, expected: date) -> None:
    assert last_complete_trading_day(CALENDAR, moment, timedelta(minutes=20)) == expected


def test_an_explicit_target_and_the_clock_target_agree(datalake: Datalake) -> None:
    tape = tape_through(DAY_3)
    service = refresher(datalake, tape, after_close(DAY_3))
    assert service.target_day() == DAY_3
    report = service.refresh(["SPY"], target=DAY_2)
    assert report.target == DAY_2 and report.results[0].last_bar == DAY_2
    info = datalake.head("SPY")
    assert info is not None and info.last_bar == DAY_2  # nothing past the target is stored
