"""flat_parquet, the datalake's pandas-free Parquet: what it writes every Parquet reader here reads the same
(fastparquet; pyarrow wrote the schema-1 fixture), what it reads back is exact, and anything outside its
subset or broken is NotFlatParquet, never a wrong answer."""

from __future__ import annotations

import io
from pathlib import Path

import fastparquet
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.shared.market_data.bars import fastparquet_bytes
from the_alchemiser.shared.market_data import flat_parquet

PYARROW_FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "data" / "pyarrow_zstd_v1.parquet"
RNG = np.random.default_rng(7)
DATES = np.arange(np.datetime64("2016-01-04"), np.datetime64("2026-11-30"))[::2]
PRICES = np.round(RNG.uniform(1, 500, len(DATES)), 4)
COLUMNS = [("date", DATES), ("close", PRICES), ("volume", np.round(RNG.uniform(0, 1e8, len(DATES))))]
METADATA = {"first-bar-date": "2016-01-04", "row-count": str(len(DATES)), "note": "é, unicode"}


def test_what_it_writes_it_reads_back_exactly_with_the_footer_metadata() -> None:
    columns, metadata = flat_parquet.read(flat_parquet.write(COLUMNS, METADATA))
    assert list(columns) == ["date", "close", "volume"] and metadata == METADATA
    for name, values in COLUMNS:
        np.testing.assert_array_equal(columns[name], values, strict=True)
    assert columns["date"].dtype == np.dtype("datetime64[D]")


def test_fastparquet_reads_what_it_writes_the_same() -> None:
    body = flat_parquet.write(COLUMNS, METADATA)
    parquet = fastparquet.ParquetFile(io.BytesIO(body))
    assert parquet.columns == ["date", "close", "volume"]
    assert parquet.key_value_metadata == METADATA
    assert [c.meta_data.codec for c in parquet.row_groups[0].columns] == [6, 6, 6]  # ZSTD
    table = parquet.to_pandas(index=False)
    assert table["date"].iloc[0] == pd.Timestamp(2016, 1, 4)
    np.testing.assert_array_equal(table["date"].to_numpy().astype("datetime64[D]"), DATES)
    np.testing.assert_array_equal(table["close"].to_numpy(), PRICES)


def test_an_empty_table_and_one_without_metadata() -> None:
    body = flat_parquet.write([("date", DATES[:0]), ("close", PRICES[:0])])
    columns, metadata = flat_parquet.read(body)
    assert metadata == {} and len(columns["date"]) == 0
    assert len(fastparquet.ParquetFile(io.BytesIO(body)).to_pandas()) == 0


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="close has 2 values"):
        flat_parquet.write([("date", DATES[:3]), ("close", PRICES[:2])])


def test_parquet_another_writer_made_is_outside_the_subset_but_its_footer_reads() -> None:
    frame = pd.DataFrame({"date": DATES.astype("datetime64[ns]"), "close": PRICES})
    other = fastparquet_bytes(frame, {"k": "v"})
    with pytest.raises(flat_parquet.NotFlatParquet):
        flat_parquet.read(other)
    assert flat_parquet.key_value_metadata(other)["k"] == "v"
    with pytest.raises(flat_parquet.NotFlatParquet):
        flat_parquet.read(PYARROW_FIXTURE.read_bytes())
    assert isinstance(flat_parquet.key_value_metadata(PYARROW_FIXTURE.read_bytes()), dict)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b"",
        lambda b: b"not parquet at all",
        lambda b: b[:-1],
        lambda b: b[: len(b) // 2] + b[-8:],
        lambda b: b[:-8] + (len(b) * 2).to_bytes(4, "little") + b"PAR1",
        lambda b: b[:40] + bytes(200) + b[240:],  # a page's compressed bytes zeroed
    ],
)
def test_broken_bytes_are_not_flat_parquet_never_wrong_values(spoil: object) -> None:
    body = flat_parquet.write(COLUMNS, METADATA)
    with pytest.raises(flat_parquet.NotFlatParquet):
        flat_parquet.read(spoil(body))  # type: ignore[operator]


def test_every_single_byte_flip_is_refused_or_read_as_written() -> None:
    """A flip inside a value's PLAIN bytes changes that value (Parquet has no checksum here); every other
    flip must raise NotFlatParquet. Across the whole small file no flip may crash with anything else."""
    body = flat_parquet.write([("date", DATES[:5]), ("close", PRICES[:5])], {"k": "v"})
    for at in range(len(body)):
        spoiled = bytearray(body)
        spoiled[at] ^= 0xFF
        try:
            columns, _ = flat_parquet.read(bytes(spoiled))
        except flat_parquet.NotFlatParquet:
            continue
        assert len(columns["date"]) == 5 and len(columns["close"]) == 5


@settings(max_examples=60, deadline=None)
@given(
    days=st.integers(min_value=0, max_value=3000),
    start=st.integers(min_value=-20000, max_value=40000),
    floats=st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=50),
    metadata=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=20),
)
def test_any_table_round_trips_exactly_and_fastparquet_agrees(
    days: int, start: int, floats: list[float], metadata: dict[str, str]
) -> None:
    """Any length (lists of 15 or more elements take the long list header), any date, any finite double
    (signed zeros, subnormals, the extremes), any string metadata."""
    dates = (np.datetime64("1970-01-01") + np.arange(start, start + days)).astype("datetime64[D]")
    values = np.resize(np.array(floats), days)
    columns = [("date", dates), *((f"c{i}", np.roll(values, i)) for i in range(16))]
    body = flat_parquet.write(columns, metadata)
    read, read_metadata = flat_parquet.read(body)
    assert read_metadata == metadata and list(read) == [name for name, _ in columns]
    for name, expected in columns:
        np.testing.assert_array_equal(read[name], expected, strict=True)
    table = fastparquet.ParquetFile(io.BytesIO(body)).to_pandas(index=False)
    np.testing.assert_array_equal(table["c0"].to_numpy(), values)
