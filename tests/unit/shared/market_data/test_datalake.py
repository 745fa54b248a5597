"""The datalake's objects on moto S3 and in a directory: layout, metadata, round trip, the objects pyarrow
(schema 1) and fastparquet (schema 2) wrote before, and the errors a reader must see."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import fastparquet
import numpy as np
import pandas as pd
import pytest

from tests.support.shared.market_data.bars import fastparquet_object, raw_bars, stored_bars, trading_days, with_adjusted
from the_alchemiser.shared.market_data import flat_parquet
from the_alchemiser.shared.market_data.datalake import Datalake, DatalakeError, from_parquet
from the_alchemiser.shared.market_data.s3_adapter import BarCache, DatalakeMarketData
from the_alchemiser.shared.market_data.stored_bars import DATALAKE_COLUMNS, StoredBars

PYARROW_FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "data" / "pyarrow_zstd_v1.parquet"

DAYS = trading_days(date(2024, 1, 2), date(2024, 3, 28))


def test_seed_writes_one_parquet_per_symbol_with_the_documented_columns_and_metadata(
    datalake: Datalake, s3_client: Any, bucket: str
) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    info = datalake.write("SPY", stored_bars(frame))

    assert info.key == "SPY/daily.parquet"
    head = s3_client.head_object(Bucket=bucket, Key="SPY/daily.parquet")
    assert head["Metadata"] == {
        "first-bar-date": "2024-01-02",
        "last-bar-date": "2024-03-28",
        "row-count": str(len(DAYS)),
        "schema-version": "3",
    }
    body = s3_client.get_object(Bucket=bucket, Key="SPY/daily.parquet")["Body"].read()
    parquet = fastparquet.ParquetFile(io.BytesIO(body))
    assert parquet.columns == ["date", "open", "high", "low", "close", "volume", "adjusted"]
    assert parquet.key_value_metadata["last-bar-date"] == "2024-03-28"  # the footer carries it too
    assert [c.meta_data.codec for c in parquet.row_groups[0].columns] == [6] * 7  # ZSTD
    assert parquet.to_pandas()["date"].iloc[0] == pd.Timestamp(2024, 1, 2)

    stored, read_info = datalake.read("SPY") or pytest.fail("object not found")
    pd.testing.assert_frame_equal(stored.to_frame(), frame.loc[:, list(DATALAKE_COLUMNS)], check_freq=False)
    assert read_info == info == datalake.head("SPY")
    assert (info.first_bar, info.last_bar, info.row_count) == (date(2024, 1, 2), date(2024, 3, 28), len(DAYS))


def test_append_replaces_the_object_with_the_longer_history_and_a_new_etag(datalake: Datalake) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    first = datalake.write("QQQ", stored_bars(frame.iloc[:-5]))
    second = datalake.write("QQQ", stored_bars(frame))
    assert second.etag != first.etag
    assert (second.row_count, second.last_bar) == (len(DAYS), date(2024, 3, 28))
    stored, _ = datalake.read("QQQ") or pytest.fail("object not found")
    assert len(stored) == len(DAYS)


def test_a_slash_symbol_is_stored_under_a_dot_key_and_listed(datalake: Datalake) -> None:
    bars = stored_bars(with_adjusted(raw_bars(DAYS)))
    datalake.write("BRK/B", bars)
    datalake.write("SPY", bars)
    assert datalake.key_for("BRK/B") == "BRK.B/daily.parquet"
    assert datalake.stored_symbols() == ["BRK.B", "SPY"]
    assert datalake.head("BRK/B") is not None


def test_a_prefix_keeps_the_datalake_in_its_own_folder(s3_client: Any, bucket: str) -> None:
    lake = Datalake(s3_client, bucket, prefix="bars")
    s3_client.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"not bars")
    lake.write("GLD", stored_bars(with_adjusted(raw_bars(DAYS))))
    assert lake.key_for("GLD") == "bars/GLD/daily.parquet"
    assert [key for key, _ in lake.listing()] == ["bars/GLD/daily.parquet"]


def test_a_missing_symbol_is_none_not_an_error(datalake: Datalake) -> None:
    assert datalake.head("NOPE") is None
    assert datalake.read("NOPE") is None


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: f.iloc[::-1], "unique and ascending"),
        (lambda f: pd.concat([f, f.iloc[-1:]]), "unique and ascending"),
        (lambda f: f.assign(close=f["close"].where(f.index != f.index[3], -1.0)), "finite and positive"),
        (lambda f: f.assign(adjusted=f["adjusted"].where(f.index != f.index[3], np.nan)), "finite and positive"),
        (lambda f: f.assign(volume=f["volume"].where(f.index != f.index[3], np.inf)), "volume must be finite"),
        (lambda f: f.iloc[:0], "no bars"),
    ],
)
def test_bad_bars_are_refused_naming_the_symbol(datalake: Datalake, spoil: Any, message: str) -> None:
    with pytest.raises(DatalakeError, match=f"TLT: .*{message}"):
        datalake.write("TLT", stored_bars(spoil(with_adjusted(raw_bars(DAYS)))))
    assert datalake.head("TLT") is None


@pytest.mark.parametrize(
    ("spoil", "message"),
    [(lambda f: f.drop(columns="adjusted"), "lack columns"), (lambda f: f.tz_localize("UTC"), "tz-naive")],
)
def test_a_frame_not_in_the_datalakes_shape_is_refused(spoil: Any, message: str) -> None:
    with pytest.raises(DatalakeError, match=message):
        StoredBars.from_frame(spoil(with_adjusted(raw_bars(DAYS))))


def test_an_unreadable_object_and_a_metadata_mismatch_are_loud(datalake: Datalake, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key="BAD/daily.parquet",
        Body=b"not parquet",
        Metadata={"first-bar-date": "2024-01-02", "last-bar-date": "2024-03-28", "row-count": "3"},
    )
    with pytest.raises(DatalakeError, match="BAD: unreadable Parquet"):
        datalake.read("BAD")

    datalake.write("LIE", stored_bars(with_adjusted(raw_bars(DAYS))))
    body = s3_client.get_object(Bucket=bucket, Key="LIE/daily.parquet")["Body"].read()
    s3_client.put_object(
        Bucket=bucket,
        Key="LIE/daily.parquet",
        Body=body,
        Metadata={"first-bar-date": "2024-01-02", "last-bar-date": "2024-04-30", "row-count": str(len(DAYS))},
    )
    with pytest.raises(DatalakeError, match="disagrees with its metadata"):
        datalake.read("LIE")

    s3_client.put_object(Bucket=bucket, Key="NOMETA/daily.parquet", Body=body)
    with pytest.raises(DatalakeError, match="lacks valid bar metadata"):
        datalake.head("NOMETA")


def test_objects_pyarrow_wrote_before_stay_readable(datalake: Datalake, s3_client: Any, bucket: str) -> None:
    """A 5-row object written by the former pyarrow writer (zstd, `date` as date32), committed as a fixture."""
    body = PYARROW_FIXTURE.read_bytes()
    bars = from_parquet("OLD", body)
    assert bars.dates.tolist() == trading_days(date(2024, 6, 3), date(2024, 6, 7))
    assert bars.close.tolist() == [100.75, 102.0, 100.0, 102.5, 103.5]
    assert bars.adjusted.tolist() == [50.375, 51.0, 50.0, 51.25, 51.75]
    assert bars.open[-1] == 103.125 and bars.volume[0] == 1_000_000.0

    metadata = {"first-bar-date": "2024-06-03", "last-bar-date": "2024-06-07", "row-count": "5", "schema-version": "1"}
    s3_client.put_object(Bucket=bucket, Key="OLD/daily.parquet", Body=body, Metadata=metadata)
    stored, info = datalake.read("OLD") or pytest.fail("object not found")
    assert info.last_bar == date(2024, 6, 7) and len(stored) == 5


@pytest.mark.parametrize("where", ["s3", "directory"])
def test_objects_fastparquet_wrote_before_stay_readable_and_the_next_write_is_flat(
    where: str, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    """Schema 2: fastparquet's optional columns and `date` as a timestamp; read through fastparquet."""
    frame = with_adjusted(raw_bars(DAYS, seed=3))
    metadata = {"first-bar-date": "2024-01-02", "last-bar-date": "2024-03-28", "row-count": str(len(DAYS))}
    body = fastparquet_object(frame, metadata | {"schema-version": "2"})
    lake = Datalake(s3_client, bucket) if where == "s3" else Datalake.in_directory(tmp_path)
    if where == "s3":
        s3_client.put_object(Bucket=bucket, Key="SPY/daily.parquet", Body=body, Metadata=metadata)
    else:
        (tmp_path / "SPY").mkdir()
        (tmp_path / "SPY" / "daily.parquet").write_bytes(body)

    info = lake.head("SPY")
    assert info is not None and (info.first_bar, info.last_bar, info.row_count) == (DAYS[0], DAYS[-1], len(DAYS))
    stored, _ = lake.read("SPY") or pytest.fail("object not found")
    pd.testing.assert_frame_equal(stored.to_frame(), frame.loc[:, list(DATALAKE_COLUMNS)], check_freq=False)

    lake.write("SPY", stored)
    rewritten = lake.objects.get("SPY/daily.parquet") or pytest.fail("object not found")
    assert flat_parquet.key_value_metadata(rewritten[0])["schema-version"] == "3"
    again, _ = lake.read("SPY") or pytest.fail("object not found")
    pd.testing.assert_frame_equal(again.to_frame(), stored.to_frame())


