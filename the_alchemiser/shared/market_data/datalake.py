"""The daily-bar datalake: one Parquet object per symbol at `<prefix><SYMBOL>/daily.parquet`, in S3 or in a
local directory of the same layout (what `data fetch --format parquet` writes; `aws s3 sync` either way).

Columns: date, open, high, low, close, volume, adjusted.
- open/high/low/close/volume are the bars as traded (Alpaca `adjustment=raw`);
- adjusted is the close adjusted for splits and dividends (Alpaca `adjustment=all`), as of the day the
  object was written. Strategies read adjusted prices (`adjusted_daily_bars`); keeping the raw bars too lets
  a person check a split or dividend against the tape.
Metadata (strings): first-bar-date, last-bar-date, row-count, schema-version, in the Parquet footer's
key-value metadata and, in S3, also as object user metadata, so freshness is known from a HEAD or a
listing's ETag without reading the body.

Parquet without pyarrow (118 MB of the layer for these small files) or pandas: schema 3 objects are written
and read by `flat_parquet` (numpy and cramjam, zstd; `date` as a DATE column). Objects written before (schema
2 by fastparquet, `date` a timestamp at midnight; schema 1 by pyarrow, `date32`) are read through fastparquet
(which imports pandas: only for such an object, and the next refresh of the symbol rewrites it as schema 3).

Beside each Parquet object, `<SYMBOL>/daily.csv` holds the same bars adjusted (what `StoredBars.adjusted_bars`
gives, in dsl.md's CSV format, floats in their shortest round-trip form, so exactly equal): the strategy
worker reads it with the numpy CSV reader. `write` puts the CSV
first, then the Parquet object, so a write cut between the two leaves the CSV newer, never older, than the
Parquet object (the refresh reads the Parquet object and rewrites both). A symbol without the CSV copy (a
datalake written before it existed) is read from its Parquet object.

`/` in a symbol is written as `.` in the key (`BRK/B` -> `BRK.B/daily.parquet`), as in the CSV format.
One writer per bucket (the data-refresh function, reserved concurrency 1); readers never see a partial
object because S3 PUTs (and the directory's rename) are atomic."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from the_alchemiser.shared.market_data import flat_parquet
from the_alchemiser.shared.market_data.bars import DailyBars, strictly_ascending
from the_alchemiser.shared.market_data.csv_directory import bars_to_csv, parse_csv_bars, write_atomically
from the_alchemiser.shared.market_data.port import MarketDataError
from the_alchemiser.shared.market_data.stored_bars import DATALAKE_COLUMNS, DatalakeError, StoredBars

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATALAKE_COLUMNS", "Datalake", "DatalakeError", "StoredBars", "StoredBarsInfo"]

OBJECT_NAME = "daily.parquet"
SCHEMA_VERSION = "3"
CONTENT_TYPE = "application/vnd.apache.parquet"
CSV_OBJECT_NAME = "daily.csv"  # the adjusted bars beside the Parquet object, read without pandas
CSV_CONTENT_TYPE = "text/csv"
METADATA_KEYS = ("first-bar-date", "last-bar-date", "row-count", "schema-version")


@dataclass(frozen=True)
class StoredBarsInfo:
    """What the datalake knows about one symbol's object without reading its bars."""

    symbol: str
    key: str
    etag: str
    first_bar: date
    last_bar: date
    row_count: int


def symbol_to_key_part(symbol: str) -> str:
    return symbol.replace("/", ".")


def to_parquet(bars: StoredBars, metadata: dict[str, str] | None = None) -> bytes:
    """Validated bars as one schema-3 Parquet object with `metadata` in its footer."""
    columns = [("date", bars.dates), *((name, getattr(bars, name)) for name in DATALAKE_COLUMNS)]
    return flat_parquet.write(columns, metadata)


