"""What fails in the publish thread besides a commit is not hidden: it ends the lane's logs."""

from __future__ import annotations

import threading

import pytest

from log_ingestion.ingest import log_plan
from log_ingestion.pipeline import Observer, Pipeline, PipelineOptions, WindowDone
from log_ingestion.schedule import Request

from .test_seams import LOG, WINDOW_MS, MemorySink, MemoryStore, TwoPerWindow


class BrokenObserver(Observer):
    """Fails on every committed unit, as a bug after a commit would."""

    def window_done(self, done: WindowDone) -> None:
        raise RuntimeError("observer bug")


@pytest.mark.parametrize("unit_rows", [1, 128_000], ids=["a-unit-per-window", "one-unit"])
def test_a_failure_after_a_commit_fails_the_log_instead_of_passing_unseen(unit_rows):
    """The log ends with the error (reported as unexpected), not as a success, whether it
    is met before the next commit or after the last."""
    store = MemoryStore()
    options = PipelineOptions(unit_rows=unit_rows)
    pipeline = Pipeline(
        TwoPerWindow(),
        MemorySink(store),
        options,
        stop=threading.Event(),
        observer=BrokenObserver(),
    )
    request = Request(end_ms=3 * WINDOW_MS, start_ms=0, lag_ms=0)

    summary = pipeline.run([log_plan(store, LOG, request, now=10 * WINDOW_MS, window_ms=WINDOW_MS)])

    (log,) = summary.logs
    assert isinstance(log.error, RuntimeError)
    assert log.message == "unexpected RuntimeError: observer bug"
