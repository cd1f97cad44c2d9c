"""The pipeline runs on any `Source`, `Sink` and `CheckpointStore`: test doubles of each,
held in memory, are enough, and the sequential window step needs no thread at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pyarrow as pa

from log_ingestion.ingest import log_plan
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline import Pipeline, PipelineOptions
from log_ingestion.pipeline.cut import Cutter, Rows
from log_ingestion.pipeline.window import Unit, commit_unit, open_unit, write_rows
from log_ingestion.schedule import Request, Task
from log_ingestion.sink import Published, RecoveryReport
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

WINDOW_MS = 1_000
LOG = LogInfo("L1", "app")


class MemoryStore:
    """Checkpoints in a dict."""

    def __init__(self) -> None:
        self.saved: dict[str, LogCheckpoint] = {}

    def load(self, log_id: str) -> LogCheckpoint:
        return self.saved.get(log_id, LogCheckpoint(log_id))

    def save(self, checkpoint: LogCheckpoint) -> LogCheckpoint:
        self.saved[checkpoint.log_id] = checkpoint
        return checkpoint

    def list(self) -> list[LogCheckpoint]:
        return list(self.saved.values())


@dataclass
class MemoryStaged:
    sink: MemorySink
    table: str
    rows: list[pa.Table] = field(default_factory=list)

    def write(self, rows: pa.Table) -> None:
        self.rows.append(rows)

    def commit(self, window: Window, checkpoint: LogCheckpoint | None = None) -> Published:
        """Replace the window's rows, then keep the checkpoint: both at once, in memory."""
        self.sink.tables.setdefault(self.table, {})[window] = self.rows
        if checkpoint is not None:
            self.sink.store.save(checkpoint)
        return Published((f"{self.table}/{window}",), sum(t.num_rows for t in self.rows), 1)

    def abort(self) -> None:
        self.rows = []


@dataclass
class MemorySink:
    store: MemoryStore
    tables: dict[str, dict[Window, list[pa.Table]]] = field(default_factory=dict)

    def recover(self) -> RecoveryReport:
        return RecoveryReport()

    def stage(self, table: str) -> MemoryStaged:
        return MemoryStaged(self, table)

    def messages(self, table: str) -> list[str]:
        return sorted(
            message
            for batches in self.tables[table].values()
            for batch in batches
            for message in batch.column("message").to_pylist()
        )


class TwoPerWindow:
    """Two `key=value` events in every window of the grid, each page served twice (as `Next`
    may), for one log."""

    def pages(
        self, log_ids: str | tuple[str, ...], window: Window, query: str = ""
    ) -> Iterator[EventPage]:
        (log_id,) = (log_ids,) if isinstance(log_ids, str) else log_ids
        for start in range(window.start_ms, window.end_ms, WINDOW_MS):
            stamps = [start, start + 1]
            for _ in range(2):
                yield EventPage(
                    stamps, stamps, [log_id] * 2, [f"n={ts}" for ts in stamps], [[], []]
                )

    def window_counts(
        self, log_ids: str | tuple[str, ...], first: Window, windows: int, query: str = ""
    ) -> list[int]:
        return [2] * windows


def test_the_pipeline_runs_on_doubles_of_its_seams():
    """Three windows of a log land once each through an in-memory sink and store."""
    store = MemoryStore()
    sink = MemorySink(store)
    pipeline = Pipeline(TwoPerWindow(), sink, PipelineOptions(), stop=threading.Event())
    request = Request(end_ms=3 * WINDOW_MS, start_ms=0, lag_ms=0)
    plan = log_plan(store, LOG, request, now=10 * WINDOW_MS, window_ms=WINDOW_MS)

    summary = pipeline.run([plan])

    table = store.load(LOG.id).table
    expected = sorted(f"n={w * WINDOW_MS + i}" for w in range(3) for i in range(2))
    assert expected == sink.messages(table)
    assert store.load(LOG.id).committed == ((0, 3 * WINDOW_MS),)
    assert (
        summary.counts.committed,
        summary.counts.rows,
        summary.counts.verified,
        summary.counts.mismatches,
    ) == (3, 6, 3, 0)


def test_the_window_step_is_sequential_and_commits_rows_with_the_checkpoint():
    """pages -> filter -> cut -> parse -> write -> commit, called in a row, in this thread."""
    store = MemoryStore()
    sink = MemorySink(store)
    tasks = [Task(Window(w, w + WINDOW_MS), Window(w, w + WINDOW_MS), True) for w in (0, WINDOW_MS)]
    checkpoint = replace(LogCheckpoint(LOG.id), table="app-1", window_ms=WINDOW_MS)
    cutter = Cutter(
        Window(0, 2 * WINDOW_MS),
        {LOG.id: tasks},
        {LOG.id: LOG},
        window_ms=WINDOW_MS,
        batch_size=10,
        unit_rows=100,
    )
    unit = open_unit(sink, "app-1", {})
    for item in cutter.cut(TwoPerWindow().pages(LOG.id, Window(0, 2 * WINDOW_MS))):
        if isinstance(item, Rows):
            write_rows(unit, item.events)
        else:
            done = item
    ready = Unit(done.tasks, unit.staged, unit.parser.state(), unit.counts, done.seen, done.seen)
    after, counts = commit_unit(ready, checkpoint)

    assert sink.messages("app-1") == ["n=0", "n=1", "n=1000", "n=1001"]
    assert store.load(LOG.id) == after
    assert after.committed == ((0, 2 * WINDOW_MS),)
    assert after.parser_state == ready.parser_state != {}
    assert replace(counts, message_bytes=0, bytes=0) == Counts(
        windows=2, committed=2, rows=4, files=1, verified=2
    )