def from_parquet(symbol: str, body: bytes) -> StoredBars:
    """A Parquet object's bars: schema 3 by `flat_parquet`, anything else through fastparquet."""
    try:
        columns, _ = flat_parquet.read(body)
    except flat_parquet.NotFlatParquet:
        return _from_other_parquet(symbol, body)
    missing = [name for name in ("date", *DATALAKE_COLUMNS) if name not in columns]
    if missing or not np.issubdtype(columns["date"].dtype, np.datetime64):
        raise DatalakeError(f"{symbol}: Parquet object has columns {sorted(columns)}")
    bars = StoredBars(columns["date"], *(columns[name].astype(np.float64) for name in DATALAKE_COLUMNS))
    return _ascending(symbol, bars)


def _ascending(symbol: str, bars: StoredBars) -> StoredBars:
    if not strictly_ascending(bars.dates):
        raise DatalakeError(f"{symbol}: stored bar dates are not unique and ascending")
    return bars


def _parquet_file(symbol: str, source: Any) -> Any:
    import fastparquet

    try:
        return fastparquet.ParquetFile(source)
    except Exception as exc:  # fastparquet raises whatever the bytes provoke: all mean "not our Parquet"
        raise DatalakeError(f"{symbol}: unreadable Parquet object: {type(exc).__name__}: {exc}") from exc


def _from_other_parquet(symbol: str, body: bytes) -> StoredBars:
    """An object fastparquet (schema 2) or pyarrow (schema 1) wrote; imports pandas."""
    parquet = _parquet_file(symbol, io.BytesIO(body))
    names = set(parquet.columns)
    if "date" not in names or not set(DATALAKE_COLUMNS) <= names:
        raise DatalakeError(f"{symbol}: Parquet object has columns {sorted(names)}")
    try:
        table = parquet.to_pandas(columns=["date", *DATALAKE_COLUMNS], index=False)
    except Exception as exc:
        raise DatalakeError(f"{symbol}: unreadable Parquet object: {type(exc).__name__}: {exc}") from exc
    dates = np.asarray(table["date"].to_numpy(), dtype="datetime64[D]")
    return _ascending(symbol, StoredBars(dates, *(table[name].to_numpy(dtype=np.float64) for name in DATALAKE_COLUMNS)))


def footer_metadata(symbol: str, body: bytes) -> dict[str, str]:
    """The key-value metadata in a Parquet object's footer."""
    try:
        return flat_parquet.key_value_metadata(body)
    except flat_parquet.NotFlatParquet:
        return dict(_parquet_file(symbol, io.BytesIO(body)).key_value_metadata or {})


class _Objects(Protocol):
    """Where the datalake's objects live: an S3 bucket or a local directory."""

    def head(self, key: str) -> tuple[str, dict[str, str]] | None: ...

    def get(self, key: str) -> tuple[bytes, str, dict[str, str]] | None: ...

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str = CONTENT_TYPE) -> str: ...

    def listing(self, prefix: str) -> Iterator[tuple[str, str]]: ...


