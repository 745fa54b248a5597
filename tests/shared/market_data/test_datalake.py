"""The datalake's objects on moto S3: layout, metadata, round trip and the errors a reader must see."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.shared.market_data.bars import raw_bars, trading_days, with_adjusted
from the_alchemiser.shared.market_data.datalake import Datalake, DatalakeError

DAYS = trading_days(date(2024, 1, 2), date(2024, 3, 28))


def test_seed_writes_one_parquet_per_symbol_with_the_documented_columns_and_metadata(
    datalake: Datalake, s3_client: Any, bucket: str
) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    info = datalake.write("SPY", frame)

    assert info.key == "SPY/daily.parquet"
    head = s3_client.head_object(Bucket=bucket, Key="SPY/daily.parquet")
    assert head["Metadata"] == {
        "first-bar-date": "2024-01-02",
        "last-bar-date": "2024-03-28",
        "row-count": str(len(DAYS)),
        "schema-version": "1",
    }
    body = s3_client.get_object(Bucket=bucket, Key="SPY/daily.parquet")["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.column_names == ["date", "open", "high", "low", "close", "volume", "adjusted"]
    assert str(table.schema.field("date").type) == "date32[day]"
    assert table.column("date").to_pylist()[0] == date(2024, 1, 2)

    stored, read_info = datalake.read("SPY") or pytest.fail("object not found")
    pd.testing.assert_frame_equal(stored, frame.loc[:, list(stored.columns)], check_freq=False)
    assert read_info == info == datalake.head("SPY")
    assert (info.first_bar, info.last_bar, info.row_count) == (date(2024, 1, 2), date(2024, 3, 28), len(DAYS))


def test_append_replaces_the_object_with_the_longer_history_and_a_new_etag(datalake: Datalake) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    first = datalake.write("QQQ", frame.iloc[:-5])
    second = datalake.write("QQQ", frame)
    assert second.etag != first.etag
    assert (second.row_count, second.last_bar) == (len(DAYS), date(2024, 3, 28))
    stored, _ = datalake.read("QQQ") or pytest.fail("object not found")
    assert len(stored) == len(DAYS)


def test_a_slash_symbol_is_stored_under_a_dot_key_and_listed(datalake: Datalake) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    datalake.write("BRK/B", frame)
    datalake.write("SPY", frame)
    assert datalake.key_for("BRK/B") == "BRK.B/daily.parquet"
    assert datalake.stored_symbols() == ["BRK.B", "SPY"]
    assert datalake.head("BRK/B") is not None


def test_a_prefix_keeps_the_datalake_in_its_own_folder(s3_client: Any, bucket: str) -> None:
    lake = Datalake(s3_client, bucket, prefix="bars")
    s3_client.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"not bars")
    lake.write("GLD", with_adjusted(raw_bars(DAYS)))
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
        (lambda f: f.drop(columns="adjusted"), "lack columns"),
        (lambda f: f.iloc[:0], "no bars"),
        (lambda f: f.tz_localize("UTC"), "tz-naive"),
    ],
)
def test_bad_frames_are_refused_naming_the_symbol(datalake: Datalake, spoil: Any, message: str) -> None:
    with pytest.raises(DatalakeError, match=f"TLT: .*{message}"):
        datalake.write("TLT", spoil(with_adjusted(raw_bars(DAYS))))
    assert datalake.head("TLT") is None


def test_an_unreadable_object_and_a_metadata_mismatch_are_loud(datalake: Datalake, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key="BAD/daily.parquet",
        Body=b"not parquet",
        Metadata={"first-bar-date": "2024-01-02", "last-bar-date": "2024-03-28", "row-count": "3"},
    )
    with pytest.raises(DatalakeError, match="BAD: unreadable Parquet"):
        datalake.read("BAD")

    datalake.write("LIE", with_adjusted(raw_bars(DAYS)))
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
