"""The Parquet sink: layout, schemas, readers, and publishing that survives crashes and faults."""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from log_ingestion.config_values import COMPRESSIONS
from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.models import Window
from log_ingestion.sink import ParquetSink, Published, WindowWriter, open_dataset
from log_ingestion.sink.storage import Storage, translated

HOUR = 3_600_000
DAY = 24 * HOUR
TABLE = "app-0123456789"
MIDNIGHT = 19_723 * DAY  # 2024-01-01T00:00Z
WINDOW = Window(MIDNIGHT + 10 * HOUR, MIDNIGHT + 11 * HOUR)
ACROSS_MIDNIGHT = Window(MIDNIGHT - HOUR, MIDNIGHT + HOUR)


# -- helpers ---------------------------------------------------------------------------


def batch(timestamps: list[int], prefix: str = "m", **extra: Any) -> pa.Table:
    """Rows shaped like the pipeline's, plus any parsed columns given."""
    count = len(timestamps)
    columns: dict[str, Any] = {
        "timestamp": pa.array(timestamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "sequence_number": pa.array([2**64 - 1 - i for i in range(count)], pa.uint64()),
        "log_id": pa.array(["L"] * count, pa.string()),
        "log_name": pa.array(["app"] * count, pa.string()),
        "labels": pa.array([["a", "b"]] * count, pa.list_(pa.string())),
        "message": pa.array([f"{prefix}{ts}" for ts in timestamps], pa.string()),
        "_format": pa.array(["kv"] * count, pa.string()),
        "_parse_error": pa.array([None] * count, pa.string()),
    }
    columns.update(extra)
    return pa.table(columns)


def spread(window: Window, count: int) -> list[int]:
    """`count` timestamps spread evenly over the window."""
    step = (window.end_ms - window.start_ms) // count
    return [window.start_ms + i * step for i in range(count)]


def publish(sink: ParquetSink, window: Window, *batches: pa.Table) -> Published:
    writer = sink.stage(TABLE)
    for rows in batches:
        writer.write(rows)
    return writer.commit(window)


def write_and_commit(writer: WindowWriter, rows: pa.Table) -> Published:
    writer.write(rows)
    return writer.commit(WINDOW)


def messages(root: Path) -> list[str]:
    """Every published message of the table, sorted, duplicates kept."""
    dataset = open_dataset(str(root / TABLE))
    if "message" not in dataset.schema.names:
        return []  # no file at all
    return sorted(dataset.to_table(columns=["message"]).column("message").to_pylist())


def duckdb_rows(
    root: Path, query: str = "SELECT * FROM t ORDER BY message"
) -> list[tuple[Any, ...]]:
    glob = f"{root / TABLE}/**/*.parquet"
    with duckdb.connect() as connection:
        connection.read_parquet(glob, hive_partitioning=True, union_by_name=True).create_view("t")
        return connection.execute(query).fetchall()


def published(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.parquet") if "_staging" not in path.parts)


def staged(root: Path) -> list[Path]:
    """Temps and journals left in `_staging` (its lock file is meant to stay)."""
    return sorted(
        path for path in root.rglob("_staging/*") if path.is_file() and path.name != ".lock"
    )


@pytest.fixture
def sink(tmp_path: Path) -> ParquetSink:
    return ParquetSink(str(tmp_path), row_group_rows=4)


# -- round trip and layout ----------------------------------------------------------------


def test_round_trip_keeps_rows_and_types(tmp_path: Path, sink: ParquetSink):
    """What is written is what pyarrow reads back, uint64 sequence numbers exact."""
    rows = batch(spread(WINDOW, 10))
    result = publish(sink, WINDOW, rows)
    back = open_dataset(str(tmp_path / TABLE)).to_table().sort_by("message")
    assert (result.rows, back.num_rows) == (10, 10)
    assert rows.schema.field("timestamp").type == back.schema.field("timestamp").type
    assert pa.uint64() == back.schema.field("sequence_number").type
    assert (
        rows.sort_by("message").column("sequence_number").to_pylist()
        == back.column("sequence_number").to_pylist()
    )
    assert rows.column("labels").to_pylist() == back.column("labels").to_pylist()


def test_commit_result_counts_files_rows_and_bytes(sink: ParquetSink):
    """The result names the published files and their total size."""
    result = publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 6)))
    assert result.rows == 6
    assert sum(os.path.getsize(path) for path in result.files) == result.bytes
    assert all(path.endswith(".parquet") and os.path.exists(path) for path in result.files)


