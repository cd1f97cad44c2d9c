"""What a Delta table holds, window by window, for `verify`: the same `Landed` answers as the
Parquet folder's inventory, from the table's log instead of a listing.

    found = delta_inventory(options, table, window_ms, windows)
    found.landed[window].keys                       # distinct (log_id, sequence_number)
    windows = forget_lost_files(lake, table, unreadable)   # a repair's first step

A reader sees exactly the files the table's current version lists, so a Delta table has no
strays and no half-done publish (a commit is one object). What can still go wrong is below
the log: a listed file the store lost or that no longer reads (deleted by hand, a lifecycle
rule, a bad copy). Such a file is unreadable; its windows come from the file's timestamp
statistics in the log. Files are read one `date` partition at a time, three columns each,
and only those of the wanted windows' days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.fs import DeltaStorageHandler

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.inventory import KEY_COLUMNS, TIMESTAMP, Inventory, Landed
from log_ingestion.sink.lake_store import LakeOptions, translated
from log_ingestion.sink.naming import DAY_MS, PARTITION_KEY, days_of

if TYPE_CHECKING:
    from log_ingestion.sink.delta import Lake

KEYS_SCHEMA = pa.schema([("log_id", pa.string()), ("sequence_number", pa.uint64())])
STATISTICS = (f"min.{TIMESTAMP}", f"max.{TIMESTAMP}")
WINDOW = "window_start"
Listed = dict[int, list[tuple[str, tuple[int, int]]]]  # day -> (path, timestamp range in ms)


def delta_inventory(
    options: LakeOptions, table: str, window_ms: int, windows: Iterable[Window]
) -> Inventory:
    """What `table` holds in each of `windows` (on its grid of `window_ms`) at its current
    version."""
    wanted = sorted(set(windows))
    wanted_starts = {window.start_ms for window in wanted}
    starts = pa.array(sorted(wanted_starts), pa.int64())
    counted: dict[int, tuple[int, int]] = {}
    holding: dict[int, list[str]] = defaultdict(list)
    unreadable: dict[int, list[str]] = defaultdict(list)
    with translated(f"read table {table}", options):
        delta, files = _open(options, table)
        listed = _listed(pa.table(delta.get_add_actions(flatten=True)), wanted)
        carried: list[pa.Table] = []  # rows of windows that go on into the next day
        for day in sorted(listed):
            parts = carried
            for path, stamps in listed[day]:
                keyed = _read(files, path, window_ms)
                if keyed is None:
                    for start in _grid_starts(stamps, window_ms, wanted_starts):
                        unreadable[start].append(path)
                    continue
                keyed = keyed.filter(pc.is_in(keyed.column(WINDOW), value_set=starts))
                for start in pc.unique(keyed.column(WINDOW)).to_pylist():
                    holding[start].append(path)
                parts.append(keyed)
            carried = _count_ended(parts, (day + 1) * DAY_MS, window_ms, counted)
        _count_ended(carried, None, window_ms, counted)
    return Inventory({window: _landed(window, counted, holding, unreadable) for window in wanted})


def forget_lost_files(lake: Lake, table: str, unreadable: Iterable[str]) -> list[Window]:
    """Make a table whose store lost files listed in its log whole again: the windows those
    files held are first taken out of the log's checkpoint (so a repair cut short leaves them
    to the next run, not committed and empty), then the files out of the log (deltalake's
    `repair`, a commit of its own). The windows, to be ingested again.

    A file `verify` found `unreadable` that is still there is not one `repair` removes: it
    is refused, naming the file and the fix."""
    options, log_table = lake.options, lake.table(table)
    with translated(f"repair table {table}", options):
        delta, _ = _open(options, table)
        lost = {str(path) for path in delta.repair(dry_run=True).get("files_removed", [])}
        present = sorted(set(unreadable) - lost)
        if present:
            raise StorageError(
                f"{options.uri(table)}/{present[0]} is listed in the table's log and present but "
                "not a readable Parquet file; move it away in the store, then run "
                "`verify --repair` again (files the store no longer has are repaired)"
            )
        found = log_table.checkpoint if log_table.refresh() else None
        if not lost or found is None or found.window_ms <= 0:
            return []
        listed = _listed(pa.table(delta.get_add_actions(flatten=True)), None)
        windows = sorted(
            {
                Window(start, start + found.window_ms)
                for entries in listed.values()
                for path, stamps in entries
                if path in lost
                for start in _grid_starts(stamps, found.window_ms, None)
            }
        )
        log_table.save(lambda current: (current or found).without(windows))
        _open(options, table)[0].repair(
            dry_run=False,
            commit_properties=CommitProperties(custom_metadata={"log_ingestion.verify": "repair"}),
        )
    return windows


def _open(options: LakeOptions, table: str) -> tuple[DeltaTable, pafs.FileSystem]:
    uri = options.uri(table)
    delta = DeltaTable(uri, storage_options=options.storage_options())
    return delta, pafs.PyFileSystem(DeltaStorageHandler(uri, options.storage_options()))


def _listed(actions: pa.Table, windows: list[Window] | None) -> Listed:
    """The listed files by `date` partition (only the windows' days, when given), each with
    its timestamp range in ms (from the log's statistics; the whole day without them)."""
    days = None if windows is None else {day for window in windows for day in days_of(window)}
    found: Listed = defaultdict(list)
    have_stats = all(name in actions.column_names for name in STATISTICS)
    for number, path in enumerate(actions.column("path").to_pylist()):
        day = _day(actions.column(f"partition.{PARTITION_KEY}")[number].as_py())
        if days is not None and day not in days:
            continue
        low, high = day * DAY_MS, (day + 1) * DAY_MS - 1
        if have_stats:
            low = _ms(actions.column(STATISTICS[0])[number].as_py(), low)
            high = _ms(actions.column(STATISTICS[1])[number].as_py(), high)
        found[day].append((str(path), (low, high)))
    return found


def _read(files: pafs.FileSystem, path: str, window_ms: int) -> pa.Table | None:
    """A file's keys and the start of each row's window; None when the file is gone or is not
    Parquet. Any other failure is the store's, raised (`translated` names it)."""
    try:
        table = pq.read_table(path, columns=[*KEY_COLUMNS, TIMESTAMP], filesystem=files)
    except (FileNotFoundError, pa.ArrowInvalid):
        return None
    stamps = pc.divide(table.column(TIMESTAMP).cast(pa.int64()), 1000)  # Delta keeps us
    keyed = table.select(KEY_COLUMNS).cast(KEYS_SCHEMA)
    return keyed.append_column(WINDOW, pc.multiply(pc.divide(stamps, window_ms), window_ms))


def _count_ended(
    parts: list[pa.Table], horizon: int | None, window_ms: int, counted: dict[int, tuple[int, int]]
) -> list[pa.Table]:
    """Rows and distinct keys of each window that ends by `horizon` (all when None), into
    `counted`; the rows of the windows that go on, to count with the next day's."""
    if not parts:
        return []
    rows = pa.concat_tables(parts)
    if horizon is not None:
        going_on = pc.greater(pc.add(rows.column(WINDOW), window_ms), horizon)
        later, rows = rows.filter(going_on), rows.filter(pc.invert(going_on))
    per_window = rows.group_by(WINDOW).aggregate([([], "count_all")])
    distinct = rows.group_by([WINDOW, *KEY_COLUMNS]).aggregate([]).group_by(WINDOW)
    keys = dict(_pairs(distinct.aggregate([([], "count_all")])))
    for start, count in _pairs(per_window):
        counted[start] = (count, keys[start])
    return [later] if horizon is not None and later.num_rows else []


def _pairs(table: pa.Table) -> Iterable[tuple[int, int]]:
    return zip(table.column(WINDOW).to_pylist(), table.column("count_all").to_pylist(), strict=True)


def _grid_starts(stamps: tuple[int, int], window_ms: int, wanted: set[int] | None) -> list[int]:
    """The starts of the grid windows a timestamp range touches (of those `wanted`)."""
    low, high = stamps
    every = range(low // window_ms * window_ms, high + 1, window_ms)
    return [start for start in every if wanted is None or start in wanted]


def _landed(
    window: Window,
    counted: dict[int, tuple[int, int]],
    holding: dict[int, list[str]],
    unreadable: dict[int, list[str]],
) -> Landed:
    rows, keys = counted.get(window.start_ms, (0, 0))
    return Landed(
        window=window,
        files=tuple(holding.get(window.start_ms, ())),
        rows=rows,
        keys=keys,
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
