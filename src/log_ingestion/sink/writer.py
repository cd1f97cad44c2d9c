"""The Parquet sink: a window's rows go to temp files, then are published all at once."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.models import Window
from log_ingestion.sink import journal
from log_ingestion.sink.journal import Journal, Outcome
from log_ingestion.sink.naming import (
    DAY_MS,
    STAGING_DIR,
    check_table,
    data_file,
    data_file_window,
    days_of,
    join,
    new_token,
    partition_dir,
    temp_file,
)
from log_ingestion.sink.schema import (
    TIMESTAMP_COLUMN,
    big_int_columns,
    conform,
    exact,
    for_file,
    unify,
    with_event_timestamp,
    without_partition_key,
)
from log_ingestion.sink.storage import Storage, storage_error

COMPRESSIONS = ("snappy", "zstd", "gzip", "lz4", "none")


@dataclass(frozen=True, slots=True)
class CommitResult:
    """A published window: its files (full paths), rows and bytes, and old files replaced."""

    files: tuple[str, ...]
    rows: int
    bytes: int
    replaced: int = 0


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What `recover()` found and did.

    `journals` interrupted publishes were finished (or rolled back: `undone` files); `stale`
    temp files of unpublished windows were removed. `missing` lists files a journal expected
    but nobody had: something deleted temps by hand, and those windows need a rescan.
    """

    journals: int = 0
    moved: int = 0
    deleted: int = 0
    undone: int = 0
    stale: int = 0
    missing: tuple[str, ...] = ()


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
class _Options:
    compression: str
    row_group_rows: int
    compression_level: int | None = None


@dataclass(frozen=True, slots=True)
class _Temp:
    """A finished temp file, relative to the table directory, and where it will be published."""

    temp: str
    final: str
    rows: int
    bytes: int


class ParquetSink:
    """Writes windows of rows as Hive-partitioned Parquet under `root`; see the package doc."""

    def __init__(
        self,
        root: str,
        *,
        compression: str = "snappy",
        row_group_rows: int = 128_000,
        filesystem: pafs.FileSystem | None = None,
        compression_level: int | None = None,
    ) -> None:
        if compression.lower() not in COMPRESSIONS:
            raise ConfigError(
                f"compression {compression!r}: choose one of {', '.join(COMPRESSIONS)}"
            )
        if row_group_rows < 1:
            raise ConfigError(f"row_group_rows must be at least 1, not {row_group_rows}")
        filesystem, self.root = _resolve_root(root, filesystem)
        self.storage = Storage(filesystem)
        level = (
            DEFAULT_LEVELS.get(compression.lower())
            if compression_level is None
            else compression_level
        )
        self._options = _Options(compression.lower(), row_group_rows, level)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def table_path(self, table: str) -> str:
        return join(self.root, check_table(table))

    def recover(self) -> RecoveryReport:
        """Finish (or roll back) interrupted publishes and remove stale temps, in every table.

        Call it at start, before any writer is open: temps of a writer still running would
        be taken for stale.
        """
        self.ensure_root()
        outcome, stale = Outcome(), 0
        for info in self.storage.listing(self.root):
            if info.type != pafs.FileType.Directory or info.base_name.startswith(("_", ".")):
                continue
            with self.lock(info.base_name):
                for pending in journal.pending(self.storage, info.path):
                    journal.apply(self.storage, info.path, pending, outcome)
                stale += self._remove_staging_files(info.path)
        return RecoveryReport(
            journals=outcome.journals,
            moved=outcome.moved,
            deleted=outcome.deleted,
            undone=outcome.undone,
            stale=stale,
            missing=tuple(outcome.missing),
        )

    def open_window(self, table: str, window: Window) -> WindowWriter:
        """A writer for one window of one table; nothing is visible until `commit()`."""
        return WindowWriter(self, self.table_path(table), window, self._options)

    def lock(self, table: str) -> threading.Lock:
        """Serialises publishes within a table (the journal replay at commit reads them all)."""
        with self._locks_guard:
            return self._locks.setdefault(table.rsplit("/", 1)[-1], threading.Lock())

    def ensure_root(self) -> None:
        """Make the root folder, or refuse a file standing in its place."""
        kind = self.storage.kind(self.root)
        if kind == pafs.FileType.NotFound:
            self.storage.make_dirs(self.root)
        elif kind != pafs.FileType.Directory:
            raise StorageError(
                f"output directory {self.root} is a file: move it away or choose another output directory"
            )

    def _remove_staging_files(self, table_dir: str) -> int:
        staging = join(table_dir, STAGING_DIR)
        removed = sum(
            self.storage.delete(info.path)
            for info in self.storage.listing(staging)
            if info.type == pafs.FileType.File
        )
        if removed:
            self.storage.sync_dir(staging)
        return removed