def test_window_crossing_midnight_lands_in_two_partitions(tmp_path: Path, sink: ParquetSink):
    """Each row goes to the partition of its UTC date."""
    publish(
        sink, ACROSS_MIDNIGHT, batch([MIDNIGHT - 1, MIDNIGHT - HOUR, MIDNIGHT, MIDNIGHT + HOUR - 1])
    )
    dates = duckdb_rows(
        tmp_path, "SELECT CAST(date AS VARCHAR), count(*) FROM t GROUP BY 1 ORDER BY 1"
    )
    assert dates == [("2023-12-31", 2), ("2024-01-01", 2)]
    names = [f"{path.parent.name}/{path.name}" for path in published(tmp_path)]
    assert all(
        name.startswith(("date=2023-12-31/part-", "date=2024-01-01/part-")) for name in names
    )
    prefix = f"part-{ACROSS_MIDNIGHT.start_ms}-{ACROSS_MIDNIGHT.end_ms}-"
    assert all(path.name.startswith(prefix) for path in published(tmp_path))


def test_row_groups_are_sized_by_rows_not_by_batches(tmp_path: Path, sink: ParquetSink):
    """Ten batches of one row make row groups of four, in one file."""
    writer = sink.stage(TABLE)
    for timestamp in spread(WINDOW, 10):
        writer.write(batch([timestamp]))
    (path,) = writer.commit(WINDOW).files
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [4, 4, 2]


def test_rerun_replaces_the_window(tmp_path: Path, sink: ParquetSink):
    """Publishing a window again replaces its rows: no duplicates, nothing of the old run."""
    publish(sink, WINDOW, batch(spread(WINDOW, 5), prefix="old"))
    result = publish(sink, WINDOW, batch(spread(WINDOW, 3), prefix="new"))
    assert result.replaced == 1
    assert all(name.startswith("new") for name in messages(tmp_path))
    assert len(messages(tmp_path)) == 3


def test_rerun_leaves_other_windows_alone(tmp_path: Path, sink: ParquetSink):
    """Only files of the same window are replaced."""
    later = Window(WINDOW.end_ms, WINDOW.end_ms + HOUR)
    publish(sink, WINDOW, batch(spread(WINDOW, 2), prefix="a"))
    publish(sink, later, batch(spread(later, 2), prefix="b"))
    publish(sink, WINDOW, batch(spread(WINDOW, 1), prefix="c"))
    assert [name[0] for name in messages(tmp_path)] == ["b", "b", "c"]


QUARTER = HOUR // 4


def test_larger_window_replaces_the_files_of_a_smaller_grid(tmp_path: Path, sink: ParquetSink):
    """WINDOW_SIZE went from 15m to 1h: the hour's publish replaces its four quarters."""
    for quarter in range(4):
        small = Window(
            WINDOW.start_ms + quarter * QUARTER, WINDOW.start_ms + (quarter + 1) * QUARTER
        )
        publish(sink, small, batch(spread(small, 2), prefix="old"))
    neighbour = Window(WINDOW.end_ms, WINDOW.end_ms + QUARTER)
    publish(sink, neighbour, batch(spread(neighbour, 1), prefix="zzz"))
    result = publish(sink, WINDOW, batch(spread(WINDOW, 5), prefix="new"))
    assert result.replaced == 4
    assert [name[:3] for name in messages(tmp_path)] == ["new"] * 5 + ["zzz"]


