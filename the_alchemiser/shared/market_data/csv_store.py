"""The refresh's BarStore over a CSV directory (dsl.md's format): what `data fetch --format csv` keeps.

A CSV file holds the adjusted bars only (the strategies' prices), so it is read back in the datalake's
shape with the raw columns equal to the adjusted ones (`keeps_raw_bars` False: the refresh compares only
adjusted closes to detect a changed history). Writing the bars read back gives the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from the_alchemiser.shared.market_data.bars import DailyBars
from the_alchemiser.shared.market_data.csv_directory import bars_to_csv, csv_file_name, read_csv_bars, write_atomically
from the_alchemiser.shared.market_data.datalake import StoredBarsInfo
from the_alchemiser.shared.market_data.stored_bars import StoredBars

if TYPE_CHECKING:
    import pandas as pd


class CsvBarStore:
    keeps_raw_bars = False

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, symbol: str) -> Path:
        return self.directory / csv_file_name(symbol)

    def _info(self, symbol: str, bars: DailyBars) -> StoredBarsInfo:
        path = self.path_for(symbol)
        stat = path.stat()
        assert bars.first_date is not None and bars.last_date is not None
        return StoredBarsInfo(
            symbol, path.name, f"{stat.st_mtime_ns}-{stat.st_size}", bars.first_date, bars.last_date, len(bars)
        )

    def _bars(self, symbol: str) -> DailyBars | None:
        path = self.path_for(symbol)
        if not path.is_file():
            return None
        bars = read_csv_bars(path)
        return bars if len(bars) else None  # a header alone: nothing stored yet

    def head(self, symbol: str) -> StoredBarsInfo | None:
        bars = self._bars(symbol)
        return None if bars is None else self._info(symbol, bars)

    def read(self, symbol: str) -> tuple[StoredBars, StoredBarsInfo] | None:
        bars = self._bars(symbol)
        if bars is None:
            return None
        close = np.asarray(bars.close)
        stored = StoredBars(bars.dates, bars.open, bars.high, bars.low, close, bars.volume, close)
        return stored, self._info(symbol, bars)

    def write(self, symbol: str, bars: StoredBars | pd.DataFrame) -> StoredBarsInfo:
        adjusted = StoredBars.of(bars).validated(symbol).adjusted_bars()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path_for(symbol), bars_to_csv(adjusted))
        return self._info(symbol, adjusted)