def _resolve_root(root: str, filesystem: pafs.FileSystem | None) -> tuple[pafs.FileSystem, str]:
    if not root:
        raise ConfigError("the output directory is empty: give a path or a URI")
    if filesystem is not None:
        return filesystem, root.rstrip("/") or "/"
    if "://" in root:
        try:
            filesystem, path = pafs.FileSystem.from_uri(root)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ConfigError(f"output {root!r} is not a usable filesystem URI: {exc}") from exc
        return filesystem, path.rstrip("/") or "/"
    return pafs.LocalFileSystem(), os.path.abspath(root)


_OPEN, _PUBLISHING, _COMMITTED, _ABORTED = "open", "publishing", "committed", "aborted"


class WindowWriter:
    """Collects one window's rows into temp files; `commit()` publishes, `abort()` drops.

    Also a context manager that aborts on leaving unless committed.
    """

    def __init__(
        self, sink: ParquetSink, table_dir: str, window: Window, options: _Options
    ) -> None:
        self.window = window
        self.token = new_token()
        self._sink = sink
        self._storage = sink.storage
        self._table_dir = table_dir
        self._options = options
        self._numbers = itertools.count()
        self._days: dict[int, _DayFiles] = {}
        self._created: list[str] = []
        self._state = _OPEN

    def __enter__(self) -> WindowWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()

    def write(self, batch: pa.Table) -> None:
        """Add rows; each goes to the partition of its timestamp's UTC date."""
        self._require_open("write")
        if not batch.num_rows:
            return
        batch = without_partition_key(with_event_timestamp(batch, self.window))
        try:
            for day, rows in _split_by_day(batch, self.window):
                self._day(day).add(rows)
        except (OSError, StorageError) as exc:
            self.abort()
            raise _as_storage_error(
                exc, "write a temp file in", join(self._table_dir, STAGING_DIR)
            ) from exc

    def commit(self) -> CommitResult:
        """Publish every row written, replacing the window's earlier files, all or nothing.

        On a `StorageError` the window keeps its old files, unless the message says the
        new ones are in place and the next `recover()` removes the old ones.
        """
        self._require_open("commit")
        self._state = _PUBLISHING
        try:
            temps = self._finish_temps()
        except BaseException as exc:
            self._discard()
            if isinstance(exc, OSError | StorageError):
                raise _as_storage_error(
                    exc, "finish a temp file in", join(self._table_dir, STAGING_DIR)
                ) from exc
            raise
        with self._sink.lock(self._table_dir):
            result = self._publish(temps)
        self._state = _COMMITTED
        return result

    def abort(self) -> None:
        """Drop the temps; nothing visible changes. Safe to call at any time, never raises.

        Once a publish has begun its temps belong to the journal, which the next commit in
        this table or `recover()` completes, so they are left alone.
        """
        if self._state == _OPEN:
            self._discard()

    # -- writing -----------------------------------------------------------------

    def _require_open(self, action: str) -> None:
        if self._state != _OPEN:
            raise RuntimeError(f"cannot {action}: the writer of {self.window} is {self._state}")

    def _day(self, day: int) -> _DayFiles:
        if day not in self._days:
            self._days[day] = _DayFiles(self._storage, self._options, lambda: self._next_names(day))
        return self._days[day]

    def _next_names(self, day: int) -> tuple[str, str, str]:
        """(full temp path, temp relative to the table, final relative to the table)."""
        if not self._created:
            self._storage.make_dirs(join(self._table_dir, STAGING_DIR))
        number = next(self._numbers)
        temp = join(STAGING_DIR, temp_file(self.window, self.token, number))
        final = join(partition_dir(day), data_file(self.window, self.token, number))
        self._created.append(join(self._table_dir, temp))
        return self._created[-1], temp, final

    def _finish_temps(self) -> list[_Temp]:
        temps = [temp for day in sorted(self._days) for temp in self._days[day].finish()]
        for temp in temps:
            self._storage.sync(join(self._table_dir, temp.temp))
        if temps:
            self._storage.sync_dir(join(self._table_dir, STAGING_DIR))
        return temps

    def _discard(self) -> None:
        self._state = _ABORTED
        for day in self._days.values():
            day.close_quietly()
        for path in self._created:
            with contextlib.suppress(StorageError):  # recover() removes what is left
                self._storage.delete(path)

    # -- publishing ----------------------------------------------------------------

    def _publish(self, temps: list[_Temp]) -> CommitResult:
        outcome = Outcome()
        for leftover in journal.pending(self._storage, self._table_dir):
            journal.apply(
                self._storage, self._table_dir, leftover, outcome
            )  # an earlier failed publish
        try:
            deletes = self._old_files()
        except StorageError:
            self._discard()  # no journal yet: the temps are ours to remove
            raise
        plan = Journal(
            window=self.window,
            token=self.token,
            moves=tuple((temp.temp, temp.final) for temp in temps),
            deletes=deletes,
        )
        if plan.moves or plan.deletes:
            self._write_journal(plan)
            self._move_into_place(plan)
            self._delete_old(plan)
        return CommitResult(
            files=tuple(join(self._table_dir, temp.final) for temp in temps),
            rows=sum(temp.rows for temp in temps),
            bytes=sum(temp.bytes for temp in temps),
            replaced=len(plan.deletes),
        )

    def _old_files(self) -> tuple[str, ...]:
        """Published files whose window overlaps this one (any other token), to be replaced.

        Files of another grid (say a 1h window's, now that windows are 15m) count too: left
        in place their rows would duplicate ours. One that reaches outside this window also
        holds rows this window does not rewrite, so it can neither stay nor go: StorageError.
        """
        old = []
        for day in days_of(self.window):
            directory = partition_dir(day)
            for info in self._storage.listing(join(self._table_dir, directory)):
                named = data_file_window(info.base_name)
                if named is None or named[1] == self.token:
                    continue
                window = named[0]
                if window.end_ms <= self.window.start_ms or window.start_ms >= self.window.end_ms:
                    continue
                if window.start_ms < self.window.start_ms or window.end_ms > self.window.end_ms:
                    raise self._other_grid(join(directory, info.base_name), window)
                old.append(join(directory, info.base_name))
        return tuple(sorted(old))

    def _other_grid(self, name: str, window: Window) -> StorageError:
        theirs = _duration(window.end_ms - window.start_ms)
        ours = _duration(self.window.end_ms - self.window.start_ms)
        return StorageError(
            f"cannot publish window {self.window} of {self._table_dir}: the table holds files "
            f"of another window size or grid ({name} covers [{window.start_ms}, "
            f"{window.end_ms}), {theirs}; this window is {ours}), and replacing them would "
            "drop rows outside this window. WINDOW_SIZE must match the table's grid "
            f"({theirs}), or re-ingest the table into a new OUTPUT_DIR. Nothing was changed"
        )

    def _write_journal(self, plan: Journal) -> None:
        try:
            journal.write(self._storage, self._table_dir, plan)
        except StorageError:
            # The journal must be gone before its temps are: a journal without temps
            # would make recover() delete the old files with nothing to replace them.
            try:
                journal.forget(self._storage, self._table_dir, plan)
            except StorageError:
                raise self._failed("the next start finishes the publish") from None
            self._discard()
            raise

    def _move_into_place(self, plan: Journal) -> None:
        outcome = Outcome()
        try:
            journal.move_into_place(self._storage, self._table_dir, plan, outcome)
        except StorageError as exc:
            # No old file is deleted yet: roll back so the window keeps its old set now.
            self._roll_back(plan, exc)
            raise self._failed("it was rolled back, the window keeps its old files", exc) from exc
        if outcome.missing:
            # Temps gone before they were renamed: publishing the rest would lose their
            # rows, and deleting the old files would lose those too. Keep the old set.
            self._roll_back(plan, None)
            raise StorageError(
                f"publishing window {self.window} of {self._table_dir} failed: "
                f"{len(outcome.missing)} of its temp files vanished from "
                f"{join(self._table_dir, STAGING_DIR)} before they were published "
                f"(first: {outcome.missing[0]}); another process may be using the same "
                "OUTPUT_DIR (its start removes temps it takes for stale). "
                "It was rolled back, the window keeps its old files"
            )

    def _roll_back(self, plan: Journal, cause: BaseException | None) -> None:
        try:
            journal.write(self._storage, self._table_dir, plan.undoing())
            journal.apply(self._storage, self._table_dir, plan.undoing(), Outcome())
        except StorageError as exc:
            raise self._failed("the next start finishes the publish") from (cause or exc)

    def _delete_old(self, plan: Journal) -> None:
        try:
            journal.delete_old(self._storage, self._table_dir, plan, Outcome())
            journal.forget(self._storage, self._table_dir, plan)
        except StorageError as exc:
            raise self._failed(
                "the new files are in place; the next start removes the old ones", exc
            ) from exc

    def _failed(self, what_now: str, cause: BaseException | None = None) -> StorageError:
        reason = f": {cause}" if cause else ""
        return StorageError(
            f"publishing window {self.window} of {self._table_dir} failed{reason}; {what_now}"
        )


