"""Where the simulated broker gets its reference (mid) prices: a dict, bar frames, or the synthetic market.

Bar frames are the tape as traded. Splits recorded with `BarsPriceSource.split` re-base the history the data
API serves with `adjustment=split|all` (earlier prices divided by the ratio, volume multiplied), as Alpaca's
does once a split's ex-date has passed; `adjustment=raw` (Alpaca's default) serves the tape as traded."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from threading import Lock
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from the_alchemiser.shared.types import to_decimal

CENT = Decimal("0.01")


@runtime_checkable
class PriceSource(Protocol):
    """The reference price of a symbol on a day (the quote midpoint), or None for an unknown symbol."""

    def reference_price(self, symbol: str, day: date) -> Decimal | None: ...


@dataclass(frozen=True)
class DailyBar:
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@runtime_checkable
class BarsSource(Protocol):
    """Optional: a price source that also has daily OHLCV (served by the data API's /v2/stocks/bars)."""

    def daily_bars(self, symbol: str, start: date, end: date, adjustment: str = "raw") -> list[DailyBar]: ...


ADJUSTED = frozenset({"split", "all"})  # the adjustments that re-base history for splits (no dividends here)


class DictPriceSource:
    """The same price every day: `{"SPY": Decimal("500")}`."""

    def __init__(self, prices: Mapping[str, Decimal | str | float | int]) -> None:
        self._prices = {symbol.upper(): to_decimal(price) for symbol, price in prices.items()}

    def reference_price(self, symbol: str, day: date) -> Decimal | None:
        return self._prices.get(symbol.upper())

    def symbols(self) -> list[str]:
        return sorted(self._prices)


def _money(value: Any) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.0001"))


class BarsPriceSource:
    """Daily bar frames (index dates, columns open high low close volume), e.g. from `generate_market`.

    The reference price on a day is that day's close, or the last close before it (a weekend or a day past
    the data); None before the first bar or for an unknown symbol."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._splits: dict[str, list[tuple[date, float]]] = {}
        for symbol, frame in frames.items():
            self._add(symbol, frame)

    def split(self, symbol: str, ex_date: date, ratio: float) -> None:
        """Record a split (2.0 = 2-for-1) whose ex-date has passed; the frame must already trade at the
        post-split price from `ex_date` on (it is the tape as traded)."""
        if ratio <= 0:
            raise ValueError("a split ratio must be positive")
        self._splits.setdefault(symbol.upper(), []).append((ex_date, float(ratio)))

    def _add(self, symbol: str, frame: pd.DataFrame) -> None:
        ordered = frame.copy()
        ordered.index = pd.DatetimeIndex(pd.to_datetime(ordered.index)).normalize()
        self._frames[symbol.upper()] = ordered.sort_index()

    def _frame(self, symbol: str) -> pd.DataFrame | None:
        return self._frames.get(symbol.upper())

    def reference_price(self, symbol: str, day: date) -> Decimal | None:
        frame = self._frame(symbol)
        if frame is None or frame.empty:
            return None
        position = int(frame.index.searchsorted(pd.Timestamp(day), side="right")) - 1
        if position < 0:
            return None
        return _money(frame["close"].iloc[position]).quantize(CENT)

    def daily_bars(self, symbol: str, start: date, end: date, adjustment: str = "raw") -> list[DailyBar]:
        frame = self._frame(symbol)
        if frame is None:
            return []
        window = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        factor = pd.Series(1.0, index=window.index)
        if adjustment in ADJUSTED:
            for ex_date, ratio in self._splits.get(symbol.upper(), []):
                factor[window.index < pd.Timestamp(ex_date)] /= ratio
        return [
            DailyBar(
                day=ts.date(),
                open=_money(row["open"] * f),
                high=_money(row["high"] * f),
                low=_money(row["low"] * f),
                close=_money(row["close"] * f),
                volume=Decimal(round(row["volume"] / f)),
            )
            for ts, row, f in zip(
                pd.DatetimeIndex(window.index), window.to_dict("records"), factor.to_numpy(), strict=True
            )
        ]


def cached_market(location: str, symbols: Sequence[str], end: date) -> dict[str, pd.DataFrame]:
    """Bar frames (adjusted, through `end`) from a `--data` cache, for BarsPriceSource: `run --data DIR`
    quotes and serves these real bars instead of the synthetic market. Raises MarketDataError (missing
    symbols named, or a symbol with no bar on or before `end`)."""
    from the_alchemiser.shared.market_data import MarketDataError
    from the_alchemiser.shared.market_data.location import open_market_data

    bars = open_market_data(location).daily_bars(list(symbols), end=end)
    empty = sorted(s for s, b in bars.items() if not len(b))
    if empty:
        raise MarketDataError(f"{location} has no bars on or before {end} for: {', '.join(empty)}")
    return {symbol: series.to_frame() for symbol, series in bars.items()}


class SyntheticPriceSource(BarsPriceSource):
    """Bars from `the_alchemiser.local.synthetic_market.generate_market`, generated per symbol on first use."""

    def __init__(self, *, end: date, days: int = 800, seed: int = 7) -> None:
        super().__init__({})
        self._generate = _synthetic_generator()
        self._end, self._days, self._seed = end, days, seed
        self._lock = Lock()
        self._unknown: set[str] = set()

    def _frame(self, symbol: str) -> pd.DataFrame | None:
        key = symbol.upper()
        with self._lock:
            if key not in self._frames and key not in self._unknown:
                try:
                    frames = self._generate([key], end=self._end, days=self._days, seed=self._seed)
                except (KeyError, ValueError):
                    frames = {}
                if key in frames:
                    self._add(key, frames[key])
                else:
                    self._unknown.add(key)
            return self._frames.get(key)


def _synthetic_generator() -> Callable[..., dict[str, pd.DataFrame]]:
    module = importlib.import_module("the_alchemiser.local.synthetic_market")
    generate: Callable[..., dict[str, pd.DataFrame]] = module.generate_market
    return generate


def synthetic_market_available() -> bool:
    try:
        _synthetic_generator()
    except (ImportError, AttributeError):
        return False
    return True


def default_price_source(*, end: date, days: int = 800, seed: int = 7) -> PriceSource:
    """The synthetic market when that module is present, else a small fixed price list."""
    if synthetic_market_available():
        return SyntheticPriceSource(end=end, days=days, seed=seed)
    return DictPriceSource(FALLBACK_PRICES)


FALLBACK_PRICES: dict[str, Decimal] = {
    "SPY": Decimal("500.00"),
    "QQQ": Decimal("430.00"),
    "TQQQ": Decimal("60.00"),
    "SQQQ": Decimal("12.00"),
    "TLT": Decimal("92.00"),
    "BIL": Decimal("91.50"),
    "GLD": Decimal("215.00"),
    "UVXY": Decimal("25.00"),
    "SOXL": Decimal("35.00"),
    "TECL": Decimal("80.00"),
}
