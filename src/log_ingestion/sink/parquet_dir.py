"""The Parquet folder sink: Hive-partitioned files, published a window at a time.

    sink = ParquetSink(root, store=JsonCheckpointStore(state_dir))
    sink.recover()                            # at start: finish or roll back publishes
    staged = sink.stage(table)                # nothing visible yet
    staged.write(rows)                        # any number of times
    staged.commit(window, checkpoint)         # the window's files, then the checkpoint
    staged.abort()                            # instead of commit; never raises

The root is a local folder, or a filesystem URI pyarrow opens. Writers of different tables,
or different windows, may run in threads at once; on a local folder one process holds it
(`exclusive`), and a publish holds its table (`lock`) against every other publish,
`recover()`, audit or compaction of it, in any process. An object store has no such locks.
Layout, schema rules and the publish protocol are in `docs/arch/parquet-publish.md`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs

from log_ingestion.config_values import COMPRESSIONS
from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.models import Window
from log_ingestion.sink import journal, locks
from log_ingestion.sink.files import DEFAULT_LEVELS, DayFiles, FileOptions, TempFile, split_by_day
from log_ingestion.sink.journal import Outcome
from log_ingestion.sink.naming import STAGING_DIR, check_table, join, new_token, temp_file
from log_ingestion.sink.publish import Publication, Published
from log_ingestion.sink.schema import check_inside, with_event_timestamp, without_partition_key
from log_ingestion.sink.storage import Storage, storage_error

if TYPE_CHECKING:
    from log_ingestion.state import CheckpointStore, LogCheckpoint


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


class ParquetSink:
    """Writes windows of rows as Hive-partitioned Parquet under `root`; see the module doc.

    `store` saves each commit's checkpoint once the window's files are published; without
    one, commits publish rows only.
    """

    def __init__(
        self,
        root: str,
        *,
        store: CheckpointStore | None = None,
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
        self.store = store
        codec = compression.lower()
        level = DEFAULT_LEVELS.get(codec) if compression_level is None else compression_level
        self._options = FileOptions(codec, row_group_rows, level)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def options(self) -> FileOptions:
        """How its files are encoded (codec, level, row groups)."""
        return self._options

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
            if self.storage.kind(join(info.path, STAGING_DIR)) != pafs.FileType.Directory:
                continue  # nothing was ever staged there: nothing to finish
            with self.lock(info.base_name):
                self.finish_publishes(info.path, outcome)
                stale += self._remove_staging_files(info.path)
        return RecoveryReport(
            journals=outcome.journals,
            moved=outcome.moved,
            deleted=outcome.deleted,
            undone=outcome.undone,
            stale=stale,
            missing=tuple(outcome.missing),
        )

    def finish_publishes(self, table_dir: str, outcome: Outcome | None = None) -> None:
        """Carry out the journals of the table's interrupted publishes. Hold its `lock`:
        under it, a journal is never one a publisher is still carrying out."""
        outcome = Outcome() if outcome is None else outcome
        for pending in journal.pending(self.storage, table_dir):
            journal.apply(self.storage, table_dir, pending, outcome)

    def stage(self, table: str) -> WindowWriter:
        """A writer of one table's rows; nothing is visible until `commit(window)`."""
        return WindowWriter(self, self.table_path(table), self._options)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the output folder for this process until the block ends, or refuse at once
        (StorageError) while another process holds it, whatever its state folder."""
        self.ensure_root()
        if not self.storage.local:
            yield
            return
        root = self.root

        def refused() -> StorageError:
            return StorageError(
                f"another log-ingestion process is writing OUTPUT_DIR {root} (whatever its "
                "STATE_DIR): two writers of one output would both keep rows of the same "
                "windows. Stop it first, or give this run its own OUTPUT_DIR"
            )

        with locks.exclusive(join(root, locks.OUTPUT_LOCK_FILE), refused, "lock output folder"):
            yield

    @contextlib.contextmanager
    def lock(self, table: str) -> Iterator[None]:
        """Hold one table (a name or its path) against every other publish or audit of it,
        in this process (threads) and in others (a file lock in its `_staging`): a publish
        lists the window's old files and replaces them with nobody else in between."""
        name = table.rsplit("/", 1)[-1]
        with self._locks_guard:
            in_process = self._locks.setdefault(name, threading.Lock())
        with in_process:
            if not self.storage.local:
                yield
                return
            staging = join(self.root, name, STAGING_DIR)
            self.storage.make_dirs(staging)
            with locks.waiting(join(staging, locks.LOCK_FILE), "lock table"):
                yield

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
            if info.type == pafs.FileType.File and not info.base_name.startswith(".")
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
    """Collects rows into temp files; `commit(window)` publishes them as the window's rows,
    `abort()` drops them. Also a context manager that aborts on leaving unless committed.
    """

    def __init__(self, sink: ParquetSink, table_dir: str, options: FileOptions) -> None:
        self.token = new_token()
        self._sink = sink
        self._storage = sink.storage
        self._table_dir = table_dir
        self._options = options
        self._numbers = itertools.count()
        self._days: dict[int, DayFiles] = {}
        self._created: list[str] = []
        self._low: int | None = None
        self._high: int | None = None
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
        batch, low, high = with_event_timestamp(batch)
        batch = without_partition_key(batch)
        self._low = low if self._low is None else min(self._low, low)
        self._high = high if self._high is None else max(self._high, high)
        try:
            for day, rows in split_by_day(batch):
                self._day(day).add(rows)
        except (OSError, StorageError) as exc:
            self.abort()
            raise _as_storage_error(
                exc, "write a temp file in", join(self._table_dir, STAGING_DIR)
            ) from exc

    def commit(self, window: Window, checkpoint: LogCheckpoint | None = None) -> Published:
        """Publish every row written as the rows of `window`, replacing the window's
        earlier rows, all or nothing; then save `checkpoint`, so it never describes rows
        that are not in place.

        On a `StorageError` the window keeps its old rows, unless the message says the
        new ones are in place and the next `recover()` removes the old ones.
        """
        self._require_open("commit")
        check_inside(window, self._low, self._high)
        self._state = _PUBLISHING
        temps = self._finished_temps()
        publication = Publication(
            self._storage, self._table_dir, window, self.token, self._options, self._discard
        )
        with self._sink.lock(self._table_dir):
            published = publication.run(temps)
        self._state = _COMMITTED
        if checkpoint is not None and self._sink.store is not None:
            self._sink.store.save(checkpoint)
        return published

    def abort(self) -> None:
        """Drop the temps; nothing visible changes. Safe to call at any time, never raises.

        Once a publish has begun its temps belong to the journal, which the next commit in
        this table or `recover()` completes, so they are left alone.
        """
        if self._state == _OPEN:
            self._discard()

    def _require_open(self, action: str) -> None:
        if self._state != _OPEN:
            raise RuntimeError(f"cannot {action}: the writer is {self._state}")

    def _day(self, day: int) -> DayFiles:
        if day not in self._days:
            self._days[day] = DayFiles(self._storage, self._options, day, self._next_names)
        return self._days[day]

    def _next_names(self) -> tuple[str, str, int]:
        """(full temp path, temp relative to the table, its number)."""
        if not self._created:
            self._storage.make_dirs(join(self._table_dir, STAGING_DIR))
        number = next(self._numbers)
        temp = join(STAGING_DIR, temp_file(self.token, number))
        self._created.append(join(self._table_dir, temp))
        return self._created[-1], temp, number

    def _finished_temps(self) -> list[TempFile]:
        """Every temp closed and synced, the staging folder too; on failure, none left."""
        try:
            temps = [temp for day in sorted(self._days) for temp in self._days[day].finish()]
            for temp in temps:
                self._storage.sync(join(self._table_dir, temp.temp))
            if temps:
                self._storage.sync_dir(join(self._table_dir, STAGING_DIR))
        except Exception as exc:
            self._discard()
            if isinstance(exc, OSError | StorageError):
                raise _as_storage_error(
                    exc, "finish a temp file in", join(self._table_dir, STAGING_DIR)
                ) from exc
            raise
        return temps

    def _discard(self) -> None:
        self._state = _ABORTED
        for day in self._days.values():
            day.close_quietly()
        for path in self._created:
            with contextlib.suppress(StorageError):  # recover() removes what is left
                self._storage.delete(path)


def _as_storage_error(exc: OSError | StorageError, action: str, path: str) -> StorageError:
    return exc if isinstance(exc, StorageError) else storage_error(exc, action, path)
