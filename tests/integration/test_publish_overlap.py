"""A window publishes while the next one downloads: a failed publish is the error the run
reports, whatever happens to the download behind it, and it stops that download early."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from log_ingestion.errors import ApiError, StorageError
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline import Pipeline, PipelineOptions, RunSummary
from log_ingestion.sink import ParquetSink, writer
from log_ingestion.state import CheckpointStore

WINDOW_MS = 1_000
PAGES = 20
LOG = LogInfo("L", "app")


class SlowPages:
    """Window 0 is quick; later windows serve a page every 20 ms and count what they served.
    `fail_at` makes a later window's pages fail with an API error at that page."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.served: dict[int, int] = {}

    def pages(self, log_id: str, window: Window, query: str = "") -> Iterator[EventPage]:
        for number in range(PAGES):
            if window.start_ms:
                time.sleep(0.02)
                if number == self.fail_at:
                    raise ApiError("the API failed a page")
            self.served[window.start_ms] = number + 1
            ts = window.start_ms + number
            yield EventPage([ts], [ts], [log_id], [f"m{number}"], [[]])

    def count(self, log_id: str, window: Window, query: str = "") -> int:
        return PAGES


def run(
    tmp_path: Path, client: SlowPages, stop: threading.Event
) -> tuple[RunSummary, CheckpointStore]:
    store = CheckpointStore(tmp_path / "state")
    options = PipelineOptions(window_ms=WINDOW_MS, lag_ms=0, batch_size=1)
    pipeline = Pipeline(  # type: ignore[arg-type]
        client, ParquetSink(str(tmp_path / "out")), store, options, stop=stop, clock=lambda: 10.0
    )
    try:
        return pipeline.run([LOG], 0, 3 * WINDOW_MS), store
    finally:
        pipeline.close()


@pytest.fixture
def first_publish_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    original = writer.WindowWriter.commit

    def commit(self: writer.WindowWriter) -> object:
        if self.window.start_ms == 0:
            time.sleep(0.1)
            raise StorageError("the disk is full while publishing")
        return original(self)

    monkeypatch.setattr(writer.WindowWriter, "commit", commit)


def test_a_failed_publish_is_reported_when_a_stop_follows_it(tmp_path, first_publish_fails):
    """A stop during the next window's download does not turn the failure into a clean stop."""
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    summary, store = run(tmp_path, SlowPages(), stop)
    assert "disk is full" in (summary.logs[0].error or "")
    assert summary.logs[0].exit_code == StorageError.exit_code
    assert store.load(LOG.id).committed == ()


def test_a_failed_publish_outranks_a_download_error_after_it(tmp_path, first_publish_fails):
    """The storage problem (exit 4) is reported, not the API error of the window behind it."""
    summary, _ = run(tmp_path, SlowPages(fail_at=15), threading.Event())
    assert "disk is full" in (summary.logs[0].error or "")


def test_a_failed_publish_stops_the_next_download_early(tmp_path, first_publish_fails):
    """The window behind a failed publish stops at its next batch, not after all its pages."""
    client = SlowPages()
    summary, _ = run(tmp_path, client, threading.Event())
    assert "disk is full" in (summary.logs[0].error or "")
    assert client.served[WINDOW_MS] < PAGES
    assert list((tmp_path / "out").rglob("*.tmp")) == []