def test_a_window_inside_a_larger_file_replaces_only_its_own_rows(
    tmp_path: Path, sink: ParquetSink
):
    """An hour published as one file, then one quarter of it again: the quarter's rows are
    replaced, the other three quarters' rows are carried into a new file, nothing doubled."""
    publish(sink, WINDOW, batch(spread(WINDOW, 8), prefix="old"))
    quarter = Window(WINDOW.start_ms, WINDOW.start_ms + QUARTER)
    result = publish(sink, quarter, batch(spread(quarter, 3), prefix="new"))
    assert result.replaced == 1
    assert [name[:3] for name in messages(tmp_path)] == ["new"] * 3 + ["old"] * 6
    assert duckdb_rows(tmp_path, "SELECT count(*) FROM t") == [(9,)]
    assert staged(tmp_path) == []


def test_a_larger_window_over_smaller_files_replaces_them_all(tmp_path: Path, sink: ParquetSink):
    """Four quarters published apart, then the hour at once: one set of rows, the hour's."""
    for start in range(WINDOW.start_ms, WINDOW.end_ms, QUARTER):
        quarter = Window(start, start + QUARTER)
        publish(sink, quarter, batch(spread(quarter, 2), prefix="old"))
    assert publish(sink, WINDOW, batch(spread(WINDOW, 5), prefix="new")).replaced == 4
    assert [name[:3] for name in messages(tmp_path)] == ["new"] * 5


def test_empty_commit_replaces_with_nothing(tmp_path: Path, sink: ParquetSink):
    """A window that now has no events loses its old rows."""
    publish(sink, WINDOW, batch(spread(WINDOW, 2)))
    assert Published((), 0, 0, 1) == publish(sink, WINDOW)
    assert messages(tmp_path) == []


def test_abort_leaves_nothing(tmp_path: Path, sink: ParquetSink):
    """Aborting after row groups were flushed removes the temps; nothing is published."""
    writer = sink.stage(TABLE)
    writer.write(batch(spread(WINDOW, 9)))
    assert staged(tmp_path)
    writer.abort()
    assert (published(tmp_path), staged(tmp_path)) == ([], [])


def test_leaving_the_context_without_commit_aborts(tmp_path: Path, sink: ParquetSink):
    """A writer used in `with` drops its temps on an exception."""

    def write_then_fail() -> None:
        with sink.stage(TABLE) as writer:
            writer.write(batch(spread(WINDOW, 9)))
            raise KeyError("boom")

    with pytest.raises(KeyError):
        write_then_fail()
    assert (published(tmp_path), staged(tmp_path)) == ([], [])


def test_temps_are_invisible_to_readers_before_commit(tmp_path: Path, sink: ParquetSink):
    """Flushed row groups sit in `_staging`, which no reader globs or lists."""
    publish(sink, WINDOW, batch(spread(WINDOW, 1), prefix="old"))
    writer = sink.stage(TABLE)
    writer.write(batch(spread(WINDOW, 9), prefix="new"))
    assert staged(tmp_path)
    assert [row[0][:3] for row in duckdb_rows(tmp_path, "SELECT message FROM t")] == ["old"]
    assert [name[:3] for name in messages(tmp_path)] == ["old"]
    writer.commit(WINDOW)


def test_writer_refuses_use_after_commit(sink: ParquetSink):
    """A committed writer is finished."""
    writer = sink.stage(TABLE)
    writer.commit(WINDOW)
    with pytest.raises(RuntimeError, match="committed"):
        writer.write(batch([WINDOW.start_ms]))


def test_rows_outside_the_window_are_refused(sink: ParquetSink):
    """A row outside its window would survive the window's replacement."""
    writer = sink.stage(TABLE)
    writer.write(batch([WINDOW.end_ms]))
    with pytest.raises(ValueError, match="outside the window"):
        writer.commit(WINDOW)