def _duration(ms: int) -> str:
    """`15m`, `1h`, `1d`: a window size as WINDOW_SIZE would spell it, else milliseconds."""
    for unit, size in (("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _as_storage_error(exc: OSError | StorageError, action: str, path: str) -> StorageError:
    return exc if isinstance(exc, StorageError) else storage_error(exc, action, path)


def _split_by_day(table: pa.Table, window: Window) -> Iterator[tuple[int, pa.Table]]:
    """The rows of each UTC day the window touches (one slice, no copy, for most windows)."""
    days = days_of(window)
    if len(days) == 1:
        yield days[0], table
        return
    millis = table.column(TIMESTAMP_COLUMN).cast(pa.int64())
    for day in days:
        inside = pc.and_(
            pc.greater_equal(millis, day * DAY_MS), pc.less(millis, (day + 1) * DAY_MS)
        )
        rows = table.filter(inside)
        if rows.num_rows:
            yield day, rows


class _DayFiles:
    """One UTC day of a window: rows buffered into row groups, written to temp files.

    A file's schema is fixed once it is opened; a batch that widens it ends that file and
    starts the next. Before the first row group is written the schema is still free, so
    columns that appear early cost no extra file.
    """

    def __init__(
        self, storage: Storage, options: _Options, next_names: Callable[[], tuple[str, str, str]]
    ) -> None:
        self._storage = storage
        self._options = options
        self._next_names = next_names
        self._schema: pa.Schema | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._file: _TempFile | None = None
        self._done: list[_Temp] = []
        # integer columns that held values a float64 would round: they widen to string
        self._big_ints: set[str] = set()

    def add(self, rows: pa.Table) -> None:
        rows = self._conformed(rows)
        self._buffer.append(rows)
        self._buffered += rows.num_rows
        if self._buffered >= self._options.row_group_rows:
            self._flush(everything=False)

    def finish(self) -> list[_Temp]:
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
            unified = exact(unify([self._schema, rows.schema]), self._big_ints)
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

    def _open(self) -> _TempFile:
        assert self._schema is not None  # rows were added before any flush
        self._set_schema(for_file(self._schema))
        path, temp, final = self._next_names()
        self._file = _TempFile(self._storage, path, temp, final, self._schema, self._options)
        return self._file

    def _close(self) -> None:
        if self._file is not None:
            self._done.append(self._file.close())
            self._file = None


class _TempFile:
    """One Parquet temp file being written through `pyarrow.parquet.ParquetWriter`."""

    def __init__(
        self,
        storage: Storage,
        path: str,
        temp: str,
        final: str,
        schema: pa.Schema,
        options: _Options,
    ) -> None:
        self._storage = storage
        self._path, self._temp, self._final = path, temp, final
        self._row_group_rows = options.row_group_rows
        self._rows = 0
        self._stream = storage.open_output(path)
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

    def write(self, rows: pa.Table) -> None:
        self._writer.write_table(rows, row_group_size=self._row_group_rows)
        self._rows += rows.num_rows

    def close(self) -> _Temp:
        self._writer.close()
        self._stream.close()
        return _Temp(self._temp, self._final, self._rows, self._storage.size(self._path))

    def close_quietly(self) -> None:
        for close in (self._writer.close, self._stream.close):
            with contextlib.suppress(OSError):  # the file is deleted next; its end does not matter
                close()
