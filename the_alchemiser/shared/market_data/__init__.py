from the_alchemiser.shared.market_data.bars import DailyBars
from the_alchemiser.shared.market_data.port import (
    BAR_COLUMNS,
    MarketDataError,
    MarketDataPort,
    MissingMarketDataError,
    StaleMarketDataError,
)

__all__ = [
    "BAR_COLUMNS",
    "DailyBars",
    "MarketDataError",
    "MarketDataPort",
    "MissingMarketDataError",
    "StaleMarketDataError",
]