def test_other_timestamp_units_are_stored_as_milliseconds(tmp_path: Path, sink: ParquetSink):
    """A microsecond timestamp column is stored as timestamp[ms, UTC]."""
    rows = batch([WINDOW.start_ms])
    rows = rows.set_column(0, "timestamp", rows.column("timestamp").cast(pa.timestamp("us")))
    (path,) = publish(sink, WINDOW, rows).files
    assert pa.timestamp("ms", tz="UTC") == pq.read_schema(path).field("timestamp").type


def test_column_named_like_the_partition_is_kept_under_another_name(
    tmp_path: Path, sink: ParquetSink
):
    """A parsed `date` field would be shadowed by `date=` directories, so it becomes `date_`."""
    publish(sink, WINDOW, batch([WINDOW.start_ms], date=["yesterday"]))
    assert duckdb_rows(tmp_path, "SELECT date_, CAST(date AS VARCHAR) FROM t") == [
        ("yesterday", "2024-01-01")
    ]


@pytest.mark.parametrize("table", ["", "../x", "_hidden", ".x", "a/b", "A"])
def test_unsafe_table_names_are_refused(sink: ParquetSink, table: str):
    """A table is one visible path component made by table_dir_name()."""
    with pytest.raises(ValueError, match="unsafe table"):
        sink.stage(table)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_compression_is_readable_by_pyarrow_and_duckdb(tmp_path: Path, compression: str):
    """snappy, zstd, gzip, lz4 and none all round-trip."""
    publish(ParquetSink(str(tmp_path), compression=compression), WINDOW, batch(spread(WINDOW, 3)))
    assert len(messages(tmp_path)) == 3
    assert duckdb_rows(tmp_path, "SELECT count(*) FROM t") == [(3,)]


def test_unknown_compression_is_a_config_error(tmp_path: Path):
    """A typo in the codec is caught before anything is written."""
    with pytest.raises(ConfigError, match="brotli2"):
        ParquetSink(str(tmp_path), compression="brotli2")


def test_files_and_directories_are_not_world_readable(tmp_path: Path):
    """Files 0o640 and directories 0o750 under a permissive umask."""
    previous = os.umask(0o002)
    try:
        root = tmp_path / "out"
        sink = ParquetSink(str(root), row_group_rows=4)
        sink.recover()
        publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 6)))
    finally:
        os.umask(previous)
    modes = {stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}
    assert {0o640, 0o750} == modes


# -- schemas -------------------------------------------------------------------------------


def test_columns_appearing_before_the_first_row_group_cost_no_extra_file(tmp_path: Path):
    """While nothing is flushed the file's schema can still grow."""
    sink = ParquetSink(str(tmp_path), row_group_rows=100)
    times = spread(WINDOW, 3)
    result = publish(
        sink, WINDOW, batch(times[:1]), batch(times[1:2], x=[1]), batch(times[2:], y=["z"])
    )
    assert len(result.files) == 1
    rows = duckdb_rows(tmp_path, "SELECT x, y FROM t ORDER BY timestamp")
    assert rows == [(None, None), (1, None), (None, "z")]


def test_widening_after_a_flush_starts_a_new_file(tmp_path: Path, sink: ParquetSink):
    """int64 then float64 after a row group was written: two files, read as double."""
    times = spread(WINDOW, 8)
    result = publish(sink, WINDOW, batch(times[:4], x=[1, 2, 3, 4]), batch(times[4:], x=[0.5] * 4))
    assert len(result.files) == 2
    values = [row[0] for row in duckdb_rows(tmp_path, "SELECT x FROM t ORDER BY timestamp")]
    assert values == [1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5]
    assert pa.float64() == open_dataset(str(tmp_path / TABLE)).schema.field("x").type


BIG = 2**53 + 1  # 9007199254740993: a float64 would round it to ...992


