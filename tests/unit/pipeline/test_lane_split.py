"""A shared lane asked to split reads its block again in the lanes it splits into, also
when a failed commit has left it a single log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from log_ingestion.ingest import log_plan
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline import Pipeline, PipelineOptions
from log_ingestion.schedule import Request
from log_ingestion.sink import Published
from log_ingestion.sink.naming import table_dir_name
from log_ingestion.state import LogCheckpoint

from .test_seams import MemorySink, MemoryStaged, MemoryStore

WINDOW_MS = 1_000
KEPT, FAILING = LogInfo("L1", "kept"), LogInfo("L2", "failing")


@dataclass
class FailingStaged(MemoryStaged):
    failed: threading.Event | None = None

    def commit(self, window: Window, checkpoint: LogCheckpoint | None = None) -> Published:
        assert self.failed is not None
        self.failed.set()
        raise OSError("disk full")


@dataclass
class OneLogFails(MemorySink):
    """Every commit of the failing log's table raises."""

    failed: threading.Event = field(default_factory=threading.Event)

    def stage(self, table: str) -> MemoryStaged:
        if table == table_dir_name(FAILING.name, FAILING.id):
            return FailingStaged(self, table, failed=self.failed)
        return MemoryStaged(self, table)


class BusyFromTwoSeconds:
    """One event of each log asked for in every window; the API counts them, except from
    2 s on, where it counts more than one query should read (and answers once the failing
    log's commit has failed)."""

    def __init__(self, failed: threading.Event) -> None:
        self._failed = failed

    def pages(
        self, log_ids: str | tuple[str, ...], window: Window, query: str = ""
    ) -> Iterator[EventPage]:
        ids = (log_ids,) if isinstance(log_ids, str) else log_ids
        for start in range(window.start_ms, window.end_ms, WINDOW_MS):
            yield EventPage(
                [start] * len(ids),
                list(range(len(ids))),
                list(ids),
                [f"n={start}"] * len(ids),
                [[] for _ in ids],
            )

    def window_counts(
        self, log_ids: str | tuple[str, ...], first: Window, windows: int, query: str = ""
    ) -> list[int]:
        ids = (log_ids,) if isinstance(log_ids, str) else log_ids
        if first.start_ms < 2 * WINDOW_MS:
            return [len(ids)] * windows
        self._failed.wait(5)
        threading.Event().wait(0.2)  # the failure is recorded just after the commit raises
        return [10] * windows


def test_a_split_that_leaves_one_log_reads_the_block_again():
    """Two logs share a lane; one's commit fails while the next block is counted too busy
    to read together: the other log still ingests every window of it."""
    store = MemoryStore()
    sink = OneLogFails(store)
    options = PipelineOptions(query_windows=2, query_events=4, concurrency=1)
    source = BusyFromTwoSeconds(sink.failed)
    pipeline = Pipeline(source, sink, options, stop=threading.Event())
    request = Request(end_ms=4 * WINDOW_MS, start_ms=0, lag_ms=0)
    plans = [
        log_plan(store, log, request, now=10 * WINDOW_MS, window_ms=WINDOW_MS)
        for log in (KEPT, FAILING)
    ]

    summary = pipeline.run(plans)

    kept, failing = summary.logs
    assert (kept.error, failing.error is not None) == (None, True)
    assert store.load(KEPT.id).committed == ((0, 4 * WINDOW_MS),)
