from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from the_alchemiser.local.synthetic_market import EXPOSURES, LEVERAGED, generate_market
from the_alchemiser.shared.calendar import nyse_calendar

END = date(2026, 11, 21)  # a Saturday: the last bar must be Friday 2026-11-20
CORE = ["SPY", "QQQ", "XLK", "SOXX", "TLT", "IEF", "BIL", "SHV", "GLD", "VIXY", "USO", "DBC"]


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_market([*CORE, *LEVERAGED, "BRK/B", "ZZZQ"], end=END, days=1500)


def _returns(frame: pd.DataFrame) -> pd.Series:
    return frame["close"].pct_change().dropna()


def test_same_request_gives_identical_data() -> None:
    first = generate_market(["SPY", "TQQQ", "ACME"], end=END, days=200)
    second = generate_market(["SPY", "TQQQ", "ACME"], end=END, days=200)
    for symbol in first:
        pd.testing.assert_frame_equal(first[symbol], second[symbol], check_exact=True)


def test_other_seed_gives_other_data() -> None:
    a = generate_market(["SPY"], end=END, days=50, seed=7)["SPY"]
    b = generate_market(["SPY"], end=END, days=50, seed=8)["SPY"]
    assert not np.allclose(a["close"], b["close"])


def test_a_symbol_does_not_change_when_others_are_added(market: dict[str, pd.DataFrame]) -> None:
    alone = generate_market(["TQQQ"], end=END, days=1500)["TQQQ"]
    pd.testing.assert_frame_equal(alone, market["TQQQ"], check_exact=True)
    reordered = generate_market(["ZZZQ", "GLD", "SPY"], end=END, days=1500)
    for symbol in ("ZZZQ", "GLD", "SPY"):
        pd.testing.assert_frame_equal(reordered[symbol], market[symbol], check_exact=True)


def test_a_day_has_the_same_bar_whatever_the_window(market: dict[str, pd.DataFrame]) -> None:
    # The simulated broker quotes day D at the close a CSV export shows for D.
    short = generate_market(["SPY", "SQQQ", "VIXY"], end=date(2025, 3, 14), days=120)
    for symbol, frame in short.items():
        pd.testing.assert_frame_equal(frame, market[symbol].loc[frame.index], rtol=1e-12)


def test_frame_shape_and_calendar(market: dict[str, pd.DataFrame]) -> None:
    calendar = nyse_calendar()
    expected_days = pd.DatetimeIndex(calendar.trading_days(date(2019, 1, 1), date(2026, 11, 20))[-1500:])
    for symbol, frame in market.items():
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"], symbol
        assert all(dtype == np.float64 for dtype in frame.dtypes), symbol
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date"
        assert frame.index.tz is None
        assert (frame.index == frame.index.normalize()).all()
        assert frame.index.is_monotonic_increasing and frame.index.is_unique
        assert frame.index.equals(expected_days), symbol
    assert market["SPY"].index[-1] == pd.Timestamp("2026-11-20")


def test_prices_positive_and_bars_consistent(market: dict[str, pd.DataFrame]) -> None:
    for symbol, frame in market.items():
        o, h, low, c, v = (frame[column].to_numpy() for column in ("open", "high", "low", "close", "volume"))
        assert np.isfinite(frame.to_numpy()).all(), symbol
        assert (o > 0).all() and (low > 0).all() and (c > 0).all(), symbol
        assert (h >= np.maximum(o, c)).all() and (low <= np.minimum(o, c)).all(), symbol
        assert (v > 0).all(), symbol


@pytest.mark.parametrize(
    ("leveraged", "base", "multiple"),
    [
        ("TQQQ", "QQQ", 3),
        ("SQQQ", "QQQ", -3),
        ("UPRO", "SPY", 3),
        ("SPXS", "SPY", -3),
        ("TECL", "XLK", 3),
        ("SOXL", "SOXX", 3),
        ("SOXS", "SOXX", -3),
        ("TMF", "TLT", 3),
        ("TMV", "TLT", -3),
        ("UVXY", "VIXY", 1.5),
    ],
)
def test_leveraged_is_an_exact_daily_multiple(
    market: dict[str, pd.DataFrame], leveraged: str, base: str, multiple: float
) -> None:
    lev = _returns(market[leveraged])
    np.testing.assert_allclose(lev, multiple * _returns(market[base]), rtol=0, atol=1e-12)