@pytest.mark.parametrize("first", [2, 5], ids=["same-file", "after-a-flush"])
@pytest.mark.parametrize("ints_first", [True, False], ids=["ints-first", "floats-first"])
def test_integers_a_double_would_round_meet_floats_as_exact_text(
    tmp_path: Path, sink: ParquetSink, first: int, ints_first: bool
):
    """int64 beyond 2^53 and float64 in one window: string, every value exact, no crash."""
    times = spread(WINDOW, first + 2)
    ints = batch(times[:first], x=pa.array([BIG] + [1] * (first - 1), pa.int64()))
    floats = batch(times[first:], x=pa.array([1.5, 2.0], pa.float64()))
    if not ints_first:
        ints = batch(times[2:], x=pa.array([BIG] + [1] * (first - 1), pa.int64()))
        floats = batch(times[:2], x=pa.array([1.5, 2.0], pa.float64()))
    publish(sink, WINDOW, *((ints, floats) if ints_first else (floats, ints)))
    back = open_dataset(str(tmp_path / TABLE)).to_table(columns=["x"]).column("x")
    assert back.type == pa.string()
    assert sorted(back.to_pylist()) == sorted([str(BIG)] + ["1"] * (first - 1) + ["1.5", "2"])


def test_a_cast_that_fails_is_a_storage_error_not_an_arrow_one(tmp_path: Path, sink: ParquetSink):
    """Should unification ever pick a type a batch cannot be cast to, the run is told so."""
    times = spread(WINDOW, 2)
    writer = sink.stage(TABLE)
    writer.write(batch(times[:1], x=pa.array(["a"], pa.string())))
    with pytest.raises(StorageError, match=r"cannot store column 'x' of type list"):
        writer.write(batch(times[1:], x=pa.array([["b"]], pa.list_(pa.string()))))
    assert (published(tmp_path), staged(tmp_path)) == ([], [])


def test_batch_lacking_columns_is_filled_with_nulls_in_the_same_file(
    tmp_path: Path, sink: ParquetSink
):
    """Missing columns and narrower types are cast to the file's schema, no new file."""
    times = spread(WINDOW, 8)
    result = publish(
        sink, WINDOW, batch(times[:4], x=[0.5] * 4), batch(times[4:6], x=[1, 2]), batch(times[6:])
    )
    assert len(result.files) == 1
    values = [row[0] for row in duckdb_rows(tmp_path, "SELECT x FROM t ORDER BY timestamp")]
    assert values == [0.5] * 4 + [1.0, 2.0, None, None]


def test_types_that_cannot_meet_become_string(tmp_path: Path, sink: ParquetSink):
    """A field that was a number and is now text is kept as text, not refused."""
    times = spread(WINDOW, 8)
    publish(
        sink, WINDOW, batch(times[:4], x=[1, 2, 3, 4]), batch(times[4:], x=["a", "b", "c", "d"])
    )
    assert pa.string() == open_dataset(str(tmp_path / TABLE)).schema.field("x").type
    assert len(duckdb_rows(tmp_path)) == 8


def test_all_null_columns_are_written_as_string(tmp_path: Path, sink: ParquetSink):
    """The Arrow null type, which many readers reject, is not written."""
    (path,) = publish(sink, WINDOW, batch([WINDOW.start_ms], x=pa.nulls(1))).files
    assert pa.string() == pq.read_schema(path).field("x").type


def test_windows_with_different_schemas_read_together(tmp_path: Path, sink: ParquetSink):
    """Files of different windows unify by name in pyarrow.dataset and DuckDB."""
    later = Window(WINDOW.end_ms, WINDOW.end_ms + HOUR)
    publish(sink, WINDOW, batch(spread(WINDOW, 2), x=pa.array([1, 2], pa.int32())))
    publish(sink, later, batch(spread(later, 2), x=[0.5, 1.5], y=["p", "q"]))
    table = open_dataset(str(tmp_path / TABLE)).to_table().sort_by("timestamp")
    assert table.column("x").to_pylist() == [1.0, 2.0, 0.5, 1.5]
    assert table.column("y").to_pylist() == [None, None, "p", "q"]
    rows = duckdb_rows(tmp_path, "SELECT x, y, sequence_number FROM t ORDER BY timestamp")
    assert rows == [
        (1.0, None, 2**64 - 1),
        (2.0, None, 2**64 - 2),
        (0.5, "p", 2**64 - 1),
        (1.5, "q", 2**64 - 2),
    ]


