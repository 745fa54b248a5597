"""MarketDataPort over a directory of `<SYMBOL>.csv` files (dsl.md's format), so the engine runs offline.

File name: the symbol with `/` written as `.` (`BRK/B` -> `BRK.B.csv`). Header
`date,open,high,low,close,volume`, dates `YYYY-MM-DD`, ascending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from the_alchemiser.shared.market_data.port import BAR_COLUMNS, MarketDataError, MissingMarketDataError

HEADER = ("date", *BAR_COLUMNS)


def csv_file_name(symbol: str) -> str:
    return symbol.replace("/", ".") + ".csv"


class CsvDirectoryMarketData:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, pd.DataFrame] = {}

    def path_for(self, symbol: str) -> Path:
        return self.directory / csv_file_name(symbol)

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, pd.DataFrame]:
        if not self.directory.is_dir():
            raise MarketDataError(f"market data directory not found: {self.directory}")
        missing = [s for s in symbols if not self.path_for(s).is_file()]
        if missing:
            raise MissingMarketDataError(missing)
        out: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            frame = self._cache.get(symbol)
            if frame is None:
                frame = self._cache[symbol] = self._read(symbol)
            out[symbol] = frame if end is None else frame.loc[: pd.Timestamp(end)]
        return out

    def write(self, symbol: str, frame: pd.DataFrame) -> Path:
        """Write bars in the same format (used by tools and tests that prepare a data directory)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(symbol)
        out = frame.loc[:, list(BAR_COLUMNS)].copy()
        out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
        out.index.name = "date"
        out.to_csv(path)
        self._cache.pop(symbol, None)
        return path

    def _read(self, symbol: str) -> pd.DataFrame:
        path = self.path_for(symbol)
        try:
            raw = pd.read_csv(path, dtype={"date": str})
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise MarketDataError(f"{path}: cannot read bars: {exc}") from exc
        if tuple(raw.columns) != HEADER:
            raise MarketDataError(f"{path}: header must be {','.join(HEADER)}, found {','.join(map(str, raw.columns))}")
        try:
            index = pd.DatetimeIndex(pd.to_datetime(raw["date"], format="%Y-%m-%d"), name="date")
            frame = raw.loc[:, list(BAR_COLUMNS)].astype(float)
        except (ValueError, TypeError) as exc:
            raise MarketDataError(f"{path}: bad value: {exc}") from exc
        frame.index = index
        if not index.is_monotonic_increasing or not index.is_unique:
            raise MarketDataError(f"{path}: dates must be unique and ascending")
        if len(frame) == 0:
            raise MissingMarketDataError([symbol])
        return frame
