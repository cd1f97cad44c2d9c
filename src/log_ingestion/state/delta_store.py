"""Checkpoints kept in the Delta tables themselves: nothing on local disk.

A log's table is `<root>/<slug of its name>-<short id of its id>` (`sink.naming`), so its
checkpoint is found from the log id alone: the table whose name ends in the short id and
whose newest checkpoint names the log. A process started on an empty machine with the
same settings resumes where the last one stopped.

    store = DeltaCheckpointStore(lake)
    store.load(log_id)        # from the table's history; empty when there is no table
    store.save(checkpoint)    # a log's start: the table is created by the first
    store.rewind(log_id, ms)  # a `state reset`: a metadata-only commit
    store.list()              # every table's checkpoint

A window's checkpoint is saved by the sink's commit, with its rows. No lock: the commit
protocol keeps racing writers apart (ADR 0003).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

from log_ingestion.sink.delta import Lake
from log_ingestion.sink.naming import short_id
from log_ingestion.state.checkpoint import LogCheckpoint

Names = list[str]  # `list` is a method of the store: its annotations use this name


class DeltaCheckpointStore:
    """The `CheckpointStore` of Delta tables; see the module doc."""

    def __init__(self, lake: Lake, *, clock: Callable[[], float] = time.time) -> None:
        self.lake = lake
        self._clock = clock
        self._names: Names | None = None

    def load(self, log_id: str) -> LogCheckpoint:
        for name in self._candidates(log_id):
            table = self.lake.table(name)
            if table.refresh() and table.checkpoint and table.checkpoint.log_id == log_id:
                return table.checkpoint
        return LogCheckpoint(log_id=log_id)

    def save(self, checkpoint: LogCheckpoint) -> LogCheckpoint:
        """Start a log with `checkpoint` (its table and grid): the first save creates the
        table. When the table has a checkpoint already, another worker started the log
        since `checkpoint` was loaded, and that one is returned, windows and all."""
        if not checkpoint.table:
            raise ValueError("a checkpoint without a table cannot be saved; this is a bug")
        saved = replace(checkpoint, updated_at=self._now())
        table = self.lake.table(checkpoint.table)
        if not table.refresh():
            self._names = None
            return table.create(saved)
        return table.save(lambda current: current or saved)

    def rewind(self, log_id: str, from_ms: int) -> LogCheckpoint:
        """Forget what the log committed from `from_ms` on (`LogCheckpoint.rewound`), in the
        table's newest checkpoint: after a lost race, in the one the winner left."""
        found = self.load(log_id)
        if not found.table:
            return found
        now = self._now()
        return self.lake.table(found.table).save(
            lambda current: replace((current or found).rewound(from_ms), updated_at=now)
        )

    def list(self) -> list[LogCheckpoint]:
        """Every table's checkpoint, by log name then id."""
        self._names = None
        found = []
        for name in self._listing():
            table = self.lake.table(name)
            if table.refresh() and table.checkpoint is not None:
                found.append(table.checkpoint)
        return sorted(found, key=lambda checkpoint: (checkpoint.log_name, checkpoint.log_id))

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """No lock to hold: racing writers are kept apart by the commit protocol."""
        yield

    def _candidates(self, log_id: str) -> Names:
        suffix = f"-{short_id(log_id)}"
        names = [name for name in self._listing() if name.endswith(suffix)]
        if not names and self._names is not None:
            self._names = None  # another process may have created it since the listing
            names = [name for name in self._listing() if name.endswith(suffix)]
        return names

    def _listing(self) -> Names:
        if self._names is None:
            self._names = self.lake.names()
        return self._names

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), tz=UTC).isoformat(timespec="milliseconds")
