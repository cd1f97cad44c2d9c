"""One log's Delta table as this process sees it: its snapshot, its newest checkpoint, and
the commits of ours that change it, each retried when another writer got there first.

Every commit of ours carries the log's checkpoint in its commit metadata and an application
transaction of the log (`state.in_table`): two commits of one log that race always conflict
(`CommitFailedError`), whatever ranges they touch, so neither can erase the other's
checkpoint. The loser reloads the table, reads the checkpoint it now holds, and decides
again: a window another writer committed meanwhile is skipped, anything else is redone on
the new snapshot, at most ATTEMPTS times. The table is created empty (the event columns,
partitioned by `date`) by its log's first checkpoint, with no retry at another version,
so two creators cannot both succeed. Never plain appends: a predicate overwrite replaces
the window's rows, so a re-run, a rescan or a resumed crash lands every event once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.fs import DeltaStorageHandler

from log_ingestion.errors import StorageError
from log_ingestion.logging import get_logger
from log_ingestion.models import Window
from log_ingestion.sink.delta_schema import EVENT_SCHEMA, fitted, predicate
from log_ingestion.sink.lake_store import LakeOptions, is_store_failure, short, translated
from log_ingestion.sink.naming import PARTITION_KEY
from log_ingestion.sink.publish import Published
from log_ingestion.state.checkpoint import LogCheckpoint
from log_ingestion.state.in_table import app_id, covers, merged, newest, to_metadata

T = TypeVar("T")
ATTEMPTS = 8
BACKOFF_S = 0.05
DELTA_LOG = "_delta_log"
SEARCH_LIMITS = (1, 16, None)  # history read back this far for the newest checkpoint
SKIPPED = Published(files=(), rows=0, bytes=0)


def stamped(checkpoint: LogCheckpoint) -> LogCheckpoint:
    """`checkpoint` saved now."""
    now = datetime.now(tz=UTC).isoformat(timespec="milliseconds")
    return replace(checkpoint, updated_at=now)


class LakeTable:
    """A log's table under the root: open it, read its checkpoint, commit to it.

    One thread at a time (`lock`); the sink and the checkpoint store share one per table.
    """

    def __init__(self, options: LakeOptions, name: str, writer: WriterProperties) -> None:
        self.name = name
        self.uri = options.uri(name)
        self.lock = threading.RLock()
        self.checkpoint: LogCheckpoint | None = None
        self._options = options
        self._writer = writer
        self._table: DeltaTable | None = None
        self._handler: DeltaStorageHandler | None = None

    # -- reading --------------------------------------------------------------------

    def refresh(self) -> bool:
        """Bring the snapshot and the checkpoint up to date; False when there is no table."""
        with self.lock, translated(f"read table {self.name}", self._options):
            if self._table is None:
                try:
                    self._table = DeltaTable(self.uri, storage_options=self._storage())
                except TableNotFoundError:
                    return False
                self.checkpoint = self._search()
            else:
                self._catch_up(self._table.version())
        return True

    def schema(self) -> pa.Schema:
        return pa.schema(self._require().schema().to_arrow())

    def _search(self) -> LogCheckpoint | None:
        """The newest checkpoint anywhere in the history, reading back only as far as needed."""
        table = self._require()
        for limit in SEARCH_LIMITS:
            entries = table.history(limit)
            found = newest(entries, self.uri)
            if found is not None:
                return found
            if limit is None or len(entries) < limit:  # the whole history: a copy, if any
                return newest(entries, self.uri, copies=True)
        return None

    def _catch_up(self, known: int) -> list[dict[str, Any]]:
        """Update the snapshot; the commits after version `known`, newest first (the
        checkpoint follows the newest of them that carries one)."""
        table = self._require()
        table.update_incremental()
        if table.version() <= known:
            return []
        entries = table.history(table.version() - known)
        found = newest(entries, self.uri)
        if found is not None:
            self.checkpoint = found
        return entries

    def _require(self) -> DeltaTable:
        """The table, opened first if need be; it must exist (its log's first checkpoint
        created it)."""
        if self._table is None and not self.refresh():
            raise StorageError(
                f"table {self.uri} does not exist: its log's checkpoint creates it; "
                "was it deleted while running?"
            )
        assert self._table is not None
        return self._table

    # -- commits ----------------------------------------------------------------------

    def create(self, checkpoint: LogCheckpoint) -> LogCheckpoint:
        """Create the table with `checkpoint` as its first commit; when another writer
        created it first, its checkpoint instead (the first commit fixes name and grid)."""
        with self.lock:
            if self.refresh():
                return self.save(lambda table: table or checkpoint)
            refuse_foreign_files(self._options, self.name)
            properties = self._properties(checkpoint, None, version=0, retries=0)
            try:
                with translated(f"create table {self.name}", self._options):
                    self._table = DeltaTable.create(
                        self.uri,
                        EVENT_SCHEMA,
                        partition_by=[PARTITION_KEY],
                        name=self.name,
                        storage_options=self._storage(),
                        commit_properties=properties,
                    )
            except (CommitFailedError, DeltaError) as exc:
                if not self.refresh():
                    raise self._failed("create table", exc) from None
                return self.save(lambda table: table or checkpoint)
            self.checkpoint = checkpoint
            return checkpoint

    def save(self, change: Callable[[LogCheckpoint | None], LogCheckpoint]) -> LogCheckpoint:
        """A commit with no rows that makes `change(the table's checkpoint)` the table's (a
        log's start, a `state reset`); none when that is the table's already. After a lost
        race `change` is applied again, to the checkpoint the winner left."""
        with self.lock:
            for attempt in range(ATTEMPTS):
                table = self._require()
                known = table.version()
                checkpoint = change(self.checkpoint)
                if checkpoint is self.checkpoint:
                    return checkpoint
                try:
                    with translated(f"commit to table {self.name}", self._options):
                        table.create_write_transaction(
                            [],
                            mode="append",
                            schema=table.schema(),
                            partition_by=[PARTITION_KEY],
                            commit_properties=self._properties(checkpoint, None),
                        )
                        self._catch_up(known)
                except CommitFailedError as exc:
                    self._conflicted(attempt, exc, known)
                    continue
                self.checkpoint = checkpoint
                return checkpoint
        raise self._kept_conflicting()

    def commit(
        self, window: Window, rows: pa.Table, big_ints: set[str], ours: LogCheckpoint | None
    ) -> Published:
        """Replace the rows of `window` with `rows`, carrying the table's checkpoint merged
        with `ours`, in one commit; skipped when another writer committed the window first."""
        with self.lock:
            for attempt in range(ATTEMPTS):
                table = self._require()
                known = table.version()
                after = None if ours is None else stamped(merged(self.checkpoint, ours, window))
                data = fitted(rows, self.schema(), big_ints)
                try:
                    self._write(table, window, data, after)
                except CommitFailedError as exc:
                    if any(
                        covers(entry, window, self.uri)
                        for entry in self._conflicted(attempt, exc, known)
                    ):
                        return SKIPPED  # another writer committed this window meanwhile
                    continue
                self.checkpoint = after or self.checkpoint
                return self._published(table.version(), data.num_rows)
        raise self._kept_conflicting()

    def maintain(self, operation: Callable[[DeltaTable, CommitProperties], T]) -> T:
        """Run a maintenance commit (a compaction, a vacuum) given a copy of the log's
        checkpoint, marked carried, and its application transaction, tried again when it
        loses a race. A vacuum keeps the transaction and so conflicts with the log's own
        commits; a compaction drops it, and conflicts with a window's commit only where both
        rewrite a file (ConcurrentDeleteDelete). The mark keeps its copy, which may be a
        window behind, from hiding the checkpoint of a commit it raced."""
        with self.lock:
            for attempt in range(ATTEMPTS):
                table = self._require()
                known = table.version()
                try:
                    with translated(f"maintain table {self.name}", self._options):
                        properties = self._properties(self.checkpoint, None, carried=True)
                        return operation(table, properties)
                except CommitFailedError as exc:
                    self._conflicted(attempt, exc, known)
                except DeltaError as exc:  # the table refused it: one clear line
                    raise self._failed("maintain table", exc) from exc
        raise self._kept_conflicting()

    def _write(
        self, table: DeltaTable, window: Window, data: pa.Table, after: LogCheckpoint | None
    ) -> None:
        with translated(f"commit to table {self.name}", self._options):
            try:
                write_deltalake(
                    table,
                    data,
                    mode="overwrite",
                    predicate=predicate(window),
                    partition_by=[PARTITION_KEY],
                    schema_mode="merge",
                    writer_properties=self._writer,
                    commit_properties=self._properties(after, window),
                )
            except CommitFailedError:
                raise
            except DeltaError as exc:
                if is_store_failure(exc):
                    raise  # `translated` names its cause
                # invalid data, schema: a bug of ours, one clear line
                raise self._failed(f"write window {window}", exc) from exc

    def _properties(
        self,
        checkpoint: LogCheckpoint | None,
        window: Window | None,
        *,
        version: int | None = None,
        retries: int | None = None,
        carried: bool = False,
    ) -> CommitProperties:
        if checkpoint is None:
            return CommitProperties(max_commit_retries=retries)
        app = app_id(checkpoint.log_id)
        if version is None:
            version = (self._require().transaction_version(app) or 0) + 1
        return CommitProperties(
            custom_metadata=to_metadata(checkpoint, window, carried=carried),
            app_transactions=[Transaction(app, version)],
            max_commit_retries=retries,
        )

    def _conflicted(self, attempt: int, exc: Exception, known: int) -> list[dict[str, Any]]:
        """After a lost race: the commits that won it, the snapshot and checkpoint updated."""
        get_logger().info("commit.conflict", table=self.name, attempt=attempt + 1, error=str(exc))
        time.sleep(random.uniform(0, BACKOFF_S * (attempt + 1)))
        with translated(f"read table {self.name}", self._options):
            return self._catch_up(known)

    def _kept_conflicting(self) -> StorageError:
        return StorageError(
            f"table {self.uri}: {ATTEMPTS} commits in a row lost to other writers; nothing "
            "was lost, run again (or run fewer writers on one log at once)"
        )

    def _failed(self, action: str, exc: Exception) -> StorageError:
        detail = short(str(exc), self._options) or type(exc).__name__
        return StorageError(f"cannot {action} of {self.uri}: {detail}")

    def _published(self, version: int, rows: int) -> Published:
        """What a commit added and removed, from its own log entry (one small read)."""
        try:
            entry = self._files().open_input_file(f"{DELTA_LOG}/{version:020d}.json").read()
        except OSError:  # committed all the same; only the figures are missing
            return Published(files=(), rows=rows, bytes=0)
        actions = [json.loads(line) for line in entry.decode().splitlines() if line.strip()]
        added = [action["add"] for action in actions if "add" in action]
        removed = sum("remove" in action for action in actions)
        files = tuple(f"{self.uri}/{add['path']}" for add in added)
        return Published(files, rows, sum(int(add.get("size", 0)) for add in added), removed)

    def _files(self) -> DeltaStorageHandler:
        if self._handler is None:
            self._handler = DeltaStorageHandler(self.uri, self._storage())
        return self._handler

    def _storage(self) -> dict[str, str]:
        return self._options.storage_options()


def refuse_foreign_files(options: LakeOptions, name: str) -> None:
    """A folder that holds files but no Delta log (Parquet tables of TABLE_FORMAT=parquet)
    is not made a Delta table: its files would be invisible, and a vacuum would delete them.
    A Delta log is another writer's table appearing since `refresh` (its first commit comes
    before any file of rows): `create` then finds it."""
    with translated(f"list {name}", options):
        root = DeltaStorageHandler(options.root, options.storage_options())
        selector = pafs.FileSelector(name, recursive=False, allow_not_found=True)
        found = root.get_file_info_selector(selector)
    if found and DELTA_LOG not in {info.base_name for info in found}:
        raise StorageError(
            f"{options.uri(name)} holds files but is not a Delta table (a Parquet table of "
            "TABLE_FORMAT=parquet?); move it away or choose another OUTPUT_DIR"
        )
