"""Metrics: counters by kind and status, request tallies, checkpoint lag, run outcome,
the textfile and the HTTP endpoint."""

from __future__ import annotations

import contextvars
import os
import socket
import stat
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from log_ingestion import metrics
from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.source.transport import RequestRecord
from log_ingestion.stats import Counts


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_kind_and_status() -> None:
    """Every request adds to its kind/status counter and its latency histogram."""
    before = sample("log_ingestion_api_requests_total", kind="poll", status="200")
    observed = sample("log_ingestion_api_request_seconds_count", kind="poll")

    metrics.record_request(RequestRecord("poll", 200, 0.02, retryable=False))

    assert before + 1 == sample("log_ingestion_api_requests_total", kind="poll", status="200")
    assert observed + 1 == sample("log_ingestion_api_request_seconds_count", kind="poll")


def test_retries_429s_and_transport_errors_are_counted() -> None:
    """A 429 counts as rate limited and as a retry; a request without a status is `error`."""
    rate_limited = sample("log_ingestion_api_rate_limited_total")
    retries = sample("log_ingestion_api_retries_total", kind="next")
    errors = sample("log_ingestion_api_requests_total", kind="next", status="error")

    metrics.record_request(RequestRecord("next", 429, 0.01, retryable=True))
    metrics.record_request(RequestRecord("next", None, 0.01, retryable=True))

    assert rate_limited + 1 == sample("log_ingestion_api_rate_limited_total")
    assert retries + 2 == sample("log_ingestion_api_retries_total", kind="next")
    assert errors + 1 == sample("log_ingestion_api_requests_total", kind="next", status="error")


def test_tallies_nest_and_see_requests_of_threads_started_from_a_copy() -> None:
    """A run tally and a window tally both count a request made in a worker thread."""
    with metrics.counting_requests() as run, metrics.counting_requests() as window:
        context = contextvars.copy_context()
        worker = threading.Thread(
            target=context.run,
            args=(metrics.record_request, RequestRecord("poll", 200, 0.5, retryable=False)),
        )
        worker.start()
        worker.join()
        metrics.record_request(RequestRecord("start", 429, 0.25, retryable=True))
    metrics.record_request(RequestRecord("start", 200, 1.0, retryable=False))  # after: unseen

    expected = Counts(requests=2, polls=1, retries=1, rate_limited=1, api_seconds=0.75)
    assert expected == window.counts()
    assert expected == run.counts()


def test_no_tally_is_open_outside_a_block() -> None:
    """Requests made outside any `counting_requests()` block reach only Prometheus."""
    with metrics.counting_requests() as tally:
        pass
    metrics.record_request(RequestRecord("start", 200, 0.1, retryable=False))
    assert tally.counts().requests == 0


def test_checkpoint_lag_grows_while_nothing_commits() -> None:
    """The lag is read at scrape time: now minus the end of the last committed window."""
    windows = sample("log_ingestion_windows_committed_total", log="lag-test")
    end_ms = int((time.time() - 120) * 1000)

    metrics.window_done("lag-test", Counts(committed=1), Counts(committed=1), end_ms)

    lag = sample("log_ingestion_checkpoint_lag_seconds", log="lag-test")
    assert 119 < lag < 180
    assert windows + 1 == sample("log_ingestion_windows_committed_total", log="lag-test")
    future_ms = int(time.time() * 1000) + 60_000
    metrics.window_done("lag-test", Counts(committed=1), Counts(committed=1), future_ms)
    assert sample("log_ingestion_checkpoint_lag_seconds", log="lag-test") == 0.0


HOUR_MS = 3_600_000


@pytest.mark.parametrize(
    ("now_ms", "position_ms", "expected"),
    [
        (10 * HOUR_MS + 60_000, 10 * HOUR_MS, 0),  # the window after it has not closed yet
        (10 * HOUR_MS + 300_000, 10 * HOUR_MS, 0),  # closed, but not for the lag
        (11 * HOUR_MS + 300_000, 10 * HOUR_MS, 1),  # one window closed for the lag
        (13 * HOUR_MS + 600_000, 10 * HOUR_MS + 1, 3),  # a start inside a window: from its start
        (9 * HOUR_MS, 10 * HOUR_MS, 0),  # committed ahead of the clock: not behind
    ],
)
def test_windows_behind_counts_closed_windows_after_the_position(
    now_ms: int, position_ms: int, expected: int
) -> None:
    """Windows behind: whole grid windows closed for the lag after the newest committed end."""
    assert expected == metrics.windows_behind(now_ms, position_ms, HOUR_MS, 300_000)


def test_a_planned_log_has_its_gauges_before_any_window_commits() -> None:
    """Right after a start, a log's windows behind and last commit come from its checkpoint."""
    now_ms = int(time.time() * 1000)
    committed_end = (now_ms - 5 * HOUR_MS) // HOUR_MS * HOUR_MS

    metrics.log_planned(
        "planned-test",
        window_ms=HOUR_MS,
        lag_ms=0,
        committed_end_ms=committed_end,
        first_ms=0,
        last_commit=1234.5,
    )
    planned = (
        sample("log_ingestion_windows_behind", log="planned-test"),
        sample("log_ingestion_last_commit_timestamp_seconds", log="planned-test"),
    )
    metrics.window_done("planned-test", Counts(rows=1), Counts(rows=1), now_ms // HOUR_MS * HOUR_MS)

    assert planned == (5.0, 1234.5)
    assert sample("log_ingestion_windows_behind", log="planned-test") == 0.0
    assert sample("log_ingestion_last_commit_timestamp_seconds", log="planned-test") > 1234.5


def test_run_outcome_is_counted_and_stamped() -> None:
    """A finished run adds to its outcome and records when it ended."""
    runs = sample("log_ingestion_runs_total", outcome="interrupted")

    metrics.run_finished("interrupted", now=1_800_000_000.0)

    assert runs + 1 == sample("log_ingestion_runs_total", outcome="interrupted")
    assert (
        sample("log_ingestion_last_run_timestamp_seconds", outcome="interrupted") == 1_800_000_000.0
    )
    with pytest.raises(ValueError, match="run outcome"):
        metrics.run_finished("great")


def test_textfile_is_written_whole_and_readable_by_others(tmp_path: Path) -> None:
    """--metrics-file: the exposition format, in place atomically, mode 0644, no temp left."""
    metrics.record_request(RequestRecord("management", 200, 0.01, retryable=False))
    target = tmp_path / "textfile" / "log_ingestion.prom"

    metrics.write_textfile(target)

    text = target.read_text()
    assert "# TYPE log_ingestion_api_requests_total counter" in text
    assert 'log_ingestion_api_requests_total{kind="management",status="200"}' in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["log_ingestion.prom"]


def test_textfile_that_cannot_be_written_is_a_storage_error(tmp_path: Path) -> None:
    """A path under a regular file is reported as StorageError naming the option."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="--metrics-file"):
        metrics.write_textfile(blocker / "metrics.prom")


def test_http_endpoint_serves_the_registry_on_loopback() -> None:
    """--metrics-port: GET /metrics on 127.0.0.1 answers the exposition format."""
    server = metrics.serve(0)
    try:
        metrics.record_request(RequestRecord("start", 202, 0.01, retryable=False))
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
            status = response.status
    finally:
        server.close()

    assert status == 200
    assert 'log_ingestion_api_requests_total{kind="start",status="202"}' in body


def test_busy_port_is_a_config_error() -> None:
    """A port already taken is a one-line configuration error, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"--metrics-port: cannot listen on 127.0.0.1:{port}"):
            metrics.serve(port)
