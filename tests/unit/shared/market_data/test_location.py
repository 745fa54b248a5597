"""open_market_data: a --data argument (CSV directory, datalake directory, s3://) becomes a port, or a clear error."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.shared.market_data.bars import raw_bars, trading_days, with_adjusted
from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.location import expected_location, open_market_data, parse_s3_location
from the_alchemiser.shared.market_data.s3_adapter import DatalakeMarketData

DAYS = trading_days(date(2024, 1, 2), date(2024, 3, 28))


def test_a_csv_directory_is_read_by_the_csv_adapter(tmp_path: Path) -> None:
    assert isinstance(open_market_data(tmp_path), CsvDirectoryMarketData)


def test_a_missing_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="not found"):
        open_market_data(tmp_path / "nowhere")
    with pytest.raises(MarketDataError, match="no bucket"):
        open_market_data("s3:///prefix")


def test_a_datalake_directory_and_an_s3_prefix_are_read_without_a_freshness_check(
    tmp_path: Path, s3_client: Any, bucket: str
) -> None:
    frame = with_adjusted(raw_bars(DAYS))
    Datalake.in_directory(tmp_path).write("BRK/B", frame)
    Datalake(s3_client, bucket, "cache/bars").write("BRK/B", frame)

    local = open_market_data(tmp_path)
    remote = open_market_data(f"s3://{bucket}/cache/bars/", s3_client=s3_client)
    assert isinstance(local, DatalakeMarketData) and isinstance(remote, DatalakeMarketData)
    for port in (local, remote):
        bars = port.daily_bars(["BRK/B"], end=date(2024, 6, 28))["BRK/B"]  # long after the last bar: served
        assert bars.last_date == date(2024, 3, 28)
        np.testing.assert_array_equal(bars.close, frame["adjusted"].to_numpy())
        with pytest.raises(MissingMarketDataError):
            port.daily_bars(["NOPE"])
    assert expected_location(local, "NOPE") == str(tmp_path / "NOPE" / "daily.parquet")
    assert expected_location(remote, "NOPE") == f"s3://{bucket}/cache/bars/NOPE/daily.parquet"
    assert expected_location(CsvDirectoryMarketData(tmp_path), "BRK/B") == str(tmp_path / "BRK.B.csv")


def test_s3_locations_split_into_bucket_and_prefix() -> None:
    assert parse_s3_location("s3://b") == ("b", "")
    assert parse_s3_location("s3://b/x/y/") == ("b", "x/y/")
