"""Flat Parquet: the datalake's objects written and read with numpy and cramjam alone (no pandas).

The subset written, which every Parquet reader reads (fastparquet and pyarrow are tested against it): one
row group, REQUIRED columns (no definition or repetition levels), one v1 data page per column, PLAIN
encoding, ZSTD compression; INT32 with converted type DATE (days since 1970-01-01) or DOUBLE; string
key-value metadata in the footer. The footer is Thrift's compact protocol, of which `_Writer` and `_Reader`
cover the types Parquet's FileMetaData uses.

`read` accepts exactly that subset (any codec this module can undo: ZSTD or none) and raises
`NotFlatParquet` for anything else, such as the objects fastparquet or pyarrow wrote before (optional
columns, dictionary pages, several pages): the caller reads those through fastparquet. `key_value_metadata`
reads the footer alone. Format: https://github.com/apache/parquet-format (parquet.thrift)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import cramjam
import numpy as np
import numpy.typing as npt

MAGIC = b"PAR1"
CREATED_BY = "the_alchemiser flat_parquet 1"
# parquet.thrift enums
INT32, INT64, DOUBLE = 1, 2, 5
REQUIRED = 0
CONVERTED_DATE = 6
PLAIN, RLE = 0, 3
UNCOMPRESSED, ZSTD = 0, 6
DATA_PAGE = 0
# Thrift compact protocol types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_DTYPES: dict[int, np.dtype[Any]] = {INT32: np.dtype("<i4"), INT64: np.dtype("<i8"), DOUBLE: np.dtype("<f8")}
_LEVEL = 3  # zstd level: these objects are small, and written once a day


class NotFlatParquet(ValueError):
    """The bytes are not Parquet in the subset this module reads (see the module docstring)."""


class _Writer:
    """Thrift compact protocol, the parts FileMetaData needs: a struct is a list of (field id, type, value)."""

    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, value: int) -> None:
        while value > 0x7F:
            self.out.append((value & 0x7F) | 0x80)
            value >>= 7
        self.out.append(value)

    def zigzag(self, value: int) -> None:
        self.varint((value << 1) ^ (value >> 63))

    def binary(self, value: bytes) -> None:
        self.varint(len(value))
        self.out += value

    def value(self, kind: int, value: Any) -> None:
        if kind in (_I16, _I32, _I64):
            self.zigzag(value)
        elif kind == _BINARY:
            self.binary(value.encode() if isinstance(value, str) else value)
        elif kind == _STRUCT:
            self.struct(value)
        elif kind == _LIST:
            element, items = value
            size = len(items)
            self.out.append((size << 4 | element) if size < 15 else (0xF0 | element))
            if size >= 15:
                self.varint(size)
            for item in items:
                self.value(element, item)
        else:
            raise TypeError(f"thrift type {kind} is not written here")

    def struct(self, fields: Sequence[tuple[int, int, Any]]) -> None:
        last = 0
        for field_id, kind, value in fields:
            if value is None:
                continue
            delta = field_id - last
            if 0 < delta <= 15:
                self.out.append(delta << 4 | kind)
            else:
                self.out.append(kind)
                self.zigzag(field_id)
            self.value(kind, value)
            last = field_id
        self.out.append(0)


class _Reader:
    """Thrift compact protocol to nested dicts: {field id: value}; lists as Python lists."""

    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data = data
        self.at = offset

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise NotFlatParquet("the footer ends inside a value")
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise NotFlatParquet("a varint is too long")

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> Any:
        if kind in (_TRUE, _FALSE):  # a bool inside a list: one byte
            return self.byte() == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            self.at += 8
            return struct.unpack_from("<d", self.data, self.at - 8)[0]
        if kind == _BINARY:
            size = self.varint()
            self.at += size
            if self.at > len(self.data):
                raise NotFlatParquet("a string runs past the footer")
            return bytes(self.data[self.at - size : self.at])
        if kind in (_LIST, _SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return [self.value(element) for _ in range(size)]
        if kind == _MAP:
            size = self.varint()
            if not size:
                return {}
            kinds = self.byte()
            return {self.value(kinds >> 4): self.value(kinds & 0x0F) for _ in range(size)}
        if kind == _STRUCT:
            return self.struct()
        raise NotFlatParquet(f"unknown thrift type {kind}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            kind, delta = header & 0x0F, header >> 4
            field_id = last + delta if delta else self.zigzag()
            fields[field_id] = kind == _TRUE if kind in (_TRUE, _FALSE) else self.value(kind)
            last = field_id


def write(columns: Sequence[tuple[str, npt.NDArray[Any]]], metadata: dict[str, str] | None = None) -> bytes:
    """One Parquet file of equal-length columns: datetime64[D] as DATE, anything else as DOUBLE."""
    rows = len(columns[0][1]) if columns else 0
    out = bytearray(MAGIC)
    schema: list[Any] = [[(4, _BINARY, "schema"), (5, _I32, len(columns))]]
    chunks: list[Any] = []
    uncompressed_total = 0
    for name, values in columns:
        if len(values) != rows:
            raise ValueError(f"column {name} has {len(values)} values, not {rows}")
        if np.issubdtype(values.dtype, np.datetime64):
            kind, converted = INT32, CONVERTED_DATE
            plain = values.astype("datetime64[D]").astype("<i4").tobytes()
        else:
            kind, converted = DOUBLE, None
            plain = np.ascontiguousarray(values, dtype="<f8").tobytes()
        schema.append([(1, _I32, kind), (3, _I32, REQUIRED), (4, _BINARY, name), (6, _I32, converted)])
        page = bytes(cramjam.zstd.compress(plain, level=_LEVEL))
        header = _Writer()
        # no level bytes follow (REQUIRED, flat), but readers expect the level encodings every writer names
        data_page = [(1, _I32, rows), (2, _I32, PLAIN), (3, _I32, RLE), (4, _I32, RLE)]
        header.struct([(1, _I32, DATA_PAGE), (2, _I32, len(plain)), (3, _I32, len(page)), (5, _STRUCT, data_page)])
        offset = len(out)
        out += header.out + page
        chunk_size, uncompressed = len(header.out) + len(page), len(header.out) + len(plain)
        meta = [
            (1, _I32, kind),
            (2, _LIST, (_I32, [PLAIN])),
            (3, _LIST, (_BINARY, [name])),
            (4, _I32, ZSTD),
            (5, _I64, rows),
            (6, _I64, uncompressed),
            (7, _I64, chunk_size),
            (9, _I64, offset),
        ]
        chunks.append([(2, _I64, offset), (3, _STRUCT, meta)])
        uncompressed_total += uncompressed
    row_group = [
        (1, _LIST, (_STRUCT, chunks)),
        (2, _I64, uncompressed_total),
        (3, _I64, rows),
    ]
    pairs = [[(1, _BINARY, key), (2, _BINARY, value)] for key, value in (metadata or {}).items()]
    footer = _Writer()
    footer.struct(
        [
            (1, _I32, 1),
            (2, _LIST, (_STRUCT, schema)),
            (3, _I64, rows),
            (4, _LIST, (_STRUCT, [row_group])),
            (5, _LIST, (_STRUCT, pairs)) if pairs else (5, _LIST, None),
            (6, _BINARY, CREATED_BY),
        ]
    )
    out += footer.out + struct.pack("<I", len(footer.out)) + MAGIC
    return bytes(out)


def _footer(body: bytes) -> dict[int, Any]:
    if len(body) < 12 or body[:4] != MAGIC or body[-4:] != MAGIC:
        raise NotFlatParquet("not a Parquet file (no PAR1 at both ends)")
    (size,) = struct.unpack_from("<I", body, len(body) - 8)
    start = len(body) - 8 - size
    if start < 4:
        raise NotFlatParquet("the footer's length is past the file's start")
    return _Reader(body, start).struct()


def key_value_metadata(body: bytes) -> dict[str, str]:
    """The footer's key-value metadata of any Parquet file (the footer alone is read)."""
    try:
        pairs = _footer(body).get(5) or []
        return {pair[1].decode(): (pair.get(2) or b"").decode() for pair in pairs}
    except NotFlatParquet:
        raise
    except Exception as exc:
        raise NotFlatParquet(f"broken Parquet footer: {type(exc).__name__}: {exc}") from exc


