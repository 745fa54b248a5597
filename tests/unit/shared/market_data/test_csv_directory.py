"""The CSV directory's numpy reader and writer: exact values, validation naming the file and line, lazy
columns, byte-stable round trips, and no pandas on the import path."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError
from the_alchemiser.shared.market_data.csv_directory import (
    CsvDirectoryMarketData,
    LazyDailyBars,
    bars_to_csv,
    read_csv_bars,
)

HEADER = "date,open,high,low,close,volume\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_values_are_parsed_exactly_and_columns_other_than_close_on_first_use(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "SPY.csv",
        HEADER + "2024-02-28,1.5,2.25,0.75,0.1,100\n2024-02-29,43.725463746930814,1e3,-0,7.000000000000001,2.5e6\n",
    )
    bars = read_csv_bars(path)
    assert isinstance(bars, LazyDailyBars)
    assert bars.dates.tolist() == [date(2024, 2, 28), date(2024, 2, 29)]
    assert bars.close.tolist() == [0.1, 7.000000000000001]  # shortest round-trip floats, bit for bit
    assert object.__getattribute__(bars, "_crc") is not None  # open/high/low/volume not parsed yet
    assert bars.open.tolist() == [1.5, 43.725463746930814]
    assert bars.volume.tolist() == [100.0, 2.5e6] and bars.high[1] == 1000.0
    # the same answer as Python's float() of every field
    text = pd.read_csv(path, dtype=str)
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bars, column), np.array([float(v) for v in text[column]]))


def test_a_cut_before_the_lazy_columns_are_read_keeps_them_aligned(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-{d:02d},{d},{d}.5,{d}.25,{d}.75,{d * 10}\n" for d in range(2, 12))
    bars = read_csv_bars(write(tmp_path, "A.csv", HEADER + rows))
    cut = bars.until(date(2024, 1, 5))
    assert cut.dates.tolist()[-1] == date(2024, 1, 5) and cut.close.tolist() == [2.75, 3.75, 4.75, 5.75]
    assert cut.open.tolist() == [2.0, 3.0, 4.0, 5.0] and cut.volume.tolist() == [20.0, 30.0, 40.0, 50.0]
    assert bars.until(date(2024, 1, 31)) is bars
    assert len(bars.until(date(2023, 12, 31))) == 0  # before the first bar: empty, not an error


def test_the_text_is_not_kept_and_a_file_rewritten_before_the_lazy_columns_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-{d:02d},{d},{d}.5,{d}.25,{d}.75,{d * 10}\n" for d in range(2, 12))
    path = write(tmp_path, "A.csv", HEADER + rows)
    bars, early = read_csv_bars(path), read_csv_bars(path).until(date(2024, 1, 5))
    assert not any(isinstance(getattr(bars, name, None), bytes) for name in ("_path", "_crc", "_rows"))
    write(tmp_path, "A.csv", HEADER + rows.replace(",2,", ",9,"))  # rewritten: another open on Jan 2
    for read_later in (bars, early):
        with pytest.raises(MarketDataError, match=r"A.csv: the file changed after its dates and closes were read"):
            read_later.open  # noqa: B018
    again = read_csv_bars(path)
    assert again.open.tolist()[0] == 9.0  # read again: the new file, whole
    path.unlink()
    assert again.until(date(2024, 1, 5)).open.tolist() == [9.0, 3.0, 4.0, 5.0]  # parsed once: no re-read


def test_files_with_the_same_dates_share_one_read_only_dates_array(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-{d:02d},{d},{d},{d},{d},{d}\n" for d in range(2, 12))
    a = read_csv_bars(write(tmp_path, "A.csv", HEADER + rows))
    b = read_csv_bars(write(tmp_path, "B.csv", HEADER + rows.replace(",", ",1", 1)))
    other = read_csv_bars(write(tmp_path, "C.csv", HEADER + rows.replace("2024-01-11", "2024-01-12")))
    assert a.dates is b.dates and not a.dates.flags.writeable
    assert other.dates is not a.dates and other.dates.tolist()[-1] == date(2024, 1, 12)
    assert a.dates.tolist() == [date(2024, 1, d) for d in range(2, 12)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,close\n2024-01-02,1\n", "header must be date,open,high,low,close,volume"),
        (HEADER + "2024-01-03,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n", "unique and ascending"),
        (HEADER + "2024-01-02,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n", "unique and ascending"),
        (HEADER + "2024-01-02,1,1,1,1,1\n2024-01-03,1,1,x,1,1\n", "line 3: bad value"),
        (HEADER + "2024-01-02,1,1,1,1\n", "line 2: expected 6 fields"),
        (HEADER + "2024-01-02,1,1,,1,1\n", "line 2: empty field"),
        (HEADER + "2024-01-02,1,1,1,1,\n", "line 2: empty field"),
        (HEADER + "2024-02-30,1,1,1,1,1\n", "line 2: bad date"),
        (HEADER + "2024-13-01,1,1,1,1,1\n", "line 2: bad date"),
        (HEADER + "02/01/2024,1,1,1,1,1\n", "bad value"),
        (HEADER + "2024-01-02,1,1,1,1.2.3,1\n", "bad value"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "BAD.csv", text)
    with pytest.raises(MarketDataError, match=message) as raised:
        read_csv_bars(path).volume  # noqa: B018 - a lazy column's bad value counts too
    assert str(path) in str(raised.value)


def test_the_directory_names_missing_files_and_treats_a_header_alone_as_missing(tmp_path: Path) -> None:
    write(tmp_path, "EMPTY.csv", HEADER)
    write(tmp_path, "SPY.csv", HEADER + "2024-01-02,1,1,1,1,1\n")
    market = CsvDirectoryMarketData(tmp_path)
    with pytest.raises(MissingMarketDataError) as raised:
        market.daily_bars(["SPY", "ZZZ", "AAA"])
    assert raised.value.symbols == ["AAA", "ZZZ"]
    with pytest.raises(MissingMarketDataError):
        market.daily_bars(["EMPTY"])
    # a series that starts after the day asked for is served empty: listed later, not missing
    assert len(market.daily_bars(["SPY"], end=date(2023, 6, 1))["SPY"]) == 0


def test_writing_what_was_read_gives_the_same_bytes(tmp_path: Path) -> None:
    text = HEADER + "2024-01-02,43.725463746930814,44,43.1,43.5,8350873\n2024-01-03,0.1,0.2,0.05,0.15,0.5\n"
    path = write(tmp_path, "X.csv", text)
    assert bars_to_csv(read_csv_bars(path)).decode() == text
    CsvDirectoryMarketData(tmp_path).write("BRK/B", read_csv_bars(path))
    assert (tmp_path / "BRK.B.csv").read_text() == text
    assert not list(tmp_path.glob("*.partial"))


def test_the_market_data_package_and_csv_reader_import_no_pandas_or_pyarrow() -> None:
    code = (
        "import sys; import the_alchemiser.shared.market_data, the_alchemiser.shared.market_data.location, "
        "the_alchemiser.shared.market_data.csv_directory, the_alchemiser.shared.market_data.live; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'fastparquet') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"
