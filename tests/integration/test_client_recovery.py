"""Transient failures are retried within RETRY_ATTEMPTS and nothing is lost; hard ones fail clearly."""

from __future__ import annotations

import threading
import time

import pytest
from tests.integration.conftest import SAMPLE_LOGS, HarnessFactory

from log_ingestion.emulator import Faults
from log_ingestion.errors import RetryableError, StopRequestedError
from log_ingestion.models import Window
from log_ingestion.state import JsonCheckpointStore
from log_ingestion.wiring import build_client

LOG = "app-kv"
WINDOW_MS = 15 * 60_000

TRANSIENT = [
    ("start", 503),
    ("start", 500),
    ("poll", 500),
    ("poll", "drop"),
    ("next", 503),
    ("next", "drop"),
    ("next", "truncate"),
    ("poll", "truncate"),
    ("next", "html"),
    ("poll", "content_type"),
    ("next", "content_type"),
    ("poll", "encoding"),
    ("next", "encoding"),
    ("next", "stall"),
    ("management", 503),
    ("management", "drop"),
]


@pytest.mark.parametrize(("kind", "fault"), TRANSIENT)
def test_the_client_retries_transient_faults_and_loses_nothing(
    make_harness: HarnessFactory, kind: str, fault: int | str
) -> None:
    """3 faults in a row (the RETRY_ATTEMPTS budget) are retried by the client; every event once."""
    harness = make_harness(faults=Faults(stall_seconds=1.0, polls_before_ready=1))
    harness.emulator.faults.fail_next(kind, 3, fault)  # type: ignore[arg-type]

    with harness.client(retry_attempts=3, request_timeout=0.3) as client:
        names = sorted(log.name for log in client.list_logs())
    events = harness.fetch(LOG, per_page=40, retry_attempts=3, request_timeout=0.3)

    assert (sorted(SAMPLE_LOGS), 0) == (names, harness.emulator.faults.pending(kind))
    assert harness.truth(LOG) == events


def test_the_client_gives_up_after_retry_attempts(make_harness: HarnessFactory) -> None:
    """One fault more than RETRY_ATTEMPTS raises a retryable error naming the request kind."""
    harness = make_harness()
    harness.emulator.faults.fail_next("next", 3, 503)

    with pytest.raises(RetryableError) as raised:
        harness.fetch(LOG, per_page=40, retry_attempts=2)

    assert str(raised.value) == "the API answered 503 to a next request"


def test_a_stop_during_a_retry_backoff_ends_the_retries(make_harness: HarnessFactory) -> None:
    """Stopped while backing off after a 503, the client makes no further attempt: a run
    stopped while listing its logs from a failing API ends after one backoff, not after
    every attempt of RETRY_ATTEMPTS."""
    harness = make_harness()
    harness.emulator.faults.fail_next("management", 10, 503)
    stop = threading.Event()
    settings = harness.settings(retry_attempts=5, retry_wait_initial=1.0, retry_wait_max=1.0)
    threading.Timer(0.2, stop.set).start()  # during the first backoff (1 to 2 s)

    with build_client(settings, stop) as client, pytest.raises(StopRequestedError):
        client.list_logs()

    assert harness.emulator.faults.pending("management") == 9  # one attempt made


@pytest.mark.parametrize(("kind", "fault"), [("next", "drop"), ("poll", 503), ("start", "html")])
def test_the_pipeline_recovers_from_transient_faults(
    make_harness: HarnessFactory, kind: str, fault: int | str
) -> None:
    """Through the whole pipeline, faults cost retries but no event is lost or doubled."""
    harness = make_harness()
    harness.emulator.faults.fail_next(kind, 3, fault)  # type: ignore[arg-type]

    summary = harness.ingest(rapid7_log_ids=[LOG], per_page=40)

    assert summary.failed == []
    assert harness.truth(LOG) == harness.landed(LOG)


def test_a_429_is_retried_after_retry_after(make_harness: HarnessFactory) -> None:
    """A 429 with `Retry-After: 1` makes the client wait a second, not fail; the data is complete."""
    harness = make_harness()
    harness.emulator.faults.fail_next("next", 1, 429)

    began = time.monotonic()
    summary = harness.ingest(rapid7_log_ids=[LOG], per_page=20, verify_counts=False)

    assert (summary.failed, harness.emulator.stats.rate_limited) == ([], 1)
    assert harness.truth(LOG) == harness.landed(LOG)
    assert time.monotonic() - began >= 1.0