def test_every_table_entry_is_a_multiple_of_its_base(market: dict[str, pd.DataFrame]) -> None:
    bases = generate_market(sorted({spec.base for spec in LEVERAGED.values()}), end=END, days=1500)
    for symbol, spec in LEVERAGED.items():
        np.testing.assert_allclose(
            _returns(market[symbol]), spec.multiple * _returns(bases[spec.base]), rtol=0, atol=1e-12, err_msg=symbol
        )


def test_correlation_structure(market: dict[str, pd.DataFrame]) -> None:
    returns = pd.DataFrame({s: _returns(market[s]) for s in CORE})
    corr = returns.corr()
    assert corr.loc["SPY", "QQQ"] > 0.75
    assert corr.loc["QQQ", "XLK"] > 0.9
    assert corr.loc["SOXX", "QQQ"] > 0.7
    assert corr.loc["SPY", "VIXY"] < -0.35
    assert corr.loc["SPY", "TLT"] < 0
    assert corr.loc["TLT", "IEF"] > 0.8
    assert abs(corr.loc["SPY", "GLD"]) < 0.2
    assert corr.loc["USO", "DBC"] > 0.6
    assert abs(corr.loc["BIL", "SPY"]) < 0.1


def test_realistic_volatility(market: dict[str, pd.DataFrame]) -> None:
    annual = {s: float(_returns(market[s]).std() * np.sqrt(252)) for s in [*CORE, "TQQQ", "UVXY", "ZZZQ"]}
    assert 0.12 < annual["SPY"] < 0.30
    assert annual["SPY"] < annual["QQQ"] < annual["SOXX"]
    assert 0.08 < annual["TLT"] < 0.25
    assert annual["IEF"] < annual["TLT"]
    assert annual["BIL"] < 0.01 and annual["SHV"] < 0.01
    assert 0.4 < annual["VIXY"] < 1.2
    assert 2.5 * annual["QQQ"] < annual["TQQQ"] < 3.5 * annual["QQQ"]
    assert 0.1 < annual["ZZZQ"] < 0.8
    # cash-like grows steadily; volatility products decay
    assert (market["BIL"]["close"].diff().dropna() > -0.01).all()
    assert market["VIXY"]["close"].iloc[-1] < market["VIXY"]["close"].iloc[0]


def test_volatility_clusters(market: dict[str, pd.DataFrame]) -> None:
    # Squared returns are autocorrelated when the volatility state moves (it does in real markets).
    squared = _returns(market["SPY"]) ** 2
    assert squared.autocorr(lag=1) > 0.05


def test_unknown_tickers_are_distinct_and_stable() -> None:
    market = generate_market(["ACME", "WIDGET", "acme"], end=END, days=100)
    assert not np.allclose(market["ACME"]["close"], market["WIDGET"]["close"])
    # a ticker is its upper-case name
    pd.testing.assert_frame_equal(market["ACME"], market["acme"], check_exact=True)


def test_bad_requests_are_errors() -> None:
    with pytest.raises(ValueError, match="days"):
        generate_market(["SPY"], end=END, days=0)
    with pytest.raises(ValueError):
        generate_market(["SPY"], end=date(2010, 1, 5), days=50_000)


def test_tables_cover_the_known_tickers() -> None:
    for ticker in ("SPY", "QQQ", "XLK", "TLT", "IEF", "BIL", "SHV", "GLD", "VIXY", "USO", "DBC"):
        assert ticker in EXPOSURES
    for ticker in ("TQQQ", "SQQQ", "UPRO", "SPXL", "SPXS", "SPXU", "TECL", "TECS", "SOXL", "SOXS", "TMF", "TMV"):
        assert ticker in LEVERAGED
