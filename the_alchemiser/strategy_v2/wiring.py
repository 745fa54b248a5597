"""Builds the Strategy Worker from Settings, once per process. Market data is built per request."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.events import EventBridgePublisher, S3PayloadStore
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.market_data import MarketDataPort
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.live import QuoteSource
from the_alchemiser.shared.market_data.s3_adapter import S3MarketData
from the_alchemiser.strategy_v2.worker_service import MarketDataFactory, StrategyWorker


class MissingConfiguration(RuntimeError):
    """Neither MARKET_DATA_BUCKET nor MARKET_DATA_DIR is set: the worker has nothing to read."""


def market_data_factory(settings: Settings, s3_client: Any | None = None) -> MarketDataFactory:
    """MARKET_DATA_BUCKET set -> the S3 datalake; else MARKET_DATA_DIR -> a CSV directory.

    A new adapter per call. The S3 adapter's process-wide cache is keyed by ETag and it checks that
    every bar reaches the requested day, so a warm Lambda never serves yesterday's files."""
    bucket = settings.market_data_bucket
    if bucket:
        client = s3_client or boto3.client("s3")
        clock = settings.clock()

        def s3_market_data() -> MarketDataPort:
            return S3MarketData(client, bucket, clock=clock)

        return s3_market_data
    directory = settings.market_data_dir
    if directory:
        return lambda: CsvDirectoryMarketData(directory)
    raise MissingConfiguration("set MARKET_DATA_BUCKET (S3 datalake) or MARKET_DATA_DIR (CSV directory)")


def live_quote_source(settings: Settings) -> QuoteSource | None:
    """STRATEGY_LIVE_BAR on: the latest quotes through the Alpaca data API (the broker adapter's client)."""
    if not settings.strategy_live_bar:
        return None
    from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker

    return AlpacaBroker.from_settings(settings).get_latest_quotes


def build_worker(settings: Settings) -> StrategyWorker:
    s3 = boto3.client("s3")
    store = S3PayloadStore(s3, settings.event_payloads_bucket) if settings.event_payloads_bucket else None
    return StrategyWorker(
        strategies_dir=settings.strategies_path,
        market_data=market_data_factory(settings, s3),
        publisher=EventBridgePublisher(boto3.client("events"), settings.event_bus_name, store),
        trace_store=store,
        live_quotes=live_quote_source(settings),
    )


@lru_cache(maxsize=1)
def get_worker() -> StrategyWorker:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_worker(settings)
