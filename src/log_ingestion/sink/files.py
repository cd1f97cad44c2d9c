"""Parquet files of one window: rows buffered into row groups, encoded, written to temps.

A file's schema is fixed once its first row group is written; a batch that widens it
ends that file and starts the next (readers unify schemas). Nothing here publishes: the
finished temps are handed to the journal (`publish`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from log_ingestion.sink.naming import DAY_MS, day_of
from log_ingestion.sink.schema import (
    TIMESTAMP_COLUMN,
    big_int_columns,
    conform,
    for_file,
    unify,
    unify_exact,
)
from log_ingestion.sink.storage import Storage

# zstd's own default level: Arrow's default (1) leaves a quarter of the size on the table
DEFAULT_LEVELS = {"zstd": 3}


def delta_columns(schema: pa.Schema) -> list[str]:
    """Columns that only grow (event time, sequence numbers, parsed timestamps).

    Delta encoding stores them in a few bits per row; dictionaries would not help.
    """
    return [
        field.name
        for field in schema
        if field.name == "sequence_number" or pa.types.is_timestamp(field.type)
    ]


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Every other column but the raw `message`, which is nearly always unique."""
    skipped = {*delta_columns(schema), "message"}
    return [field.name for field in schema if field.name not in skipped]


@dataclass(frozen=True, slots=True)
class FileOptions:
    compression: str
    row_group_rows: int
    compression_level: int | None = None


@dataclass(frozen=True, slots=True)
class TempFile:
    """A finished temp file, relative to the table directory: its UTC day and number (which
    name the file it becomes), its rows and bytes."""

    temp: str
    day: int
    number: int
    rows: int
    bytes: int


def split_by_day(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """The rows of each UTC day the table's timestamps touch (one slice, no copy, for most)."""
    millis = table.column(TIMESTAMP_COLUMN).cast(pa.int64())
    bounds = pc.min_max(millis)
    days = range(day_of(bounds["min"].as_py()), day_of(bounds["max"].as_py()) + 1)
    if len(days) == 1:
        yield days[0], table
        return
    for day in days:
        inside = pc.and_(
            pc.greater_equal(millis, day * DAY_MS), pc.less(millis, (day + 1) * DAY_MS)
        )
        rows = table.filter(inside)
        if rows.num_rows:
            yield day, rows


class DayFiles:
    """One UTC day of a window: rows buffered into row groups, written to temp files.

    A file's schema is fixed once it is opened; a batch that widens it ends that file and
    starts the next. Before the first row group is written the schema is still free, so
    columns that appear early cost no extra file.
    """

    def __init__(
        self,
        storage: Storage,
        options: FileOptions,
        day: int,
        next_names: Callable[[], tuple[str, str, int]],
    ) -> None:
        self._storage = storage
        self._options = options
        self._next_names = next_names
        self._day = day
        self._schema: pa.Schema | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._file: _ParquetTemp | None = None
        self._done: list[TempFile] = []
        # integer columns that held values a float64 would round: they widen to string
        self._big_ints: set[str] = set()

    def add(self, rows: pa.Table) -> None:
        rows = self._conformed(rows)
        self._buffer.append(rows)
        self._buffered += rows.num_rows
        if self._buffered >= self._options.row_group_rows:
            self._flush(everything=False)

    def finish(self) -> list[TempFile]:
        self._flush(everything=True)
        self._close()
        return self._done

    def close_quietly(self) -> None:
        if self._file is not None:
            self._file.close_quietly()
            self._file = None

    def _conformed(self, rows: pa.Table) -> pa.Table:
        self._big_ints |= big_int_columns(rows)
        if self._schema is None:
            self._schema = unify([rows.schema])
        elif not rows.schema.equals(self._schema):
            unified = unify_exact([self._schema, rows.schema], self._big_ints)
            if not unified.equals(self._schema):
                self._widen(unified)
        return conform(rows, self._schema)

    def _widen(self, schema: pa.Schema) -> None:
        if self._file is not None:
            self._flush(everything=True)
            self._close()
        self._set_schema(schema)

    def _set_schema(self, schema: pa.Schema) -> None:
        self._schema = schema
        self._buffer = [conform(rows, schema) for rows in self._buffer]

    def _flush(self, *, everything: bool) -> None:
        if not self._buffered:
            return
        file = self._file or self._open()
        data = pa.concat_tables(self._buffer)
        keep = 0 if everything else data.num_rows % self._options.row_group_rows
        file.write(data.slice(0, data.num_rows - keep))
        self._buffer = [data.slice(data.num_rows - keep)] if keep else []
        self._buffered = keep

    def _open(self) -> _ParquetTemp:
        assert self._schema is not None  # rows were added before any flush
        self._set_schema(for_file(self._schema))
        path, temp, number = self._next_names()
        name = TempFile(temp, self._day, number, 0, 0)
        self._file = _ParquetTemp(self._storage, path, name, self._schema, self._options)
        return self._file

    def _close(self) -> None:
        if self._file is not None:
            self._done.append(self._file.close())
            self._file = None


def write_temp(
    storage: Storage, path: str, name: TempFile, rows: pa.Table, options: FileOptions
) -> TempFile:
    """A whole table as one temp file (the rows a publish carries over from an older file)."""
    schema = for_file(rows.schema)
    temp = _ParquetTemp(storage, path, name, schema, options)
    try:
        temp.write(conform(rows, schema))
        return temp.close()
    except Exception:
        temp.close_quietly()
        raise


class _ParquetTemp:
    """One Parquet temp file being written through `pyarrow.parquet.ParquetWriter`."""

    def __init__(
        self,
        storage: Storage,
        path: str,
        name: TempFile,
        schema: pa.Schema,
        options: FileOptions,
    ) -> None:
        self._storage = storage
        self._path, self._name = path, name
        self._row_group_rows = options.row_group_rows
        self._rows = 0
        self._stream = storage.open_output(path)
        try:
            self._writer = pq.ParquetWriter(
                self._stream,
                schema,
                compression=options.compression,
                compression_level=options.compression_level,
                use_dictionary=dictionary_columns(schema),
                column_encoding=dict.fromkeys(delta_columns(schema), "DELTA_BINARY_PACKED"),
                version="2.6",
                data_page_version="1.0",  # the page format every reader knows
                write_statistics=True,
            )
        except Exception:
            # the writer writes the file's header as it opens: nobody else can close it now
            with contextlib.suppress(OSError):
                self._stream.close()
            raise

    def write(self, rows: pa.Table) -> None:
        self._writer.write_table(rows, row_group_size=self._row_group_rows)
        self._rows += rows.num_rows

    def close(self) -> TempFile:
        self._writer.close()
        self._stream.close()
        return replace(self._name, rows=self._rows, bytes=self._storage.size(self._path))

    def close_quietly(self) -> None:
        for close in (self._writer.close, self._stream.close):
            with contextlib.suppress(OSError):  # the file is deleted next; its end does not matter
                close()
