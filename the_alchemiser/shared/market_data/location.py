"""The one place a `--data LOCATION` argument becomes a MarketDataPort (signals, backtest, compare, run).

Today: a directory of `<SYMBOL>.csv` files (dsl.md's format). The market-data work extends it to the
datalake layout (`<SYMBOL>/daily.parquet`) and `s3://bucket/prefix`; callers do not change."""

from __future__ import annotations

from pathlib import Path

from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.port import MarketDataError, MarketDataPort


def open_market_data(location: str | Path) -> MarketDataPort:
    """A port over the bars at `location`; MarketDataError when nothing readable is there."""
    path = Path(location)
    if not path.is_dir():
        raise MarketDataError(f"market data directory not found: {path}")
    return CsvDirectoryMarketData(path)
