"""The daily-bar datalake in S3: one Parquet object per symbol at `<prefix><SYMBOL>/daily.parquet`.

Columns: date, open, high, low, close, volume, adjusted.
- open/high/low/close/volume are the bars as traded (Alpaca `adjustment=raw`);
- adjusted is the close adjusted for splits and dividends (Alpaca `adjustment=all`), as of the day the
  object was written. Strategies read adjusted prices (see s3_adapter); keeping the raw bars too lets a
  person check a split or dividend against the tape.
Object metadata (S3 user metadata, strings): first-bar-date, last-bar-date, row-count, schema-version,
so freshness is known from a HEAD or a listing's ETag without reading the body.

`/` in a symbol is written as `.` in the key (`BRK/B` -> `BRK.B/daily.parquet`), as in the CSV format.
One writer per bucket (the data-refresh function, reserved concurrency 1); readers never see a partial
object because S3 PUTs are atomic."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from the_alchemiser.shared.market_data.port import MarketDataError

DATALAKE_COLUMNS = ("open", "high", "low", "close", "volume", "adjusted")
OBJECT_NAME = "daily.parquet"
SCHEMA_VERSION = "1"
CONTENT_TYPE = "application/vnd.apache.parquet"

_SCHEMA = pa.schema(
    [("date", pa.date32())] + [(name, pa.float64()) for name in DATALAKE_COLUMNS],
)


class DatalakeError(MarketDataError):
    """An object in the datalake is unreadable or a frame cannot be stored."""


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


def validate_bars(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in the datalake's shape: sorted unique tz-naive dates named `date`, float columns in order,
    positive prices. Raises DatalakeError naming the symbol otherwise."""
    missing = [c for c in DATALAKE_COLUMNS if c not in frame.columns]
    if missing:
        raise DatalakeError(f"{symbol}: bars lack columns {missing}")
    if len(frame) == 0:
        raise DatalakeError(f"{symbol}: no bars to store")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        raise DatalakeError(f"{symbol}: bar dates must be tz-naive dates")
    out = frame.loc[:, list(DATALAKE_COLUMNS)].astype(np.float64)
    out.index = index.normalize().rename("date")
    if not out.index.is_monotonic_increasing or not out.index.is_unique:
        raise DatalakeError(f"{symbol}: bar dates must be unique and ascending")
    prices = out[["open", "high", "low", "close", "adjusted"]].to_numpy()
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise DatalakeError(f"{symbol}: prices must be finite and positive")
    if not np.isfinite(out["volume"].to_numpy()).all():
        raise DatalakeError(f"{symbol}: volume must be finite")
    return out


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    columns: dict[str, Any] = {"date": pa.array(frame.index.values.astype("datetime64[D]"), type=pa.date32())}
    columns |= {name: pa.array(frame[name].to_numpy(dtype=np.float64)) for name in DATALAKE_COLUMNS}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, schema=_SCHEMA), buffer, compression="zstd")
    return buffer.getvalue()


def parquet_to_frame(symbol: str, body: bytes) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowException, OSError) as exc:
        raise DatalakeError(f"{symbol}: unreadable Parquet object: {exc}") from exc
    names = set(table.column_names)
    if "date" not in names or not set(DATALAKE_COLUMNS) <= names:
        raise DatalakeError(f"{symbol}: Parquet object has columns {sorted(names)}")
    dates = np.asarray(table.column("date").to_numpy(zero_copy_only=False), dtype="datetime64[D]")
    frame = pd.DataFrame(
        {
            name: np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
            for name in DATALAKE_COLUMNS
        },
        index=pd.DatetimeIndex(dates.astype("datetime64[ns]"), name="date"),
    )
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise DatalakeError(f"{symbol}: stored bar dates are not unique and ascending")
    return frame


class Datalake:
    """Read and write per-symbol bar objects through a boto3 S3 client."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "") -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix

    def key_for(self, symbol: str) -> str:
        return f"{self.prefix}{symbol_to_key_part(symbol)}/{OBJECT_NAME}"

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
        try:
            response = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return self._info(symbol, key, response["ETag"], response.get("Metadata", {}))

    def read(self, symbol: str) -> tuple[pd.DataFrame, StoredBarsInfo] | None:
        """The symbol's bars and their object info, or None when the symbol has no object."""
        key = self.key_for(symbol)
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        body = response["Body"].read()
        info = self._info(symbol, key, response["ETag"], response.get("Metadata", {}))
        frame = parquet_to_frame(symbol, body)
        if len(frame) != info.row_count or frame.index[-1].date() != info.last_bar:
            raise DatalakeError(f"{symbol}: object {key} disagrees with its metadata")
        return frame, info

    def write(self, symbol: str, frame: pd.DataFrame) -> StoredBarsInfo:
        """Replace the symbol's object with `frame` (the whole history)."""
        bars = validate_bars(symbol, frame)
        key = self.key_for(symbol)
        metadata = {
            "first-bar-date": bars.index[0].date().isoformat(),
            "last-bar-date": bars.index[-1].date().isoformat(),
            "row-count": str(len(bars)),
            "schema-version": SCHEMA_VERSION,
        }
        response = self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=frame_to_parquet(bars),
            ContentType=CONTENT_TYPE,
            Metadata=metadata,
        )
        return self._info(symbol, key, response["ETag"], metadata)

    def listing(self) -> Iterator[tuple[str, str]]:
        """(key, ETag) of every bar object under the prefix: one request per 1000 objects."""
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/" + OBJECT_NAME):
                    yield key, item["ETag"]

    def stored_symbols(self) -> list[str]:
        """Key names of the stored symbols (`BRK.B` for `BRK/B`)."""
        return sorted(key[len(self.prefix) : -len(OBJECT_NAME) - 1] for key, _ in self.listing())


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is None:
        code = response.get("Error", {}).get("Code")
        return 404 if code in ("404", "NoSuchKey", "NotFound") else None
    return int(status)
