"""MarketDataPort over a directory of `<SYMBOL>.csv` files (dsl.md's format), so the engine runs offline.

File name: the symbol with `/` written as `.` (`BRK/B` -> `BRK.B.csv`). Header
`date,open,high,low,close,volume`, dates `YYYY-MM-DD`, ascending. Prices adjusted for splits and dividends.

The reader is numpy only (no pandas on the signals path). Reading a file checks, up front, the header, the
shape of every line (a `YYYY-MM-DD` date and five fields, no empty field, only number characters), the
dates (valid, unique, ascending) and parses the dates and closes exactly (the strategies read closes).
Open, high, low and volume are parsed on first use (`LazyDailyBars`, reading the file again: its text is not
kept): a signal never pays for columns it does not read, and a value that still fails to parse raises
MarketDataError naming the file then."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from the_alchemiser.shared.market_data.bars import Array, DailyBars, as_daily_bars, strictly_ascending
from the_alchemiser.shared.market_data.port import BAR_COLUMNS, MarketDataError, MissingMarketDataError

if TYPE_CHECKING:
    import pandas as pd

HEADER = ("date", *BAR_COLUMNS)
HEADER_LINE = ",".join(HEADER).encode("ascii")
FILE_SUFFIX = ".csv"
_FIELDS = len(HEADER)
_DATE_WIDTH = 10  # YYYY-MM-DD
# bytes a number field may hold (digits, sign, point, exponent, and the letters of nan/inf)
_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[list(b"0123456789+-.eEnaifNAIF,\n")] = True
_LAZY_COLUMNS = ("open", "high", "low", "volume")


def csv_file_name(symbol: str) -> str:
    """`BRK/B` -> `BRK.B.csv` (dsl.md's CSV-directory format)."""
    return symbol.replace("/", ".") + FILE_SUFFIX


def _days_from_civil(year: Array, month: Array, day: Array) -> Array:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm), vectorised."""
    year = year - (month <= 2)
    era = year // 400
    yoe = year - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days: Array = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days


def _line_of(body: bytes, offset: int) -> tuple[int, str]:
    """The file line number (header = 1) and text of the body line holding byte `offset`, for messages."""
    start = body.rfind(b"\n", 0, offset) + 1
    end = body.find(b"\n", offset)
    text = body[start : None if end < 0 else end].decode("utf-8", errors="replace")
    return body.count(b"\n", 0, start) + 2, text


_ALLOWED = b"0123456789+-.eEnaifNAIF,\n"
# The last date column parsed: (its text, its read-only dates). The files of one market share their dates,
# so most files skip the date arithmetic and share one array (less memory, and Market's equal-dates check).
_last_dates: tuple[bytes, Array] = (b"", np.array([], dtype="datetime64[D]"))


def _first_empty_field(body: bytes) -> int:
    """Offset of the first comma followed by a comma, a newline or the end; -1 when every field has a value."""
    found = [at for at in (body.find(b",,"), body.find(b",\n")) if at >= 0]
    if body.endswith(b","):
        found.append(len(body) - 1)
    return min(found, default=-1)


def _check_and_parse_dates(path: Path, body: bytes) -> Array:
    """Every line's shape (a date, then five non-empty number fields) and its date, vectorised."""
    global _last_dates  # noqa: PLW0603 - a one-entry cache of the last date column
    if body.translate(None, _ALLOWED):  # some byte no number field may hold
        bad_bytes = ~_NUMBER_BYTES[np.frombuffer(body, dtype=np.uint8)]
        number, text = _line_of(body, int(np.argmax(bad_bytes)))
        raise MarketDataError(f"{path}: line {number}: bad value in {text!r}")
    chars = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(chars == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(chars)]))
    short = ends - starts < _DATE_WIDTH + 2
    commas = np.flatnonzero(chars == ord(","))
    per_line = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
    wrong = short | (per_line != _FIELDS - 1)
    if wrong.any():
        number, text = _line_of(body, int(starts[int(np.argmax(wrong))]))
        raise MarketDataError(f"{path}: line {number}: expected {_FIELDS} fields, found {text!r}")
    empty = _first_empty_field(body)
    if empty >= 0:
        number, text = _line_of(body, empty)
        raise MarketDataError(f"{path}: line {number}: empty field in {text!r}")
    heads = chars[starts[:, None] + np.arange(_DATE_WIDTH + 1)]
    column = heads.tobytes()
    if column == _last_dates[0]:
        return _last_dates[1]
    digits = heads[:, [0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - ord("0")
    shape_ok = ((digits >= 0) & (digits <= 9)).all(axis=1) & (heads[:, [4, 7, 10]] == np.array(list(b"--,"))).all(
        axis=1
    )
    year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
    month = digits[:, 4] * 10 + digits[:, 5]
    day = digits[:, 6] * 10 + digits[:, 7]
    month_ok = (month >= 1) & (month <= 12)
    safe_month = np.where(month_ok, month, 1)
    first_day = _days_from_civil(year, safe_month, np.ones_like(day))
    following = _days_from_civil(np.where(safe_month == 12, year + 1, year), safe_month % 12 + 1, np.ones_like(day))
    valid = shape_ok & month_ok & (day >= 1) & (day <= following - first_day)
    if not valid.all():
        number, text = _line_of(body, int(starts[int(np.argmax(~valid))]))
        raise MarketDataError(f"{path}: line {number}: bad date in {text!r}")
    dates: Array = (first_day + day - 1).astype("datetime64[D]")
    dates.flags.writeable = False
    _last_dates = (column, dates)
    return dates


def _parse_columns(path: Path, body: bytes, columns: tuple[int, ...]) -> Array:
    try:
        values = np.loadtxt(
            io.BytesIO(body), delimiter=",", usecols=columns, dtype=np.float64, ndmin=2, comments=None, quotechar=None
        )
    except ValueError as exc:
        raise MarketDataError(f"{path}: bad value: {' '.join(str(exc).split())}") from None
    return values


def _body_of(path: Path, raw: bytes) -> bytes:
    """The lines after a checked header, with Unix line ends and no trailing newline."""
    header, _, body = raw.partition(b"\n")
    header = header.rstrip(b"\r")
    if header != HEADER_LINE:
        found = header.decode("utf-8", errors="replace")
        raise MarketDataError(f"{path}: header must be {','.join(HEADER)}, found {found}")
    return (body.replace(b"\r\n", b"\n") if b"\r" in body else body).rstrip(b"\n")


def _ascending(path: Path, dates: Array) -> Array:
    if not strictly_ascending(dates):
        raise MarketDataError(f"{path}: dates must be unique and ascending")
    return dates


class LazyDailyBars(DailyBars):
    """DailyBars whose open, high, low and volume are parsed on first use, from the file read again: the
    text is not kept in memory (a strategy reads closes only). The file must still hold the bytes read
    first (their CRC-32 is kept): a file rewritten since is a MarketDataError, never a mix of two files."""

    __slots__ = ("_crc", "_path", "_rows")

    def __getattr__(self, name: str) -> Any:
        # only reached while a column slot is unset (normal lookup failed)
        if name not in _LAZY_COLUMNS:
            raise AttributeError(name)
        path: Path = self._path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise MarketDataError(f"{path}: cannot read bars: {exc}") from exc
        if zlib.crc32(raw) != self._crc:
            raise MarketDataError(f"{path}: the file changed after its dates and closes were read; read it again")
        body = _body_of(path, raw)
        columns = _parse_columns(path, body, (1, 2, 3, 5))[: self._rows] if body else np.empty((0, 4))
        for column, values_of in zip(_LAZY_COLUMNS, columns.T, strict=True):
            object.__setattr__(self, column, np.ascontiguousarray(values_of))
        object.__setattr__(self, "_crc", None)
        return object.__getattribute__(self, name)

    def until(self, end: date | None) -> DailyBars:
        if end is None or not len(self.dates) or self.dates[-1] <= np.datetime64(end, "D"):
            return self
        if self._crc is None:  # already parsed: a plain cut
            return DailyBars.until(self, end)
        cut = int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        return self._new(self._path, self._crc, self.dates[:cut], self.close[:cut])

    @classmethod
    def _new(cls, path: Path, crc: int, dates: Array, close: Array) -> LazyDailyBars:
        bars = object.__new__(cls)
        for name, value in (("dates", dates), ("close", close), ("_path", path), ("_crc", crc)):
            object.__setattr__(bars, name, value)
        object.__setattr__(bars, "_rows", len(dates))
        return bars

    @classmethod
    def parse(cls, path: Path, raw: bytes) -> LazyDailyBars:
        body = _body_of(path, raw)
        crc = zlib.crc32(raw)
        if not body:
            return cls._new(path, crc, np.array([], dtype="datetime64[D]"), np.array([], dtype=np.float64))
        dates = _ascending(path, _check_and_parse_dates(path, body))
        close = np.ascontiguousarray(_parse_columns(path, body, (4,))[:, 0])
        return cls._new(path, crc, dates, close)


def parse_csv_bars(name: Path, raw: bytes) -> DailyBars:
    """Bars from a CSV file's bytes (the same checks as read_csv_bars), every column parsed now, in one pass:
    for bytes that are not a file to read again (the datalake's `daily.csv` from S3). `name` is for messages."""
    body = _body_of(name, raw)
    if not body:
        empty = np.array([], dtype=np.float64)
        return DailyBars(np.array([], dtype="datetime64[D]"), empty, empty, empty, empty, empty)
    dates = _ascending(name, _check_and_parse_dates(name, body))
    columns = _parse_columns(name, body, (1, 2, 3, 4, 5))[: len(dates)]
    opens, highs, lows, closes, volumes = (np.ascontiguousarray(values) for values in columns.T)
    return DailyBars(dates, opens, highs, lows, closes, volumes)


def read_csv_bars(path: Path) -> DailyBars:
    """One CSV file's bars (see the module docstring); MarketDataError naming the file when it is bad."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MarketDataError(f"{path}: cannot read bars: {exc}") from exc
    return LazyDailyBars.parse(path, raw)


def _number(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def bars_to_csv(bars: DailyBars | pd.DataFrame) -> bytes:
    """Bars in dsl.md's format, floats in their shortest round-trip form (integral ones without `.0`), so
    reading and writing again gives the same bytes."""
    bars = as_daily_bars(bars)
    out = io.StringIO()
    out.write(",".join(HEADER) + "\n")
    columns = [getattr(bars, name).tolist() for name in BAR_COLUMNS]
    for day, *values in zip(np.datetime_as_string(bars.dates, unit="D").tolist(), *columns, strict=True):
        out.write(day + "," + ",".join(map(_number, values)) + "\n")
    return out.getvalue().encode("ascii")


def write_atomically(path: Path, content: bytes) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


class CsvDirectoryMarketData:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, DailyBars] = {}

    def path_for(self, symbol: str) -> Path:
        return self.directory / csv_file_name(symbol)

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, DailyBars]:
        if not self.directory.is_dir():
            raise MarketDataError(f"market data directory not found: {self.directory}")
        missing = [s for s in symbols if not self.path_for(s).is_file()]
        if missing:
            raise MissingMarketDataError(missing)
        out: dict[str, DailyBars] = {}
        for symbol in symbols:
            bars = self._cache.get(symbol)
            if bars is None:
                bars = read_csv_bars(self.path_for(symbol))
                if not len(bars):  # a header and no bars: no series at all
                    raise MissingMarketDataError([symbol])
                self._cache[symbol] = bars
            out[symbol] = bars.until(end)
        return out

    def write(self, symbol: str, bars: DailyBars | pd.DataFrame) -> Path:
        """Write bars in the same format (used by tools and tests that prepare a data directory)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(symbol)
        write_atomically(path, bars_to_csv(bars))
        self._cache.pop(symbol, None)
        return path