class _S3Objects:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self.s3 = s3_client
        self.bucket = bucket

    def head(self, key: str) -> tuple[str, dict[str, str]] | None:
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return response["ETag"], response.get("Metadata", {})

    def get(self, key: str) -> tuple[bytes, str, dict[str, str]] | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return response["Body"].read(), response["ETag"], response.get("Metadata", {})

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str = CONTENT_TYPE) -> str:
        response = self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata
        )
        return str(response["ETag"])

    def listing(self, prefix: str) -> Iterator[tuple[str, str]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["ETag"]


class _DirectoryObjects:
    """Objects as files under a directory; the metadata is the Parquet footer's (a synced copy of an S3
    datalake has none there: the bars themselves tell it then). A CSV copy has none: its bars tell it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _etag(path: Path) -> str:
        stat = path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def _metadata(self, key: str, path: Path, body: bytes | None = None) -> dict[str, str]:
        body = path.read_bytes() if body is None else body
        found = {k: v for k, v in footer_metadata(key, body).items() if k in METADATA_KEYS}
        if {"first-bar-date", "last-bar-date", "row-count"} <= set(found):
            return found
        # written without it in the footer (pyarrow's schema 1, synced from S3): the bars tell it
        return _metadata_of(from_parquet(key, body), found.get("schema-version", "1"))

    def head(self, key: str) -> tuple[str, dict[str, str]] | None:
        path = self.root / key
        if not path.is_file():
            return None
        return self._etag(path), self._metadata(key, path) if key.endswith(OBJECT_NAME) else {}

    def get(self, key: str) -> tuple[bytes, str, dict[str, str]] | None:
        path = self.root / key
        if not path.is_file():
            return None
        body = path.read_bytes()
        return body, self._etag(path), self._metadata(key, path, body) if key.endswith(OBJECT_NAME) else {}

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str = CONTENT_TYPE) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, body)
        return self._etag(path)

    def listing(self, prefix: str) -> Iterator[tuple[str, str]]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        paths = [*base.glob(f"*/{OBJECT_NAME}"), *base.glob(f"*/{CSV_OBJECT_NAME}")]
        for path in sorted(paths):
            yield path.relative_to(self.root).as_posix(), self._etag(path)


def _metadata_of(bars: StoredBars, schema_version: str = SCHEMA_VERSION) -> dict[str, str]:
    return {
        "first-bar-date": bars.first_date.isoformat(),
        "last-bar-date": bars.last_date.isoformat(),
        "row-count": str(len(bars)),
        "schema-version": schema_version,
    }


class Datalake:
    """Read and write per-symbol bar objects in an S3 bucket (`Datalake(s3_client, bucket, prefix)`) or a
    local directory (`Datalake.in_directory(path)`)."""

    keeps_raw_bars = True  # the refresh's BarStore: raw bars and the adjusted close

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "", *, objects: _Objects | None = None) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix
        self.objects: _Objects = objects or _S3Objects(s3_client, bucket)

    @classmethod
    def in_directory(cls, directory: str | Path) -> Datalake:
        root = Path(directory)
        return cls(None, "", objects=_DirectoryObjects(root))

    @property
    def location(self) -> str:
        if isinstance(self.objects, _DirectoryObjects):
            return str(self.objects.root)
        return f"s3://{self.bucket}/{self.prefix}"

    def key_for(self, symbol: str) -> str:
        return f"{self.prefix}{symbol_to_key_part(symbol)}/{OBJECT_NAME}"

    def csv_key_for(self, symbol: str) -> str:
        """The symbol's CSV copy of its adjusted bars (see the module docstring)."""
        return f"{self.prefix}{symbol_to_key_part(symbol)}/{CSV_OBJECT_NAME}"

    def url_for(self, symbol: str) -> str:
        """Where the symbol's object is, for people: a file path or an s3:// URL."""
        if isinstance(self.objects, _DirectoryObjects):
            return str(self.objects.root / self.key_for(symbol))
        return f"s3://{self.bucket}/{self.key_for(symbol)}"

    def _info(self, symbol: str, key: str, etag: str, metadata: dict[str, str]) -> StoredBarsInfo:
        try:
            return StoredBarsInfo(
                symbol=symbol,
                key=key,
                etag=etag,
                first_bar=date.fromisoformat(metadata["first-bar-date"]),
                last_bar=date.fromisoformat(metadata["last-bar-date"]),
                row_count=int(metadata["row-count"]),
            )
        except (KeyError, ValueError) as exc:
            raise DatalakeError(f"{symbol}: object {key} lacks valid bar metadata: {exc}") from exc

    def head(self, symbol: str) -> StoredBarsInfo | None:
        """The stored object's metadata, or None when the symbol has no object."""
        key = self.key_for(symbol)
        found = self.objects.head(key)
        return None if found is None else self._info(symbol, key, *found)

    def read(self, symbol: str) -> tuple[StoredBars, StoredBarsInfo] | None:
        """The symbol's bars and their object info, or None when the symbol has no object."""
        key = self.key_for(symbol)
        found = self.objects.get(key)
        if found is None:
            return None
        body, etag, metadata = found
        info = self._info(symbol, key, etag, metadata)
        bars = from_parquet(symbol, body)
        if len(bars) != info.row_count or not len(bars) or bars.last_date != info.last_bar:
            raise DatalakeError(f"{symbol}: object {key} disagrees with its metadata")
        return bars, info

    def read_adjusted(self, symbol: str) -> tuple[DailyBars, StoredBarsInfo] | None:
        """The strategies' bars (adjusted) and the info of the object they came from, or None when the
        symbol has neither object: from the CSV copy when there is one (numpy only), else from the Parquet
        object (a datalake written before the copy existed)."""
        key = self.csv_key_for(symbol)
        found = self.objects.get(key)
        if found is None:
            stored = self.read(symbol)
            return None if stored is None else (stored[0].adjusted_bars(), stored[1])
        body, etag, metadata = found
        try:
            bars = parse_csv_bars(Path(key), body)
        except MarketDataError as exc:
            raise DatalakeError(f"{symbol}: unreadable CSV object: {exc}") from exc
        if not len(bars):
            raise DatalakeError(f"{symbol}: CSV object {key} holds no bars")
        assert bars.first_date is not None and bars.last_date is not None
        info = StoredBarsInfo(symbol, key, etag, bars.first_date, bars.last_date, len(bars))
        if "row-count" in metadata and self._info(symbol, key, etag, metadata) != info:
            raise DatalakeError(f"{symbol}: object {key} disagrees with its metadata")
        return bars, info

    def write(self, symbol: str, bars: StoredBars | pd.DataFrame) -> StoredBarsInfo:
        """Replace the symbol's objects with `bars` (the whole history): the CSV copy of the adjusted bars
        first, then the Parquet object (see the module docstring)."""
        bars = StoredBars.of(bars).validated(symbol)
        key = self.key_for(symbol)
        metadata = _metadata_of(bars)
        self.objects.put(self.csv_key_for(symbol), bars_to_csv(bars.adjusted_bars()), metadata, CSV_CONTENT_TYPE)
        etag = self.objects.put(key, to_parquet(bars, metadata), metadata)
        return self._info(symbol, key, etag, metadata)

    def read_versions(self) -> dict[str, str]:
        """For each stored symbol (by its `key_for` key), the version `read_adjusted` would read now
        (`object_version` of the CSV copy when listed, else of the Parquet object): one listing."""
        found: dict[str, str] = {}
        for key, etag in self.objects.listing(self.prefix):
            base, _, name = key.rpartition("/")
            if name == CSV_OBJECT_NAME:
                found[f"{base}/{OBJECT_NAME}"] = object_version(key, etag)
            elif name == OBJECT_NAME:
                found.setdefault(key, object_version(key, etag))
        return found

    def listing(self) -> Iterator[tuple[str, str]]:
        """(key, ETag) of every bar object under the prefix: one request per 1000 objects in S3."""
        for key, etag in self.objects.listing(self.prefix):
            if key.endswith("/" + OBJECT_NAME):
                yield key, etag

    def stored_symbols(self) -> list[str]:
        """Key names of the stored symbols (`BRK.B` for `BRK/B`)."""
        return sorted(key[len(self.prefix) : -len(OBJECT_NAME) - 1] for key, _ in self.listing())


def object_version(key: str, etag: str) -> str:
    """One object's version as the bar cache compares it (the key too: a CSV copy and a Parquet object
    are different objects)."""
    return f"{key} {etag}"


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is None:
        code = response.get("Error", {}).get("Code")
        return 404 if code in ("404", "NoSuchKey", "NotFound") else None
    return int(status)
