"""What a Delta table holds, window by window, for `verify`: the same `Landed` answers as the
Parquet folder's inventory, from the table's log instead of a listing.

    found = delta_inventory(options, table, window_ms, windows)
    found.landed[window].keys                 # distinct (log_id, sequence_number)
    lose_missing_files(options, table)        # a repair's first step: the log forgets them

A reader sees exactly the files the table's current version lists, so a Delta table has no
strays and no half-done publish (a commit is one object). What can still go wrong is below
the log: a listed file the store lost or that no longer reads (deleted by hand, a lifecycle
rule, a bad copy). Such a file is unreadable; its windows come from the file's timestamp
statistics in the log. Only the files of the wanted windows' `date` partitions are read,
three columns each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.fs import DeltaStorageHandler

from log_ingestion.models import Window
from log_ingestion.sink.inventory import KEY_COLUMNS, TIMESTAMP, Inventory, Landed
from log_ingestion.sink.lake_store import LakeOptions, translated
from log_ingestion.sink.naming import DAY_MS, PARTITION_KEY, days_of

KEYS_SCHEMA = pa.schema([("log_id", pa.string()), ("sequence_number", pa.uint64())])
STATISTICS = (f"min.{TIMESTAMP}", f"max.{TIMESTAMP}")


def delta_inventory(
    options: LakeOptions, table: str, window_ms: int, windows: Iterable[Window]
) -> Inventory:
    """What `table` holds in each of `windows` (on its grid of `window_ms`) at its current
    version."""
    wanted = sorted(set(windows))
    uri = options.uri(table)
    with translated(f"read table {table}", options):
        delta = DeltaTable(uri, storage_options=options.storage_options())
        files = pafs.PyFileSystem(DeltaStorageHandler(uri, options.storage_options()))
        listed = pa.table(delta.get_add_actions(flatten=True))
        rows: dict[int, list[pa.Table]] = defaultdict(list)
        holding: dict[int, list[str]] = defaultdict(list)
        unreadable: dict[int, list[str]] = defaultdict(list)
        starts = {window.start_ms for window in wanted}
        for path, stamps in _files_of_days(listed, wanted):
            keyed = _read(files, path)
            if keyed is None:
                for start in _grid_starts(stamps, window_ms, starts):
                    unreadable[start].append(path)
                continue
            for start, part in _split_by_window(keyed, window_ms, starts):
                rows[start].append(part)
                holding[start].append(path)
    return Inventory({window: _landed(window, rows, holding, unreadable) for window in wanted})


def lose_missing_files(options: LakeOptions, table: str) -> list[str]:
    """Remove from the table's log the files the store no longer has (a commit of its own,
    as `DeltaTable.repair` makes it); the paths removed. Their windows are then ingested
    again by the repair."""
    with translated(f"repair table {table}", options):
        delta = DeltaTable(options.uri(table), storage_options=options.storage_options())
        done = delta.repair(
            dry_run=False,
            commit_properties=CommitProperties(custom_metadata={"log_ingestion.verify": "repair"}),
        )
    return [str(path) for path in done.get("files_removed", [])]


def _files_of_days(listed: pa.Table, windows: list[Window]) -> list[tuple[str, tuple[int, int]]]:
    """The listed files in the windows' `date` partitions, with their timestamp range (ms,
    from the log's statistics; the whole day when there are none)."""
    days = {day for window in windows for day in days_of(window)}
    found = []
    have_stats = all(name in listed.column_names for name in STATISTICS)
    for number, path in enumerate(listed.column("path").to_pylist()):
        day = _day(listed.column(f"partition.{PARTITION_KEY}")[number].as_py())
        if day not in days:
            continue
        low, high = day * DAY_MS, (day + 1) * DAY_MS - 1
        if have_stats:
            low = _ms(listed.column(STATISTICS[0])[number].as_py(), low)
            high = _ms(listed.column(STATISTICS[1])[number].as_py(), high)
        found.append((str(path), (low, high)))
    return found


def _read(files: pafs.FileSystem, path: str) -> pa.Table | None:
    """A file's key columns with the timestamp in ms; None when it cannot be read."""
    try:
        table = pq.read_table(path, columns=[*KEY_COLUMNS, TIMESTAMP], filesystem=files)
    except (OSError, pa.ArrowException):
        return None
    stamps = pc.divide(table.column(TIMESTAMP).cast(pa.int64()), 1000)  # Delta keeps us
    keyed = table.select(KEY_COLUMNS).cast(KEYS_SCHEMA)
    return keyed.append_column(TIMESTAMP, stamps)


def _split_by_window(
    keyed: pa.Table, window_ms: int, starts: set[int]
) -> Iterable[tuple[int, pa.Table]]:
    """The file's rows of each wanted window, by the window's start."""
    of_row = pc.multiply(pc.divide(keyed.column(TIMESTAMP), window_ms), window_ms)
    for start in pc.unique(of_row).to_pylist():
        if start in starts:
            yield start, keyed.filter(pc.equal(of_row, start)).select(KEY_COLUMNS)


def _grid_starts(stamps: tuple[int, int], window_ms: int, starts: set[int]) -> list[int]:
    low, high = stamps
    return [
        start
        for start in range(low // window_ms * window_ms, high + 1, window_ms)
        if start in starts
    ]


def _landed(
    window: Window,
    rows: dict[int, list[pa.Table]],
    holding: dict[int, list[str]],
    unreadable: dict[int, list[str]],
) -> Landed:
    parts = rows.get(window.start_ms, [])
    together = pa.concat_tables(parts) if parts else None
    return Landed(
        window=window,
        files=tuple(holding.get(window.start_ms, ())),
        rows=together.num_rows if together is not None else 0,
        keys=together.group_by(KEY_COLUMNS).aggregate([]).num_rows if together else 0,
        unreadable=tuple(unreadable.get(window.start_ms, ())),
    )


def _day(value: object) -> int:
    """A `date` partition value (a date, or its ISO text) as a UTC day number."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000 // DAY_MS


def _ms(value: object, default: int) -> int:
    """A timestamp statistic as ms since the epoch (it comes as a datetime or in us)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value // 1000
    return default