def test_a_directory_datalake_has_the_same_layout_and_reads_old_objects(tmp_path: Path) -> None:
    lake = Datalake.in_directory(tmp_path)
    frame = with_adjusted(raw_bars(DAYS))
    info = lake.write("BRK/B", stored_bars(frame))
    assert (tmp_path / "BRK.B" / "daily.parquet").is_file() and info.key == "BRK.B/daily.parquet"
    assert lake.head("BRK/B") == info
    stored, read_info = lake.read("BRK/B") or pytest.fail("object not found")
    pd.testing.assert_frame_equal(stored.to_frame(), frame.loc[:, list(DATALAKE_COLUMNS)], check_freq=False)
    assert read_info == info and lake.stored_symbols() == ["BRK.B"]

    # an object synced from S3 keeps no object metadata on disk: the bars themselves tell it
    (tmp_path / "OLD").mkdir()
    (tmp_path / "OLD" / "daily.parquet").write_bytes(PYARROW_FIXTURE.read_bytes())
    old = lake.head("OLD")
    assert old is not None and (old.first_bar, old.last_bar, old.row_count) == (date(2024, 6, 3), date(2024, 6, 7), 5)
    assert lake.head("NOPE") is None and lake.read("NOPE") is None


def test_writing_the_same_bars_again_gives_the_same_bytes(tmp_path: Path) -> None:
    lake = Datalake.in_directory(tmp_path)
    lake.write("SPY", stored_bars(with_adjusted(raw_bars(DAYS))))
    first = (tmp_path / "SPY" / "daily.parquet").read_bytes()
    lake.write("SPY", lake.read("SPY")[0])  # type: ignore[index]
    assert (tmp_path / "SPY" / "daily.parquet").read_bytes() == first


