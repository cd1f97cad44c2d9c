"""The publish protocol of the Parquet folder: a window's temps become visible all at once.

A journal of renames and deletions is written atomically before anything visible
changes (the commit point); the temps are then renamed into their partitions and the
window's old files deleted. An old file that also holds rows outside the window (a
larger unit committed earlier) has those rows carried into a new file of the same
publish, so nothing outside the window is lost or doubled. A crash at any step leaves,
once `recover()` has run, the window's complete old set of files or its complete new
set. The steps and their crash cases are in `docs/arch/parquet-publish.md`.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink import journal
from log_ingestion.sink.files import FileOptions, TempFile, write_temp
from log_ingestion.sink.journal import Journal, Outcome
from log_ingestion.sink.naming import (
    STAGING_DIR,
    data_file,
    data_file_window,
    days_of,
    join,
    partition_dir,
    temp_file,
)
from log_ingestion.sink.schema import TIMESTAMP_COLUMN
from log_ingestion.sink.storage import Storage

CARRIED_NUMBERS = 1_000_000  # carried files are numbered apart from the writer's own


@dataclass(frozen=True, slots=True)
class Published:
    """A published window: its files (full paths), rows and bytes, and old files replaced."""

    files: tuple[str, ...]
    rows: int
    bytes: int
    replaced: int = 0


class Publication:
    """One publish of a window's temps into its table, replacing the window's old rows.

    `discard` removes the writer's temps; it is called where they are still ours to remove
    (no journal names them yet), together with the temps of carried rows. `replacing`, when
    given, names the old files exactly (a compaction's), instead of every file overlapping
    the window.
    """

    def __init__(
        self,
        storage: Storage,
        table_dir: str,
        window: Window,
        token: str,
        options: FileOptions,
        discard: Callable[[], None],
        replacing: tuple[str, ...] | None = None,
    ) -> None:
        self._storage = storage
        self._table_dir = table_dir
        self._window = window
        self._token = token
        self._options = options
        self._discard_writer = discard
        self._replacing = replacing
        self._carried: list[str] = []
        self._numbers = itertools.count(CARRIED_NUMBERS)

    def run(self, temps: list[TempFile]) -> Published:
        """Publish `temps`, all or nothing; see the module doc for what a failure leaves."""
        outcome = Outcome()
        for leftover in journal.pending(self._storage, self._table_dir):
            journal.apply(self._storage, self._table_dir, leftover, outcome)
        try:
            deletes, carried = (
                (self._replacing, ()) if self._replacing is not None else self._old_files()
            )
        except Exception:
            self._discard()
            raise
        plan = Journal(
            window=self._window,
            token=self._token,
            moves=tuple(self._move(temp) for temp in temps) + carried,
            deletes=deletes,
        )
        if plan.moves or plan.deletes:
            self._write_journal(plan)
            self._move_into_place(plan)
            self._delete_old(plan)
        return Published(
            files=tuple(join(self._table_dir, final) for _, final in plan.moves[: len(temps)]),
            rows=sum(temp.rows for temp in temps),
            bytes=sum(temp.bytes for temp in temps),
            replaced=len(plan.deletes),
        )

    def _move(self, temp: TempFile) -> tuple[str, str]:
        final = data_file(self._window, self._token, temp.number)
        return temp.temp, join(partition_dir(temp.day), final)

    def _old_files(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """Published files whose window overlaps this one (any other token), to be replaced,
        and the moves of the rows carried out of those that reach outside this window."""
        old, carried = [], []
        for day in days_of(self._window):
            directory = partition_dir(day)
            for info in self._storage.listing(join(self._table_dir, directory)):
                named = data_file_window(info.base_name)
                if named is None or named[1] == self._token:
                    continue
                window = named[0]
                if window.end_ms <= self._window.start_ms or window.start_ms >= self._window.end_ms:
                    continue
                path = join(directory, info.base_name)
                old.append(path)
                if window.start_ms < self._window.start_ms or window.end_ms > self._window.end_ms:
                    carried += self._carry(path, window, day)
        return tuple(sorted(old)), tuple(carried)

    def _carry(self, path: str, extent: Window, day: int) -> list[tuple[str, str]]:
        """The rows of an old file outside this window, in a temp that keeps its extent."""
        rows = self._storage.read_table(join(self._table_dir, path))
        millis = rows.column(TIMESTAMP_COLUMN).cast(pa.int64())
        outside = pc.or_(
            pc.less(millis, self._window.start_ms), pc.greater_equal(millis, self._window.end_ms)
        )
        kept = rows.filter(outside)
        if not kept.num_rows:
            return []
        number = next(self._numbers)
        temp = join(STAGING_DIR, temp_file(self._token, number))
        self._carried.append(join(self._table_dir, temp))
        write_temp(
            self._storage, self._carried[-1], TempFile(temp, day, number, 0, 0), kept, self._options
        )
        self._storage.sync(self._carried[-1])
        final = join(partition_dir(day), data_file(extent, self._token, number))
        return [(temp, final)]

    def _discard(self) -> None:
        self._discard_writer()
        for path in self._carried:
            with contextlib.suppress(StorageError):  # recover() removes what is left
                self._storage.delete(path)

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
                f"publishing window {self._window} of {self._table_dir} failed: "
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
            f"publishing window {self._window} of {self._table_dir} failed{reason}; {what_now}"
        )