# -- recovery, crashes and faults --------------------------------------------------------------


class Crash(BaseException):
    """The process died here: a BaseException, like a SIGKILL nothing can catch."""


MUTATIONS = ("make_dirs", "open_output", "sync", "sync_dir", "move", "delete")


class Killer:
    """Counts the sink's filesystem mutations and dies at the `at`-th; later ones fail too."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.calls = 0
        self.armed = True

    def wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def dying(storage: Storage, *args: Any, **kwargs: Any) -> Any:
            if self.armed:
                self.calls += 1
                if self.calls >= self.at:
                    raise Crash(f"killed at step {self.at} ({method.__name__})")
            return method(storage, *args, **kwargs)

        return dying


@pytest.fixture
def kill_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], Killer]:
    originals = {name: getattr(Storage, name) for name in MUTATIONS}

    def arm(at: int) -> Killer:
        killer = Killer(at)
        for name, method in originals.items():
            monkeypatch.setattr(Storage, name, killer.wrap(method))
        return killer

    return arm


def every_file_is_whole(root: Path) -> bool:
    return all(pq.ParquetFile(path).metadata.num_rows >= 0 for path in published(root))


@pytest.mark.parametrize("abort_after", [False, True], ids=["sigkill", "exception-then-abort"])
@pytest.mark.parametrize("had_old", [True, False], ids=["replacing", "first-publish"])
def test_crash_at_every_step_leaves_old_or_new_after_recover(
    tmp_path: Path, kill_at: Callable[[int], Killer], had_old: bool, abort_after: bool
):
    """Dying before any filesystem step of write+commit, then recover(): old set or new set, whole."""
    old = [f"old{ts}" for ts in spread(ACROSS_MIDNIGHT, 6)] if had_old else []
    new = [f"new{ts}" for ts in spread(ACROSS_MIDNIGHT, 10)]
    outcomes, finished, step = set(), False, 0
    while not finished:
        step += 1
        root = tmp_path / f"step{step}"
        sink = ParquetSink(str(root), row_group_rows=2)
        sink.recover()
        if had_old:
            publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 6), prefix="old"))
        killer = kill_at(step)
        writer = sink.stage(TABLE)
        try:
            writer.write(batch(spread(ACROSS_MIDNIGHT, 10), prefix="new"))
            writer.commit(ACROSS_MIDNIGHT)
            finished = True
        except Crash:
            finished = False
        killer.armed = False
        assert every_file_is_whole(root), f"half a file visible after a crash at step {step}"
        if abort_after:
            writer.abort()
        ParquetSink(str(root)).recover()
        landed = messages(root)
        assert landed in (old, new), f"crash at step {step} left {landed}"
        assert staged(root) == []
        outcomes.add("new" if landed == new else "old")
    assert landed == new
    assert step > 20  # the protocol has many steps, and each was a crash point
    assert {"old", "new"} == outcomes


def test_recover_removes_stale_temps(tmp_path: Path, sink: ParquetSink):
    """Temps of a window that never committed are removed, in every table."""
    writer = sink.stage(TABLE)
    writer.write(batch(spread(WINDOW, 9)))
    report = ParquetSink(str(tmp_path)).recover()
    assert (report.stale, staged(tmp_path)) == (1, [])


def crash_after_first_rename(sink: ParquetSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish new rows over old ones and die after the first temp is renamed into place,
    leaving the journal behind: one partition holds the old and new files side by side."""
    original_move = Storage.move
    renamed: list[str] = []

    def die_on_second_rename(storage: Storage, source: str, target: str) -> None:
        if target.endswith(".parquet") and renamed:
            raise Crash("died after the first rename")
        renamed.extend([target] if target.endswith(".parquet") else [])
        original_move(storage, source, target)

    monkeypatch.setattr(Storage, "move", die_on_second_rename)
    with pytest.raises(Crash):
        publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 8), prefix="new"))
    monkeypatch.setattr(Storage, "move", original_move)


