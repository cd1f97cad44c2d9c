"""Compaction of the Parquet folder: a date partition's small files merged into few.

Each commit adds a file per date partition it touches, so a follow service at small windows
leaves many small files, which readers open one by one. `compact_table` rewrites each
partition's files, in groups of about `target_bytes`, as one file per group, and publishes
it through the same journal as a window: the new file and the deletion of the old ones
become visible at once, and a reader never sees a partition twice or half. It holds the
table's lock per partition, so it runs beside an ingesting process (whose publishes wait
for it, and then carry rows out of the merged file where they must), and under it first
carries out the journals of interrupted publishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.files import DayFiles, TempFile
from log_ingestion.sink.naming import (
    PARTITION_KEY,
    STAGING_DIR,
    data_file_window,
    day_of,
    join,
    new_token,
    partition_dir,
    temp_file,
)
from log_ingestion.sink.parquet_dir import ParquetSink
from log_ingestion.sink.publish import Publication
from log_ingestion.sink.schema import big_int_columns, conform, unify_exact
from log_ingestion.sink.storage import storage_error

TARGET_BYTES = 128 * 1024 * 1024
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Compacted:
    """What a compaction did: partitions rewritten, files before and after, rows moved."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0

    def __add__(self, other: Compacted) -> Compacted:
        return Compacted(
            self.partitions + other.partitions,
            self.files_before + other.files_before,
            self.files_after + other.files_after,
            self.rows + other.rows,
        )


def compact_table(
    sink: ParquetSink, table: str, *, before_ms: int | None = None, target_bytes: int = TARGET_BYTES
) -> Compacted:
    """Merge the small files of each date partition before `before_ms` (all when None)."""
    table_dir = sink.table_path(table)
    done = Compacted()
    for info in sorted(sink.storage.listing(table_dir), key=lambda entry: entry.base_name):
        day = _day(info)
        if day is None or (before_ms is not None and day >= day_of(before_ms)):
            continue
        with sink.lock(table):
            # An interrupted publish leaves a window's old and new files side by side until
            # its journal is carried out: merged before that, both sets would stay.
            sink.finish_publishes(table_dir)
            done += _partition(sink, table_dir, day, target_bytes)
    return done


def _day(info: pafs.FileInfo) -> int | None:
    """The day of a `date=YYYY-MM-DD` partition folder, None for anything else."""
    if info.type != pafs.FileType.Directory or not info.base_name.startswith(f"{PARTITION_KEY}="):
        return None
    try:
        date = dt.date.fromisoformat(info.base_name.removeprefix(f"{PARTITION_KEY}="))
    except ValueError:
        return None
    return (date - EPOCH).days


def _partition(sink: ParquetSink, table_dir: str, day: int, target_bytes: int) -> Compacted:
    directory = join(table_dir, partition_dir(day))
    files = sorted(
        (info for info in sink.storage.listing(directory) if data_file_window(info.base_name)),
        key=lambda info: info.base_name,
    )
    done = Compacted()
    for group in _groups(files, target_bytes):
        if len(group) > 1:
            done += _merge(sink, table_dir, day, group)
    return done


def _groups(files: list[pafs.FileInfo], target_bytes: int) -> list[list[pafs.FileInfo]]:
    """Consecutive files in groups of at most `target_bytes` (a larger file alone)."""
    groups: list[list[pafs.FileInfo]] = [[]]
    size = 0
    for info in files:
        if groups[-1] and size + info.size > target_bytes:
            groups.append([])
            size = 0
        groups[-1].append(info)
        size += info.size
    return groups


def _merge(sink: ParquetSink, table_dir: str, day: int, group: list[pafs.FileInfo]) -> Compacted:
    """One group of a partition's files as one file, published through the journal."""
    tables = [sink.storage.read_table(info.path) for info in group]
    big_ints = set().union(*(big_int_columns(table) for table in tables))
    schema = unify_exact([table.schema for table in tables], big_ints)
    rows = pa.concat_tables([conform(table, schema) for table in tables])
    windows = [data_file_window(info.base_name)[0] for info in group]  # type: ignore[index]
    extent = Window(min(w.start_ms for w in windows), max(w.end_ms for w in windows))
    token, numbers = new_token(), itertools.count()
    created: list[str] = []

    def next_names() -> tuple[str, str, int]:
        number = next(numbers)
        temp = join(STAGING_DIR, temp_file(token, number))
        created.append(join(table_dir, temp))
        return created[-1], temp, number

    sink.storage.make_dirs(join(table_dir, STAGING_DIR))
    files = DayFiles(sink.storage, sink.options, day, next_names)

    def discard() -> None:
        files.close_quietly()
        for path in created:
            with contextlib.suppress(StorageError):  # recover() removes what is left
                sink.storage.delete(path)

    temps = _written(sink, table_dir, files, rows, discard)
    old = tuple(join(partition_dir(day), info.base_name) for info in group)
    Publication(sink.storage, table_dir, extent, token, sink.options, discard, old).run(temps)
    return Compacted(1, len(group), len(temps), rows.num_rows)


def _written(
    sink: ParquetSink, table_dir: str, files: DayFiles, rows: pa.Table, discard: Callable[[], None]
) -> list[TempFile]:
    """The merged rows in closed, synced temps; on a failure no temp is left or open."""
    staging = join(table_dir, STAGING_DIR)
    try:
        files.add(rows)
        temps = files.finish()
        for temp in temps:
            sink.storage.sync(join(table_dir, temp.temp))
        sink.storage.sync_dir(staging)
    except Exception as exc:
        discard()
        if isinstance(exc, OSError):
            raise storage_error(exc, "write a merged file in", staging) from exc
        raise
    return temps
