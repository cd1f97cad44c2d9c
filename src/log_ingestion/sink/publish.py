"""The publish protocol of the Parquet folder: a window's temps become visible all at once.

A journal of renames and deletions is written atomically before anything visible
changes (the commit point); the temps are then renamed into their partitions and the
window's old files deleted. A crash at any step leaves, once `recover()` has run, the
window's complete old set of files or its complete new set. The steps and their crash
cases are in `docs/arch/parquet-publish.md`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink import journal
from log_ingestion.sink.files import TempFile
from log_ingestion.sink.journal import Journal, Outcome
from log_ingestion.sink.naming import (
    DAY_MS,
    STAGING_DIR,
    data_file_window,
    days_of,
    join,
    partition_dir,
)
from log_ingestion.sink.storage import Storage


@dataclass(frozen=True, slots=True)
class Published:
    """A published window: its files (full paths), rows and bytes, and old files replaced."""

    files: tuple[str, ...]
    rows: int
    bytes: int
    replaced: int = 0


class Publication:
    """One publish of a window's temps into its table, replacing the window's old files.

    `discard` removes the temps; it is called where they are still ours to remove (no
    journal names them yet).
    """

    def __init__(
        self,
        storage: Storage,
        table_dir: str,
        window: Window,
        token: str,
        discard: Callable[[], None],
    ) -> None:
        self._storage = storage
        self._table_dir = table_dir
        self._window = window
        self._token = token
        self._discard = discard

    def run(self, temps: list[TempFile]) -> Published:
        """Publish `temps`, all or nothing; see the module doc for what a failure leaves."""
        outcome = Outcome()
        for leftover in journal.pending(self._storage, self._table_dir):
            journal.apply(self._storage, self._table_dir, leftover, outcome)
        try:
            deletes = self._old_files()
        except StorageError:
            self._discard()
            raise
        plan = Journal(
            window=self._window,
            token=self._token,
            moves=tuple((temp.temp, temp.final) for temp in temps),
            deletes=deletes,
        )
        if plan.moves or plan.deletes:
            self._write_journal(plan)
            self._move_into_place(plan)
            self._delete_old(plan)
        return Published(
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
        for day in days_of(self._window):
            directory = partition_dir(day)
            for info in self._storage.listing(join(self._table_dir, directory)):
                named = data_file_window(info.base_name)
                if named is None or named[1] == self._token:
                    continue
                window = named[0]
                if window.end_ms <= self._window.start_ms or window.start_ms >= self._window.end_ms:
                    continue
                if window.start_ms < self._window.start_ms or window.end_ms > self._window.end_ms:
                    raise self._other_grid(join(directory, info.base_name), window)
                old.append(join(directory, info.base_name))
        return tuple(sorted(old))

    def _other_grid(self, name: str, window: Window) -> StorageError:
        theirs = _duration(window.end_ms - window.start_ms)
        ours = _duration(self._window.end_ms - self._window.start_ms)
        return StorageError(
            f"cannot publish window {self._window} of {self._table_dir}: the table holds files "
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


def _duration(ms: int) -> str:
    """`15m`, `1h`, `1d`: a window size as WINDOW_SIZE would spell it, else milliseconds."""
    for unit, size in (("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
