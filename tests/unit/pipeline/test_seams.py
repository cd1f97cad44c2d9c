"""The pipeline runs on any `Source`, `Sink` and `CheckpointStore`: test doubles of each,
held in memory, are enough, and the sequential window step needs no thread at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pyarrow as pa

from log_ingestion.ingest import log_plan
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.parse import MessageParser
from log_ingestion.pipeline import Pipeline, PipelineOptions
from log_ingestion.pipeline.window import EventBatches, commit_window, stage_window
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
    window: Window
    rows: list[pa.Table] = field(default_factory=list)

    def write(self, rows: pa.Table) -> None:
        self.rows.append(rows)

    def commit(self, checkpoint: LogCheckpoint | None = None) -> Published:
        """Replace the window's rows, then keep the checkpoint: both at once, in memory."""
        self.sink.tables.setdefault(self.table, {})[self.window] = self.rows
        if checkpoint is not None:
            self.sink.store.save(checkpoint)
        return Published((f"{self.table}/{self.window}",), sum(t.num_rows for t in self.rows), 1)

    def abort(self) -> None:
        self.rows = []


@dataclass
class MemorySink:
    store: MemoryStore
    tables: dict[str, dict[Window, list[pa.Table]]] = field(default_factory=dict)

    def recover(self) -> RecoveryReport:
        return RecoveryReport()

    def stage(self, table: str, window: Window) -> MemoryStaged:
        return MemoryStaged(self, table, window)

    def messages(self, table: str) -> list[str]:
        return sorted(
            message
            for batches in self.tables[table].values()
            for batch in batches
            for message in batch.column("message").to_pylist()
        )


class TwoPerWindow:
    """Two `key=value` events in every window, each page served twice (as `Next` may)."""

    def pages(self, log_id: str, window: Window, query: str = "") -> Iterator[EventPage]:
        for _ in range(2):
            stamps = [window.start_ms, window.start_ms + 1]
            yield EventPage(stamps, stamps, [log_id] * 2, [f"n={ts}" for ts in stamps], [[], []])

    def count(self, log_id: str, window: Window, query: str = "") -> int:
        return 2


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
    """pages -> filter -> parse -> write -> commit, called in a row, in this thread."""
    store = MemoryStore()
    sink = MemorySink(store)
    task = Task(Window(0, WINDOW_MS), Window(0, WINDOW_MS), closed=True)
    checkpoint = replace(LogCheckpoint(LOG.id), table="app-1", window_ms=WINDOW_MS)
    batches = EventBatches(TwoPerWindow().pages(LOG.id, task.query), task, LOG, size=10)

    staged = stage_window(task, batches, MessageParser(), sink.stage("app-1", task.window))
    after, counts = commit_window(staged, checkpoint, api_count=2)

    assert sink.messages("app-1") == ["n=0", "n=1"]
    assert store.load(LOG.id) == after
    assert after.committed == ((0, WINDOW_MS),)
    assert after.parser_state == staged.parser_state != {}
    assert Counts(windows=1, committed=1, rows=2, files=1, verified=1) == replace(
        counts, message_bytes=0, bytes=0
    )
