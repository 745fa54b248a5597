"""`data fetch` end to end: the real alpaca-py client over HTTP against the local paper broker, into a CSV
directory or a datalake directory, then `signals` and `open_market_data` on what it wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY
from tests.support.shared.market_data.bars import SwappableBarsPriceSource, after_close, raw_bars, trading_days
from the_alchemiser.cli import main
from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.market_data.csv_directory import HEADER, CsvDirectoryMarketData
from the_alchemiser.shared.market_data.location import open_market_data

FIRST = date(2023, 6, 1)
DAY_1 = date(2024, 6, 10)
DAY_2 = date(2024, 6, 11)
SYMBOLS = ("SPY", "QQQ", "BRK/B")

STRATEGY = """
(defsymphony "Fetched bars" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (if (> (rsi "SPY" {:window 10}) 50)
    [(filter (cumulative-return {:window 20}) (select-top 1) [(asset "QQQ" nil) (asset "BRK/B" nil)])]
    [(weight-equal [(asset "SPY" nil) (asset "BRK/B" nil)])]))
"""


def tape(end: date) -> dict[str, pd.DataFrame]:
    days = trading_days(FIRST, end)
    return {s: raw_bars(days, start_price=90.0 + 40 * i, seed=20 + i) for i, s in enumerate(SYMBOLS)}


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return tape(DAY_2)


@pytest.fixture
def prices(frames: dict[str, pd.DataFrame]) -> SwappableBarsPriceSource:
    return SwappableBarsPriceSource({s.replace("/", "."): f for s, f in frames.items()})


@pytest.fixture
def broker(
    sim_broker_factory: Callable[..., SimBrokerHandle],
    prices: SwappableBarsPriceSource,
    monkeypatch: pytest.MonkeyPatch,
) -> SimBrokerHandle:
    handle = sim_broker_factory(price_source=prices, clock_start=after_close(DAY_1))
    monkeypatch.setenv("ALPACA_API_KEY", SIM_API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SIM_SECRET_KEY)
    monkeypatch.setenv("ALPACA_DATA_URL", handle.base_url)
    return handle


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fetch(capsys: pytest.CaptureFixture[str], out: Path, *extra: str, end: date = DAY_1) -> tuple[int, str, str]:
    return cli(
        capsys,
        "data",
        "fetch",
        "--symbols",
        *SYMBOLS,
        "--start",
        str(FIRST),
        "--end",
        str(end),
        "--out",
        str(out),
        *extra,
    )


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def bars_requests(broker: SimBrokerHandle) -> list[dict[str, str]]:
    return [r.query for r in broker.requests("/v2/stocks/bars") if r.status == 200]


def test_a_csv_cache_has_every_trading_day_and_a_second_fetch_changes_no_byte(
    broker: SimBrokerHandle, frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bars"
    code, stdout, stderr = fetch(capsys, out)
    assert code == 0, stderr
    assert "3 symbols through 2024-06-10: seeded 3" in stdout
    assert "fetching 3 symbols" in stderr and "fetched 3/3 symbols" in stderr  # progress on stderr

    written = files(out)
    assert sorted(written) == ["BRK.B.csv", "QQQ.csv", "SPY.csv"]
    days = trading_days(FIRST, DAY_1)
    for symbol in SYMBOLS:
        lines = written[symbol.replace("/", ".") + ".csv"].decode().splitlines()
        assert lines[0] == ",".join(HEADER)
        assert [line.split(",")[0] for line in lines[1:]] == [d.isoformat() for d in days]
        closes = [float(line.split(",")[4]) for line in lines[1:]]
        np.testing.assert_allclose(closes, frames[symbol]["close"].loc[: pd.Timestamp(DAY_1)].to_numpy())

    seeded = len(bars_requests(broker))
    code, stdout, _ = fetch(capsys, out)
    assert code == 0 and "up_to_date 3" in stdout
    assert files(out) == written  # byte-identical
    assert len(bars_requests(broker)) == seeded  # nothing was asked for

    # the next evening: only the days after the cache (plus a few stored ones) are asked for
    broker.set_clock(after_close(DAY_2))
    code, stdout, stderr = fetch(capsys, out, end=DAY_2)
    assert code == 0, stderr
    assert "appended 3" in stdout
    later = bars_requests(broker)[seeded:]
    assert later and all(date.fromisoformat(q["start"][:10]) >= date(2024, 6, 1) for q in later)
    for name, before in written.items():
        after = (out / name).read_bytes()
        assert after.startswith(before) and after[len(before) :].decode().startswith("2024-06-11,")


def test_a_split_in_the_brokers_history_re_seeds_that_symbol_only(
    broker: SimBrokerHandle,
    prices: SwappableBarsPriceSource,
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "bars"
    assert fetch(capsys, out)[0] == 0
    before = files(out)

    # SPY splits 2-for-1 on DAY_2: it trades at half the price from then on, and the adjusted history halves
    traded = frames["SPY"].copy()
    after_split = traded.index >= pd.Timestamp(DAY_2)
    traded.loc[after_split, ["open", "high", "low", "close"]] /= 2
    traded.loc[after_split, "volume"] *= 2
    prices.replace("SPY", traded)
    prices.split("SPY", DAY_2, 2.0)
    broker.set_clock(after_close(DAY_2))

    code, stdout, stderr = fetch(capsys, out, end=DAY_2)
    assert code == 0, stderr
    assert "appended 2" in stdout and "reseeded 1" in stdout
    assert "SPY: history changed" in stderr
    spy = CsvDirectoryMarketData(out).daily_bars(["SPY"])["SPY"]
    np.testing.assert_allclose(spy.close, frames["SPY"]["close"].to_numpy() / 2, atol=1e-4)  # one continuous series
    assert np.abs(np.diff(spy.close) / spy.close[:-1]).max() < 0.1  # no fake -50 % day
    for other in ("QQQ.csv", "BRK.B.csv"):  # untouched history, one bar more
        assert (out / other).read_bytes().startswith(before[other])


def test_a_429_burst_loses_and_doubles_no_day(
    broker: SimBrokerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker.inject_fault(429, count=2, path="/v2/stocks/bars")
    out = tmp_path / "bars"
    code, _, stderr = fetch(capsys, out)
    assert code == 0, stderr
    assert [r.status for r in broker.requests("/v2/stocks/bars")].count(429) == 2
    days = [d.isoformat() for d in trading_days(FIRST, DAY_1)]
    for path in out.glob("*.csv"):
        assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == days


def test_an_unknown_symbol_is_named_and_the_others_are_written(
    broker: SimBrokerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bars"
    code, _, stderr = cli(
        capsys,
        "data",
        "fetch",
        "--symbols",
        "SPY,NOPE",
        "QQQ",
        "--start",
        str(FIRST),
        "--end",
        str(DAY_1),
        "--out",
        str(out),
    )
    assert code == 1
    assert "Alpaca has no bars for: NOPE" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["QQQ.csv", "SPY.csv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "SPY", "--start", "2024-01-02", "--end", "2023-01-02"], "before --start"),
        (["--start", "2024-01-02"], "no symbols"),
        (["--symbols-from", "nowhere.clj", "--start", "2024-01-02"], "no such strategy file"),
    ],
)
def test_bad_arguments_are_one_line_on_stderr(
    broker: SimBrokerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, stderr = cli(capsys, "data", "fetch", *args, "--out", str(tmp_path / "x"))
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_no_keys_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "ALPACA_CREDENTIALS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code, _, stderr = cli(capsys, "data", "fetch", "--symbols", "SPY", "--start", "2024-01-02", "--out", str(tmp_path))
    assert code == 2 and "ALPACA_API_KEY" in stderr and "paper keys suffice" in stderr


def test_both_formats_serve_identical_bars_and_signals_match_hand_written_csvs(
    broker: SimBrokerHandle, frames: dict[str, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_dir, lake_dir, by_hand = tmp_path / "csv", tmp_path / "lake", tmp_path / "by_hand"
    assert fetch(capsys, csv_dir)[0] == 0
    assert fetch(capsys, lake_dir, "--format", "parquet")[0] == 0
    assert sorted(files(lake_dir)) == [
        f"{s}/daily.{ext}" for s in ("BRK.B", "QQQ", "SPY") for ext in ("csv", "parquet")
    ]

    # what backtest reads: the same bars from either format
    from_csv = open_market_data(csv_dir).daily_bars(list(SYMBOLS))
    from_lake = open_market_data(lake_dir).daily_bars(list(SYMBOLS))
    for symbol in SYMBOLS:
        for column in ("dates", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(from_csv[symbol], column), getattr(from_lake[symbol], column))

    hand = CsvDirectoryMarketData(by_hand)
    for symbol, frame in frames.items():
        hand.write(symbol, frame.loc[: pd.Timestamp(DAY_1)])
    strategy = tmp_path / "fetched.clj"
    strategy.write_text(STRATEGY)
    answers: list[Any] = []
    for data in (csv_dir, lake_dir, by_hand):
        code, stdout, stderr = cli(
            capsys, "signals", str(strategy), "--data", str(data), "--as-of", str(DAY_1), "--json"
        )
        assert code == 0, stderr
        answers.append(json.loads(stdout))
    assert answers[0]["weights"] == answers[1]["weights"] == answers[2]["weights"]
    assert answers[0]["as_of"] == "2024-06-10" and answers[0]["mode"] == "completed-bars"
