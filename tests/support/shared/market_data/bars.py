"""Bars for the market-data tests: deterministic frames, and a tape that knows splits and dividends.

`CorporateActionTape` is a BarsSource (the refresh's port) that answers as a data vendor would: raw bars
as traded, and the close adjusted for every split and dividend whose ex-date has passed *as of the
request*, so recording an action re-bases the adjusted history of every earlier day, as Alpaca's does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd

from the_alchemiser.local.sim_broker import BarsPriceSource
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar
from the_alchemiser.shared.market_data.stored_bars import StoredBars

CALENDAR = nyse_calendar()


def trading_days(start: date, end: date) -> list[date]:
    return CALENDAR.trading_days(start, end)


def after_close(day: date, hour: int = 18) -> datetime:
    """A moment well after `day`'s close (and the refresh's settle time), New York."""
    return datetime.combine(day, time(hour, 0), tzinfo=NEW_YORK)


def raw_bars(days: Sequence[date], *, start_price: float = 100.0, seed: int = 1) -> pd.DataFrame:
    """A random walk of OHLCV on `days` with 4-decimal prices (what the local broker serves)."""
    rng = np.random.default_rng(seed)
    closes = start_price * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(days))))
    opens = closes * (1 + rng.normal(0, 0.003, len(days)))
    highs = np.maximum(opens, closes) * (1 + np.abs(rng.normal(0, 0.004, len(days))))
    lows = np.minimum(opens, closes) * (1 - np.abs(rng.normal(0, 0.004, len(days))))
    frame = pd.DataFrame(
        {
            "open": np.round(opens, 4),
            "high": np.round(highs, 4),
            "low": np.round(lows, 4),
            "close": np.round(closes, 4),
            "volume": np.round(rng.uniform(1e6, 5e6, len(days))),
        },
        index=pd.DatetimeIndex(np.array(days, dtype="datetime64[D]").astype("datetime64[ns]"), name="date"),
    )
    return frame


def with_adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """The datalake's shape for bars without corporate actions: adjusted = close."""
    return frame.assign(adjusted=frame["close"])


def fastparquet_bytes(table: pd.DataFrame, metadata: dict[str, str] | None = None, **options: Any) -> bytes:
    """`table` as fastparquet writes it (zstd, no index): what the datalake's schema-2 writer did."""
    import io

    import fastparquet

    sink = io.BytesIO()
    sink.close = lambda: None  # type: ignore[method-assign]  # fastparquet closes what it writes
    fastparquet.write(
        "daily.parquet",
        table,
        compression="ZSTD",
        write_index=False,
        custom_metadata=metadata or {},
        open_with=lambda *_: sink,
        **options,
    )
    return sink.getvalue()


def fastparquet_object(frame: pd.DataFrame, metadata: dict[str, str]) -> bytes:
    """A datalake object (a frame in the datalake's shape) as the schema-2 writer wrote it."""
    table = pd.DataFrame({"date": frame.index.values.astype("datetime64[ns]")})
    for name in ("open", "high", "low", "close", "volume", "adjusted"):
        table[name] = frame[name].to_numpy(dtype=np.float64)
    return fastparquet_bytes(table, metadata, stats=False)


def stored_bars(frame: pd.DataFrame) -> StoredBars:
    """A frame in the datalake's shape as the refresh's StoredBars (what sources give and stores take)."""
    return StoredBars.from_frame(frame)


@dataclass
class CorporateActionTape:
    """Raw bars per symbol plus splits and cash dividends; answers like Alpaca (see the module docstring)."""

    raw: dict[str, pd.DataFrame]
    splits: dict[str, list[tuple[date, float]]] = field(default_factory=dict)  # (ex-date, ratio: 2.0 = 2-for-1)
    dividends: dict[str, list[tuple[date, float]]] = field(default_factory=dict)  # (ex-date, cash per share)
    requests: list[tuple[tuple[str, ...], date, date]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def split(self, symbol: str, ex_date: date, ratio: float) -> None:
        """From `ex_date` on, raw prices trade at 1/ratio (volume x ratio); earlier raw bars are as traded."""
        frame = self.raw[symbol].copy()
        later = frame.index >= pd.Timestamp(ex_date)
        for column in ("open", "high", "low", "close"):
            frame.loc[later, column] = np.round(frame.loc[later, column] / ratio, 4)
        frame.loc[later, "volume"] = frame.loc[later, "volume"] * ratio
        self.raw[symbol] = frame
        self.splits.setdefault(symbol, []).append((ex_date, ratio))

    def dividend(self, symbol: str, ex_date: date, amount: float) -> None:
        self.dividends.setdefault(symbol, []).append((ex_date, amount))

    def extend(self, symbol: str, frame: pd.DataFrame) -> None:
        """New trading days arrive on the tape."""
        self.raw[symbol] = pd.concat([self.raw[symbol], frame]).sort_index()

    def adjusted_close(self, symbol: str) -> pd.Series:
        raw = self.raw[symbol]
        factor = pd.Series(1.0, index=raw.index)
        for ex_date, ratio in self.splits.get(symbol, []):
            factor[raw.index < pd.Timestamp(ex_date)] /= ratio
        for ex_date, amount in self.dividends.get(symbol, []):
            before = raw.index < pd.Timestamp(ex_date)
            previous_close = raw["close"][before].iloc[-1]
            factor[before] *= 1 - amount / previous_close
        return raw["close"] * factor

    def daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, StoredBars]:
        self.requests.append((tuple(symbols), start, end))
        broken = self.failing.intersection(symbols)
        if broken:
            raise ConnectionError(f"vendor down for {sorted(broken)}")
        out: dict[str, StoredBars] = {}
        for symbol in symbols:
            if symbol not in self.raw:
                continue
            frame = self.raw[symbol].assign(adjusted=self.adjusted_close(symbol))
            window = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
            if not window.empty:
                out[symbol] = stored_bars(window)
        return out


class SwappableBarsPriceSource(BarsPriceSource):
    """The local broker's bar-frame price source, whose frames a test can replace while it runs."""

    def replace(self, symbol: str, frame: pd.DataFrame) -> None:
        self._add(symbol, frame)