def test_recover_completes_a_journal(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """Death after the first of two renames: recover() does the second, then the deletes."""
    publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 2), prefix="old"))
    crash_after_first_rename(sink, monkeypatch)
    assert len(messages(tmp_path)) == 6  # 2 old and 4 new side by side until recover
    report = ParquetSink(str(tmp_path)).recover()
    assert (report.journals, report.moved, report.deleted) == (1, 1, 2)
    assert [name[:3] for name in messages(tmp_path)] == ["new"] * 8


def test_next_commit_in_the_table_finishes_a_pending_journal(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """A publish whose old files could not be deleted is finished by the next one."""
    publish(sink, WINDOW, batch(spread(WINDOW, 2), prefix="old"))
    original_delete = Storage.delete

    def refuse_parquet(storage: Storage, path: str) -> bool:
        if path.endswith(".parquet"):
            with translated("delete", path):
                raise OSError(errno.EIO, "Input/output error")
        return original_delete(storage, path)

    monkeypatch.setattr(Storage, "delete", refuse_parquet)
    with pytest.raises(StorageError, match="new files are in place"):
        publish(sink, WINDOW, batch(spread(WINDOW, 3), prefix="new"))
    monkeypatch.setattr(Storage, "delete", original_delete)
    later = Window(WINDOW.end_ms, WINDOW.end_ms + HOUR)
    publish(sink, later, batch(spread(later, 1), prefix="zzz"))
    assert [name[:3] for name in messages(tmp_path)] == ["new", "new", "new", "zzz"]


def test_corrupt_journal_is_a_storage_error(tmp_path: Path, sink: ParquetSink):
    """An unreadable journal stops recovery with the file's name, touching nothing."""
    staging = tmp_path / TABLE / "_staging"
    staging.mkdir(parents=True)
    (staging / "journal-1-2-abc.json").write_text('{"format": 1, "window": [1')
    with pytest.raises(StorageError, match=r"journal-1-2-abc\.json is unreadable"):
        sink.recover()


def test_failed_rename_rolls_back_to_the_old_files(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """The second rename fails: the first is undone, temps are removed, old rows stay."""
    publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 2), prefix="old"))
    original_move = Storage.move
    renamed = []

    def fail_second(storage: Storage, source: str, target: str) -> None:
        if target.endswith(".parquet"):
            renamed.append(target)
            if len(renamed) == 2:
                with translated(f"rename {source} to", target):
                    raise OSError(errno.EACCES, "Permission denied")
        original_move(storage, source, target)

    monkeypatch.setattr(Storage, "move", fail_second)
    with pytest.raises(
        StorageError, match=r"rolled back.*Permission denied|Permission denied.*rolled back"
    ):
        publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 6), prefix="new"))
    assert [name[:3] for name in messages(tmp_path)] == ["old", "old"]
    assert staged(tmp_path) == []


def test_vanished_temps_are_not_reported_as_published(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """Another process's recover() deletes our temps as stale just before our publish.

    (The output lock refuses such a process; this is the line behind it.) Both ends of
    every move are then missing: the publish is rolled back, the old files stay and
    commit() raises instead of counting rows that no file holds.
    """
    publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 2), prefix="old"))
    original_finish = WindowWriter._finished_temps

    def other_process_starts(writer: WindowWriter) -> list[Any]:
        temps = original_finish(writer)
        ParquetSink(str(tmp_path)).recover()  # a second process on the same OUTPUT_DIR
        return temps

    monkeypatch.setattr(WindowWriter, "_finished_temps", other_process_starts)
    with pytest.raises(StorageError, match=r"another process may be using the same OUTPUT_DIR"):
        publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 6), prefix="new"))
    assert [name[:3] for name in messages(tmp_path)] == ["old", "old"]
    assert staged(tmp_path) == []
    assert ParquetSink(str(tmp_path)).recover().missing == ()


