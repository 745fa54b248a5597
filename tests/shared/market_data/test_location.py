"""open_market_data: a --data argument becomes a port, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from the_alchemiser.shared.market_data import MarketDataError
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.location import open_market_data


def test_a_csv_directory_is_read_by_the_csv_adapter(tmp_path: Path) -> None:
    assert isinstance(open_market_data(tmp_path), CsvDirectoryMarketData)


def test_a_missing_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="not found"):
        open_market_data(tmp_path / "nowhere")
