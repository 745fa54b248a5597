"""Small helpers for the DSL tests: bar frames from closes, random-walk markets, an in-memory port."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from the_alchemiser.shared.market_data import MissingMarketDataError

CORPUS_DIR = "../shared/corpus/symphonies"


def business_days(end: date, count: int) -> pd.DatetimeIndex:
    return pd.bdate_range(end=pd.Timestamp(end), periods=count, name="date")


def frame(
    closes: Sequence[float], end: date = date(2024, 6, 28), dates: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    closes_array = np.asarray(closes, dtype=float)
    index = dates if dates is not None else business_days(end, len(closes_array))
    return pd.DataFrame(
        {
            "open": closes_array,
            "high": closes_array,
            "low": closes_array,
            "close": closes_array,
            "volume": np.full(len(closes_array), 1000.0),
        },
        index=index,
    )


def random_walk_market(symbols: Sequence[str], end: date, days: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    index = business_days(end, days)
    out = {}
    for symbol in sorted(set(symbols)):
        vol = rng.uniform(0.005, 0.04)
        returns = rng.normal(0.0003, vol, size=days)
        out[symbol] = frame(50.0 * np.exp(np.cumsum(returns)), dates=index)
    return out


class InMemoryMarketData:
    """MarketDataPort over frames held in memory (the same contract as the CSV adapter)."""

    def __init__(self, bars: Mapping[str, pd.DataFrame]) -> None:
        self.bars = dict(bars)
        self.calls: list[tuple[list[str], date | None]] = []

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, pd.DataFrame]:
        self.calls.append((list(symbols), end))
        missing = [s for s in symbols if s not in self.bars]
        if missing:
            raise MissingMarketDataError(missing)
        out = {}
        for symbol in symbols:
            f = self.bars[symbol]
            out[symbol] = f if end is None else f.loc[: pd.Timestamp(end)]
        return out


def shift_day(day: date, days: int) -> date:
    return day + timedelta(days=days)
