"""Builds the data-refresh service from Settings, once per process.

Reads: MARKET_DATA_BUCKET (required), ALPACA_API_KEY/ALPACA_SECRET_KEY or ALPACA_CREDENTIALS_SECRET,
ALPACA_DATA_URL (else ALPACA_BASE_URL when it is not Alpaca's, i.e. the local paper broker), STRATEGIES_DIR
(default: the deployed strategies/), ALCHEMISER_LOCAL_CLOCK (local stack only), LOG_LEVEL."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from the_alchemiser.data_v2.service import DataRefreshService
from the_alchemiser.shared.calendar import nyse_calendar
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.market_data.alpaca_bars import AlpacaBarsSource
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.refresh import BarsSource, MarketDataRefresher, RefreshPolicy


class MissingConfiguration(RuntimeError):
    """A variable the data refresh cannot work without is unset."""


def build_service(
    settings: Settings,
    *,
    s3_client: Any | None = None,
    source: BarsSource | None = None,
    policy: RefreshPolicy | None = None,
) -> DataRefreshService:
    bucket = settings.market_data_bucket
    if not bucket:
        raise MissingConfiguration("MARKET_DATA_BUCKET is not set")
    refresher = MarketDataRefresher(
        Datalake(s3_client or boto3.client("s3"), bucket),
        source or AlpacaBarsSource.from_settings(settings),
        clock=settings.clock(),
        calendar=nyse_calendar(),
        policy=policy,
    )
    return DataRefreshService(refresher, strategies_dir=settings.strategies_path)


@lru_cache(maxsize=1)
def get_service() -> DataRefreshService:
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_service(settings)