def assert_bars_equal(got: Any, expected: Any) -> None:
    for name in ("dates", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name, strict=True)


@pytest.mark.parametrize("where", ["s3", "directory"])
def test_the_writer_puts_a_csv_copy_the_reader_prefers_with_bars_equal_to_the_parquet_read(
    where: str, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    lake = Datalake(s3_client, bucket) if where == "s3" else Datalake.in_directory(tmp_path)
    raw = with_adjusted(raw_bars(DAYS, seed=4))
    raw.loc[raw.index >= pd.Timestamp(date(2024, 2, 1)), "adjusted"] *= 0.97  # a dividend: factors differ
    info = lake.write("BRK/B", stored_bars(raw))
    assert info.key == "BRK.B/daily.parquet"
    assert sorted(k for k, _ in lake.objects.listing("")) == ["BRK.B/daily.csv", "BRK.B/daily.parquet"]
    assert lake.stored_symbols() == ["BRK.B"]  # the copy is not a second symbol

    bars, read_info = lake.read_adjusted("BRK/B") or pytest.fail("object not found")
    assert read_info.key == "BRK.B/daily.csv"
    assert (read_info.first_bar, read_info.last_bar, read_info.row_count) == (
        info.first_bar,
        info.last_bar,
        info.row_count,
    )
    stored, _ = lake.read("BRK/B") or pytest.fail("object not found")
    assert_bars_equal(bars, stored.adjusted_bars())  # exactly: shortest round-trip floats
    assert lake.read_versions() == {"BRK.B/daily.parquet": f"BRK.B/daily.csv {read_info.etag}"}


def test_a_datalake_written_before_the_csv_copies_is_read_from_parquet(
    datalake: Datalake, s3_client: Any, bucket: str
) -> None:
    datalake.write("SPY", stored_bars(with_adjusted(raw_bars(DAYS, seed=5))))
    s3_client.delete_object(Bucket=bucket, Key="SPY/daily.csv")  # as the writer before the copies left it

    bars, info = datalake.read_adjusted("SPY") or pytest.fail("object not found")
    assert info.key == "SPY/daily.parquet"
    assert_bars_equal(bars, datalake.read("SPY")[0].adjusted_bars())  # type: ignore[index]
    assert datalake.read_versions() == {"SPY/daily.parquet": f"SPY/daily.parquet {info.etag}"}
    served = DatalakeMarketData(datalake, cache=BarCache()).daily_bars(["SPY"], end=DAYS[-1])["SPY"]
    assert_bars_equal(served, bars)
    assert datalake.read_adjusted("NOPE") is None


def test_a_bad_csv_copy_is_loud_naming_the_symbol(datalake: Datalake, s3_client: Any, bucket: str) -> None:
    datalake.write("SPY", stored_bars(with_adjusted(raw_bars(DAYS))))
    s3_client.put_object(Bucket=bucket, Key="SPY/daily.csv", Body=b"date,open,high,low,close,volume\n2024-01-02,1,2\n")
    with pytest.raises(DatalakeError, match="SPY: unreadable CSV object"):
        datalake.read_adjusted("SPY")


READ_WITHOUT_PANDAS = """
import sys
from datetime import date
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.s3_adapter import DatalakeMarketData
bars = DatalakeMarketData(Datalake.in_directory(sys.argv[1]), check_freshness=False).daily_bars(["SPY", "TLT"])
assert len(bars["SPY"]) > 0 and float(bars["TLT"].volume[-1]) > 0
print(sorted(m for m in ("pandas", "fastparquet") if m in sys.modules))
"""


def test_the_workers_read_path_needs_no_pandas(tmp_path: Path) -> None:
    lake = Datalake.in_directory(tmp_path)
    for seed, symbol in enumerate(("SPY", "TLT")):
        lake.write(symbol, stored_bars(with_adjusted(raw_bars(DAYS, seed=seed))))
    result = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_PANDAS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


REFRESH_WITHOUT_PANDAS = """
import sys
from datetime import date, datetime, timezone
import numpy as np
from the_alchemiser.shared.calendar import FixedClock, nyse_calendar
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.refresh import MarketDataRefresher, RefreshPolicy
from the_alchemiser.shared.market_data.stored_bars import StoredBars

calendar = nyse_calendar()
class Tape:
    def daily_bars(self, symbols, start, end):
        days = np.array(calendar.trading_days(start, end), dtype="datetime64[D]")
        prices = 100 + (days - np.datetime64("2024-01-01")).astype(float) * 0.25  # the same bar for a day
        return {s: StoredBars(days, prices, prices + 1, prices - 1, prices, prices * 1e4, prices) for s in symbols}

lake = Datalake.in_directory(sys.argv[1])
policy = RefreshPolicy(seed_start=date(2024, 1, 2))
for evening in (datetime(2024, 6, 10, 23, tzinfo=timezone.utc), datetime(2024, 6, 11, 23, tzinfo=timezone.utc)):
    report = MarketDataRefresher(lake, Tape(), clock=FixedClock(evening), calendar=calendar, policy=policy).refresh(
        ["SPY", "BRK/B"]
    )
    assert report.ok, report.problems
print(report.counts(), sorted(m for m in ("pandas", "fastparquet") if m in sys.modules))
"""


def test_the_refreshs_write_path_needs_no_pandas(tmp_path: Path) -> None:
    """Seed then append (read the stored object, check the overlap, write both objects): numpy alone."""
    result = subprocess.run(
        [sys.executable, "-c", REFRESH_WITHOUT_PANDAS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "{'appended': 2} []"
    assert Datalake.in_directory(tmp_path).head("BRK/B").last_bar == date(2024, 6, 11)  # type: ignore[union-attr]
