"""A window publishes while the next one downloads: a failed publish is the error the run
reports, whatever happens to the download behind it, and it stops that download early."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from log_ingestion.cli import exit_code
from log_ingestion.errors import ApiError, StorageError
from log_ingestion.ingest import log_plan
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline import Pipeline, PipelineOptions, RunSummary
from log_ingestion.schedule import Request
from log_ingestion.sink import ParquetSink, parquet_dir
from log_ingestion.state import JsonCheckpointStore

WINDOW_MS = 1_000
PAGES = 20
LOG = LogInfo("L", "app")


class SlowPages:
    """A query's windows in turn, a page per event: window 0 is quick, later windows serve
    a page every 20 ms and count what they served. `fail_at` makes a later window's pages
    fail with an API error at that page."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.served: dict[int, int] = {}

    def pages(
        self, log_ids: str | tuple[str, ...], window: Window, query: str = ""
    ) -> Iterator[EventPage]:
        (log_id,) = (log_ids,) if isinstance(log_ids, str) else log_ids
        for start in range(window.start_ms, window.end_ms, WINDOW_MS):
            for number in range(PAGES):
                if start:
                    time.sleep(0.02)
                    if number == self.fail_at:
                        raise ApiError("the API failed a page")
                self.served[start] = number + 1
                ts = start + number
                yield EventPage([ts], [ts], [log_id], [f"m{number}"], [[]])

    def window_counts(
        self, log_ids: str | tuple[str, ...], first: Window, windows: int, query: str = ""
    ) -> list[int]:
        return [PAGES] * windows


def run(
    tmp_path: Path, client: SlowPages, stop: threading.Event
) -> tuple[RunSummary, JsonCheckpointStore]:
    store = JsonCheckpointStore(tmp_path / "state")
    sink = ParquetSink(str(tmp_path / "out"), store=store)
    # a unit closes at every window's end: each window is a commit of its own
    options = PipelineOptions(batch_size=1, unit_rows=1)
    pipeline = Pipeline(client, sink, options, stop=stop)
    request = Request(end_ms=3 * WINDOW_MS, start_ms=0, lag_ms=0)
    plan = log_plan(store, LOG, request, now=10_000, window_ms=WINDOW_MS)
    return pipeline.run([plan]), store


def wait_until_serving(client: SlowPages, start_ms: int) -> None:
    """Until the window at `start_ms` has served a page (bounded, so a bug cannot hang)."""
    deadline = time.monotonic() + 10
    while not client.served.get(start_ms) and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.fixture
def first_publish_fails(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """The first window's commit fails once the steps appended to the list have run."""
    before_failing: list[Callable[[], None]] = []
    original = parquet_dir.WindowWriter.commit

    def commit(self: parquet_dir.WindowWriter, window: Window, checkpoint: object = None) -> object:
        if window.start_ms == 0:
            for step in before_failing:
                step()
            raise StorageError("the disk is full while publishing")
        return original(self, window, checkpoint)  # type: ignore[arg-type]

    monkeypatch.setattr(parquet_dir.WindowWriter, "commit", commit)
    return before_failing


def test_a_failed_publish_is_reported_when_a_stop_follows_it(tmp_path, first_publish_fails):
    """A stop during the next window's download does not turn the failure into a clean stop."""
    client, stop = SlowPages(), threading.Event()
    first_publish_fails.append(lambda: wait_until_serving(client, WINDOW_MS))
    first_publish_fails.append(stop.set)
    summary, store = run(tmp_path, client, stop)
    assert "disk is full" in (summary.logs[0].message or "")
    assert exit_code(summary.logs[0].error) == 4  # type: ignore[arg-type]
    assert store.load(LOG.id).committed == ()


def test_a_failed_publish_outranks_a_download_error_after_it(tmp_path, first_publish_fails):
    """The storage problem (exit 4) is reported, not the API error of the window behind it."""
    client = SlowPages(fail_at=15)
    first_publish_fails.append(lambda: wait_until_serving(client, WINDOW_MS))
    summary, _ = run(tmp_path, client, threading.Event())
    assert "disk is full" in (summary.logs[0].message or "")


def test_a_failed_publish_stops_the_next_download_early(tmp_path, first_publish_fails):
    """The window behind a failed publish stops at its next batch, not after all its pages."""
    client = SlowPages()
    first_publish_fails.append(lambda: wait_until_serving(client, WINDOW_MS))
    summary, _ = run(tmp_path, client, threading.Event())
    assert "disk is full" in (summary.logs[0].message or "")
    assert client.served[WINDOW_MS] < PAGES
    assert list((tmp_path / "out").rglob("*.tmp")) == []