def test_a_small_server_rate_limit_slows_the_run_but_loses_nothing(
    make_harness: HarnessFactory,
) -> None:
    """With 12 requests a second allowed, the run waits for the budget and lands everything."""
    harness = make_harness(faults=Faults(rate_limit=12, rate_window_seconds=1.0))

    began = time.monotonic()
    summary = harness.ingest(rapid7_log_ids=[LOG], per_page=10, retry_attempts=3)

    assert summary.failed == []
    assert harness.truth(LOG) == harness.landed(LOG)
    assert time.monotonic() - began >= 1.0


def test_a_success_with_no_rate_limit_left_is_kept(make_harness: HarnessFactory) -> None:
    """A 200 whose X-RateLimit-Remaining is 0 is used, not discarded and fetched again."""
    harness = make_harness(faults=Faults(polls_before_ready=0))
    # start + 4 pages per window of 200/4 events at per_page=13: spend the budget exactly.
    first = Window(harness.start_ms, harness.start_ms + WINDOW_MS)
    pages = -(
        -harness.dataset.count(harness.dataset.log_id(LOG), first.start_ms, first.end_ms) // 13
    )
    harness.emulator.faults.rate_limit = pages
    harness.emulator.faults.rate_window_seconds = 60.0

    summary = harness.ingest(
        first.start_ms, first.end_ms, rapid7_log_ids=[LOG], per_page=13, verify_counts=False
    )

    assert (summary.failed, harness.emulator.stats.rate_limited) == ([], 0)
    assert harness.truth(LOG, first.start_ms, first.end_ms) == harness.landed(LOG)


def test_exhausted_retries_fail_the_log_and_keep_its_checkpoint(
    make_harness: HarnessFactory,
) -> None:
    """When every Next fails, the run reports the error and commits none of the failed windows."""
    harness = make_harness()
    middle = harness.start_ms + 2 * WINDOW_MS
    harness.ingest(harness.start_ms, middle, rapid7_log_ids=[LOG], per_page=20)
    harness.emulator.faults.error_rates = {"next": 1.0}

    summary = harness.ingest(rapid7_log_ids=[LOG], per_page=20, retry_attempts=2)

    checkpoint = JsonCheckpointStore(str(harness.output / "_state")).load(
        harness.dataset.log_id(LOG)
    )
    assert [(harness.start_ms, middle)] == [tuple(span) for span in checkpoint.committed]
    assert len(summary.failed) == 1
    assert "next request" in (summary.failed[0].message or "")
    assert harness.truth(LOG, harness.start_ms, middle) == harness.landed(LOG)


def test_a_query_that_never_finishes_fails_after_max_poll_wait(
    make_harness: HarnessFactory,
) -> None:
    """A query still running after MAX_POLL_WAIT fails the log with a message naming it."""
    harness = make_harness(faults=Faults(polls_before_ready=10_000))

    began = time.monotonic()
    summary = harness.ingest(rapid7_log_ids=[LOG], max_poll_wait=0.3, verify_counts=False)

    assert len(summary.failed) == 1
    assert "MAX_POLL_WAIT" in (summary.failed[0].message or "")
    assert time.monotonic() - began < 5


def test_a_next_link_that_loops_back_fails_the_log(make_harness: HarnessFactory) -> None:
    """A Next link that returns to an earlier page is refused instead of looping forever."""
    harness = make_harness(faults=Faults(next_loop_at_page=2))

    summary = harness.ingest(rapid7_log_ids=[LOG], per_page=10, verify_counts=False)

    assert len(summary.failed) == 1
    assert "Next link" in (summary.failed[0].message or "")


def test_a_running_query_without_a_self_link_is_not_read_as_done(
    make_harness: HarnessFactory,
) -> None:
    """A poll that says `progress` below 100 but gives no Self link to poll is sent again,
    not read as the last, empty page: every event lands."""
    harness = make_harness(faults=Faults(polls_before_ready=3))
    harness.emulator.faults.fail_next("poll", 1, "no_self")

    events = harness.fetch(LOG, per_page=40)

    assert harness.emulator.faults.pending("poll") == 0
    assert harness.truth(LOG) == events
