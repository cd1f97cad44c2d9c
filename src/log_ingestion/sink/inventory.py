"""What a Parquet table holds, window by window, for `verify`: its files, rows, distinct event
keys, files that cannot be read, and files a reader sees that no publish put there.

    found = inventory(sink, table, window_ms, windows)   # holds the table's lock meanwhile
    found.landed[window].keys                            # distinct (log_id, sequence_number)
    found.unplaced                                       # unreadable strays: window unknown

A published file's name gives the range it was published for (`part-<start>-<end>-<token>-
<n>.parquet`: one or several grid windows of a log, committed together) and its place (the
`date=` partitions of that range). Any other `.parquet` file outside `_`- and `.`-prefixed
folders, or a published name in another place, is a stray: readers count its rows, no
publish replaces it. Every file's rows are attributed to grid windows by their timestamps.
`sink.delta_inventory` answers the same questions from a Delta table's log; `Landed` is what
both give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from log_ingestion.models import Window
from log_ingestion.sink.naming import (
    PARQUET_SUFFIX,
    STAGING_DIR,
    data_file_window,
    days_of,
    is_journal,
    join,
    partition_dir,
)
from log_ingestion.sink.parquet_dir import ParquetSink

KEY_COLUMNS = ["log_id", "sequence_number"]
TIMESTAMP = "timestamp"


@dataclass(frozen=True, slots=True)
class Landed:
    """One window as the table holds it. Paths are relative to the table directory."""

    window: Window
    files: tuple[str, ...] = ()  # published files of the window, in place
    rows: int = 0  # rows a reader sees in the window, strays' included
    keys: int = 0  # distinct (log_id, sequence_number) among them
    unreadable: tuple[str, ...] = ()
    strays: tuple[str, ...] = ()  # files no publish put there that hold rows of the window
    unfinished: bool = False  # a journal of a publish of the window is pending


@dataclass(frozen=True, slots=True)
class Inventory:
    landed: dict[Window, Landed]
    unplaced: tuple[str, ...] = ()  # strays that cannot be read: their windows are unknown


@dataclass(slots=True)
class _Layout:
    """The table's files sorted out: published ones by grid window, strays, journals."""

    published: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    strays: list[str] = field(default_factory=list)
    unfinished: set[int] = field(default_factory=set)


def inventory(
    sink: ParquetSink, table: str, window_ms: int, windows: Iterable[Window]
) -> Inventory:
    """What `table` holds in each of `windows` (on its grid of `window_ms`), read whole while
    no publish of the table runs (the table's lock)."""
    wanted = sorted(set(windows))
    table_dir = sink.table_path(table)
    with sink.lock(table):
        layout = _layout(sink, table_dir, window_ms)
        placed, unplaced = _strays_by_window(sink, table_dir, layout.strays, window_ms)
        landed = {
            window: _landed(sink, table_dir, window, layout, placed.get(window.start_ms, []))
            for window in wanted
        }
    return Inventory(landed, tuple(unplaced))


def _layout(sink: ParquetSink, table_dir: str, window_ms: int) -> _Layout:
    layout = _Layout()
    for path in _parquet_files(sink, table_dir):
        relative = path[len(table_dir) + 1 :]
        folder, _, name = relative.rpartition("/")
        named = data_file_window(name)
        if named is None or folder not in {partition_dir(day) for day in days_of(named[0])}:
            layout.strays.append(relative)
            continue
        for start in _grid_starts(named[0].start_ms, named[0].end_ms, window_ms):
            layout.published[start].append(relative)
    for info in sink.storage.listing(join(table_dir, STAGING_DIR)):
        if is_journal(info.base_name):
            _, start, end, *_ = info.base_name.split("-")
            layout.unfinished.update(_grid_starts(int(start), int(end), window_ms))
    return layout


def _grid_starts(start_ms: int, end_ms: int, window_ms: int) -> range:
    """The starts of the grid windows that `[start_ms, end_ms)` touches."""
    return range(start_ms // window_ms * window_ms, end_ms, window_ms)


def _parquet_files(sink: ParquetSink, table_dir: str) -> list[str]:
    """Every `.parquet` file a reader of the table sees, full paths, sorted."""
    selector = pafs.FileSelector(table_dir, recursive=True, allow_not_found=True)
    with_info = sink.storage.filesystem.get_file_info(selector)
    return sorted(
        info.path
        for info in with_info
        if info.type == pafs.FileType.File
        and info.base_name.endswith(PARQUET_SUFFIX)
        and not any(part.startswith(("_", ".")) for part in info.path[len(table_dir) :].split("/"))
    )


def _strays_by_window(
    sink: ParquetSink, table_dir: str, strays: list[str], window_ms: int
) -> tuple[dict[int, list[str]], list[str]]:
    """The grid windows each stray has rows in; the strays that cannot be read."""
    placed: dict[int, list[str]] = defaultdict(list)
    unplaced = []
    for relative in strays:
        stamps = _column(sink, join(table_dir, relative), TIMESTAMP)
        if stamps is None:
            unplaced.append(relative)
            continue
        starts = pc.unique(pc.divide(stamps.cast(pa.int64()), window_ms)).to_pylist()
        for start in starts:
            placed[int(start) * window_ms].append(relative)
    return placed, unplaced


def _landed(
    sink: ParquetSink, table_dir: str, window: Window, layout: _Layout, strays: list[str]
) -> Landed:
    files = tuple(layout.published.get(window.start_ms, ()))
    keys, unreadable = [], []
    for relative in files + tuple(strays):
        rows = _rows(sink, join(table_dir, relative), window)
        if rows is None:
            unreadable.append(relative)
        else:
            keys.append(rows)
    together = pa.concat_tables(keys) if keys else None
    return Landed(
        window=window,
        files=files,
        rows=together.num_rows if together is not None else 0,
        keys=together.group_by(KEY_COLUMNS).aggregate([]).num_rows if together else 0,
        unreadable=tuple(unreadable),
        strays=tuple(strays),
        unfinished=window.start_ms in layout.unfinished,
    )


def _rows(sink: ParquetSink, path: str, window: Window) -> pa.Table | None:
    """The key columns of a file's rows in `window`; None when the file cannot be read."""
    try:
        table = pq.read_table(
            path, columns=[*KEY_COLUMNS, TIMESTAMP], filesystem=sink.storage.filesystem
        )
    except (OSError, pa.ArrowException):
        return None
    stamps = table.column(TIMESTAMP).cast(pa.int64())
    inside = pc.and_(pc.greater_equal(stamps, window.start_ms), pc.less(stamps, window.end_ms))
    table = table.filter(inside).select(KEY_COLUMNS)
    return table.cast(pa.schema([("log_id", pa.string()), ("sequence_number", pa.uint64())]))


def _column(sink: ParquetSink, path: str, name: str) -> pa.ChunkedArray | None:
    try:
        return pq.read_table(path, columns=[name], filesystem=sink.storage.filesystem).column(name)
    except (OSError, pa.ArrowException, KeyError):
        return None
