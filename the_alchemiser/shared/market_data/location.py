"""The one place a `--data LOCATION` argument becomes a MarketDataPort (signals, backtest, compare, run).

- `s3://bucket/prefix`: the S3 datalake (`<prefix>/<SYMBOL>/daily.parquet`), read with the default AWS
  credentials;
- a directory holding `<SYMBOL>/daily.parquet` objects and no `*.csv`: the same layout on disk (what
  `data fetch --format parquet` writes, or `aws s3 sync` of the bucket);
- any other directory: dsl.md's CSV directory (`<SYMBOL>.csv`; what `data fetch` and `data synth` write).

Freshness is not checked here: a command evaluates the last bar it has and says so (the worker, which
must fail on stale data, builds its own port in `strategy_v2/wiring.py`). Nothing here imports pandas until
a datalake is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from the_alchemiser.shared.market_data.csv_directory import FILE_SUFFIX, CsvDirectoryMarketData
from the_alchemiser.shared.market_data.port import MarketDataError, MarketDataPort

S3_SCHEME = "s3://"
OBJECT_NAME = "daily.parquet"  # datalake.OBJECT_NAME, without importing the Parquet side for CSV


def parse_s3_location(location: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/")."""
    bucket, _, prefix = location[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise MarketDataError(f"no bucket in {location!r}: expected s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def is_datalake_directory(path: Path) -> bool:
    return not any(path.glob(f"*{FILE_SUFFIX}")) and any(path.glob(f"*/{OBJECT_NAME}"))


def open_market_data(location: str | Path, *, s3_client: Any | None = None) -> MarketDataPort:
    """A port over the bars at `location`; MarketDataError when nothing readable is there."""
    text = str(location)
    if text.startswith(S3_SCHEME):
        import boto3

        from the_alchemiser.shared.market_data.datalake import Datalake
        from the_alchemiser.shared.market_data.s3_adapter import DatalakeMarketData

        bucket, prefix = parse_s3_location(text)
        return DatalakeMarketData(Datalake(s3_client or boto3.client("s3"), bucket, prefix), check_freshness=False)
    path = Path(location)
    if not path.is_dir():
        raise MarketDataError(f"market data directory not found: {path}")
    if is_datalake_directory(path):
        from the_alchemiser.shared.market_data.datalake import Datalake
        from the_alchemiser.shared.market_data.s3_adapter import DatalakeMarketData

        return DatalakeMarketData(Datalake.in_directory(path), check_freshness=False)
    return CsvDirectoryMarketData(path)


def expected_location(port: MarketDataPort, symbol: str) -> str:
    """Where `port` looks for a symbol's bars, for a "missing market data" message."""
    if isinstance(port, CsvDirectoryMarketData):
        return str(port.path_for(symbol))
    datalake = getattr(port, "datalake", None)
    if datalake is not None:
        return str(datalake.url_for(symbol))
    return symbol