def test_failed_journal_write_keeps_the_old_files(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """No journal, no publish: temps are removed and the old rows stay."""
    publish(sink, WINDOW, batch(spread(WINDOW, 2), prefix="old"))

    def full(storage: Storage, path: str, data: bytes) -> None:
        with translated("write", path):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Storage, "write_atomic", full)
    with pytest.raises(StorageError, match="disk is full"):
        publish(sink, WINDOW, batch(spread(WINDOW, 6), prefix="new"))
    assert ([name[:3] for name in messages(tmp_path)], staged(tmp_path)) == (["old", "old"], [])


class FullDisk(io.RawIOBase):
    """A file on a disk with no space left."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("rows", [9, 2], ids=["while-writing", "at-commit"])
def test_disk_full_is_a_storage_error_and_leaves_nothing(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch, rows: int
):
    """ENOSPC while flushing a row group: a clear error, temps removed, nothing published."""
    original_open = Storage.open_output

    def open_on_full_disk(storage: Storage, path: str) -> pa.NativeFile:
        original_open(storage, path).close()
        return pa.PythonFile(FullDisk(), mode="w")

    monkeypatch.setattr(Storage, "open_output", open_on_full_disk)
    writer = sink.stage(TABLE)
    with pytest.raises(StorageError, match=r"_staging.*disk is full|disk is full.*_staging"):
        write_and_commit(writer, batch(spread(WINDOW, rows)))
    writer.abort()
    assert (published(tmp_path), staged(tmp_path)) == ([], [])


def test_root_that_is_a_file_is_a_storage_error(tmp_path: Path):
    """A file where the output directory should be is named in the error."""
    root = tmp_path / "out"
    root.write_text("not a directory")
    sink = ParquetSink(str(root))
    with pytest.raises(StorageError, match=r"out is a file"):
        sink.recover()
    writer = sink.stage(TABLE)
    with pytest.raises(StorageError, match="a file stands where a directory is needed"):
        write_and_commit(writer, batch(spread(WINDOW, 9)))


def test_root_below_a_file_is_a_storage_error(tmp_path: Path):
    """A path through a file cannot be created."""
    (tmp_path / "file").write_text("x")
    sink = ParquetSink(str(tmp_path / "file" / "out"))
    with pytest.raises(StorageError, match="file"):
        sink.recover()


def test_journal_lists_paths_relative_to_the_table(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
):
    """The journal names files inside the table, so a moved output directory still recovers."""
    seen: list[dict[str, Any]] = []
    original = Storage.write_atomic

    def spy(storage: Storage, path: str, data: bytes) -> None:
        seen.append(json.loads(data))
        original(storage, path, data)

    monkeypatch.setattr(Storage, "write_atomic", spy)
    publish(sink, WINDOW, batch(spread(WINDOW, 2)))
    (document,) = seen
    assert all(
        not path.startswith("/") and ".." not in path for move in document["moves"] for path in move
    )


def test_growing_columns_are_delta_encoded_and_message_is_not_a_dictionary(
    tmp_path: Path, sink: ParquetSink
):
    """Time and sequence columns take a few bits per row; unique messages skip the dictionary."""
    publish(sink, WINDOW, batch(spread(WINDOW, 200)))
    (path,) = published(tmp_path)
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        row_group.column(i).path_in_schema: row_group.column(i).encodings
        for i in range(row_group.num_columns)
    }
    assert "DELTA_BINARY_PACKED" in encodings["timestamp"]
    assert "RLE_DICTIONARY" not in encodings["message"]


def test_zstd_defaults_to_level_3_and_takes_a_level(tmp_path: Path):
    """A higher zstd level gives a smaller file from the same rows."""
    sizes = []
    for level in (1, 9):
        root = tmp_path / str(level)
        level_sink = ParquetSink(str(root), compression="zstd", compression_level=level)
        sizes.append(publish(level_sink, WINDOW, batch(spread(WINDOW, 2000))).bytes)
    assert sizes[1] < sizes[0]