def read(body: bytes) -> tuple[dict[str, npt.NDArray[Any]], dict[str, str]]:
    """The columns (name -> array: DATE as datetime64[D], INT64, DOUBLE) and footer metadata of a file in
    this module's subset; NotFlatParquet naming what is outside it (or broken) otherwise."""
    try:
        return _read(body)
    except NotFlatParquet:
        raise
    except Exception as exc:  # bytes that end early, a field of the wrong type, a page that will not inflate
        raise NotFlatParquet(f"broken Parquet: {type(exc).__name__}: {exc}") from exc


def _read(body: bytes) -> tuple[dict[str, npt.NDArray[Any]], dict[str, str]]:
    footer = _footer(body)
    schema, rows, groups = footer.get(2) or [], int(footer.get(3, -1)), footer.get(4) or []
    if len(groups) != 1:
        raise NotFlatParquet(f"{len(groups)} row groups, not one")
    leaves = schema[1:]
    if not schema or schema[0].get(5) != len(leaves):
        raise NotFlatParquet("not a flat schema")
    chunks = groups[0].get(1) or []
    if len(chunks) != len(leaves):
        raise NotFlatParquet("the row group's columns differ from the schema's")
    columns: dict[str, npt.NDArray[Any]] = {}
    for leaf, chunk in zip(leaves, chunks, strict=True):
        name, kind = leaf[4].decode(), leaf.get(1)
        meta = chunk.get(3) or {}
        if leaf.get(3) != REQUIRED or kind not in _DTYPES or meta.get(1) != kind:
            raise NotFlatParquet(f"column {name}: not a required INT32, INT64 or DOUBLE column")
        if set(meta.get(2) or []) != {PLAIN} or meta.get(11) is not None:
            raise NotFlatParquet(f"column {name}: not PLAIN-encoded alone")
        codec = meta.get(4)
        if codec not in (UNCOMPRESSED, ZSTD):
            raise NotFlatParquet(f"column {name}: codec {codec}")
        page_offset, chunk_size = int(meta.get(9, -1)), int(meta.get(7, -1))
        reader = _Reader(body, page_offset)
        if not 4 <= reader.at < len(body):
            raise NotFlatParquet(f"column {name}: its page is outside the file")
        header = reader.struct()
        page = header.get(5) or {}
        if header.get(1) != DATA_PAGE or page.get(1) != rows or page.get(2) != PLAIN:
            raise NotFlatParquet(f"column {name}: not one PLAIN data page of every row")
        if reader.at + header.get(3, -1) != page_offset + chunk_size:
            raise NotFlatParquet(f"column {name}: more than one page")
        raw = body[reader.at : reader.at + header[3]]
        plain = bytes(cramjam.zstd.decompress(raw)) if codec == ZSTD else raw
        dtype = _DTYPES[kind]
        if len(plain) != rows * dtype.itemsize:
            raise NotFlatParquet(f"column {name}: {len(plain)} bytes for {rows} rows")
        values = np.frombuffer(plain, dtype=dtype)
        if kind == INT32 and leaf.get(6) == CONVERTED_DATE:
            values = values.astype("datetime64[D]")
        columns[name] = values.astype(values.dtype.newbyteorder("="))
    return columns, key_value_metadata(body)
