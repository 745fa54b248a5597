"""Property: whatever sequence of new days, splits, dividends and skipped evenings the vendor's tape goes
through, after a refresh the stored history equals the vendor's current view through the target day."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.shared.market_data.bars import CALENDAR, CorporateActionTape, after_close, raw_bars, trading_days
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.refresh import MarketDataRefresher, RefreshPolicy

SEED_START = date(2024, 1, 2)
FIRST_EVENING = date(2024, 3, 1)
LATER_DAYS = CALENDAR.trading_days(date(2024, 3, 4), date(2024, 4, 30))

event = st.one_of(
    st.just(("nothing", 0.0)),
    st.tuples(st.just("split"), st.sampled_from([2.0, 3.0, 0.1])),  # 0.1: a 1-for-10 reverse split
    # a cash dividend as a fraction of the last close: a fixed amount could exceed a price that splits
    # have brought down, and a negative adjusted close is a broken generator, not a vendor
    st.tuples(st.just("dividend"), st.floats(min_value=0.0001, max_value=0.05)),
)
day_script = st.tuples(event, event, st.booleans())  # SPY's event, TLT's event, refresh that evening?


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(day_script, min_size=1, max_size=10))
def test_stored_history_always_equals_the_vendors_current_view(s3_client: Any, script: list[Any]) -> None:
    bucket = f"prop-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    lake = Datalake(s3_client, bucket)
    days = trading_days(SEED_START, FIRST_EVENING)
    tape = CorporateActionTape({"SPY": raw_bars(days, seed=1), "TLT": raw_bars(days, start_price=90, seed=2)})
    clock = FixedClock(after_close(FIRST_EVENING))
    refresher = MarketDataRefresher(
        lake, tape, clock=clock, calendar=CALENDAR, policy=RefreshPolicy(seed_start=SEED_START, overlap_days=2)
    )
    assert refresher.refresh(["SPY", "TLT"]).ok

    for day, (spy_event, tlt_event, refresh_tonight) in zip(LATER_DAYS, script, strict=False):
        for symbol, (kind, value) in (("SPY", spy_event), ("TLT", tlt_event)):
            last_close = float(tape.raw[symbol]["close"].iloc[-1])
            tape.extend(symbol, raw_bars([day], start_price=last_close, seed=day.toordinal()))
            if kind == "split":
                tape.split(symbol, day, value)
            elif kind == "dividend":
                tape.dividend(symbol, day, value * last_close)
        clock.current = after_close(day)
        if not refresh_tonight:
            continue
        report = refresher.refresh(["SPY", "TLT"])
        assert report.ok, report.problems
        for symbol in ("SPY", "TLT"):
            found = lake.read(symbol)
            assert found is not None
            stored, info = found
            assert info.last_bar == day
            np.testing.assert_allclose(stored.close, tape.raw[symbol]["close"].to_numpy())
            np.testing.assert_allclose(stored.adjusted, tape.adjusted_close(symbol).to_numpy())
