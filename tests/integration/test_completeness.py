"""The completeness check: each committed window compared with the API's own count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr
from structlog.testing import capture_logs

from log_ingestion import metrics
from log_ingestion.emulator import DEFAULT_API_KEY, Faults
from log_ingestion.errors import ApiError
from log_ingestion.models import EventPage, Window
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter
from log_ingestion.source.client import LogIds

WINDOWS = 4  # the integration dataset spans one hour of 15-minute windows


class OverCountingClient(LogSearchClient):
    """The API counts one event more per window than its pages return (a late arrival, a
    server bug)."""

    def window_counts(
        self, log_ids: LogIds, first: Window, windows: int, query: str = ""
    ) -> list[int]:
        return [count + 1 for count in super().window_counts(log_ids, first, windows, query)]


def run_with(client: LogSearchClient, harness: Any, name: str) -> Any:
    log = next(log for log in client.list_logs() if log.name == name)
    summary, store = harness.ingest_from(client, [log])
    return summary, store.load(log.id)


def test_matching_counts_are_recorded_as_verified(harness):
    """Both numbers land in the checkpoint, and they agree."""
    with harness.client() as client:
        summary, checkpoint = run_with(client, harness, "app-kv")
    assert summary.logs[0].counts.mismatches == 0
    assert checkpoint.verification["windows"] == WINDOWS
    assert checkpoint.verification["mismatches"] == 0
    assert all(entry["rows"] == entry["api_count"] for entry in checkpoint.verification["recent"])


def test_a_count_mismatch_is_reported_loudly_and_recorded(harness):
    """A window whose rows differ from the API's count warns, counts a metric, and is kept in state."""
    before = metrics.COUNT_MISMATCHES.labels("app-kv")._value.get()
    with client_of(OverCountingClient, harness) as client, capture_logs() as logs:
        summary, checkpoint = run_with(client, harness, "app-kv")
    warnings = [line for line in logs if line["event"] == "window.count_mismatch"]
    assert summary.logs[0].counts.mismatches == WINDOWS
    assert len(warnings) == WINDOWS
    assert all(line["api_count"] == line["rows"] + 1 for line in warnings)
    assert checkpoint.verification["mismatches"] == WINDOWS
    assert metrics.COUNT_MISMATCHES.labels("app-kv")._value.get() - before == WINDOWS


class FailingCountClient(LogSearchClient):
    """The count query keeps failing (timeouts, retries exhausted)."""

    def window_counts(
        self, log_ids: LogIds, first: Window, windows: int, query: str = ""
    ) -> list[int]:
        raise ApiError("the count query timed out")


class BrokenPagesClient(LogSearchClient):
    """A bug somewhere below the pipeline raises something that is not ours."""

    def pages(self, log_ids: LogIds, window: Window, query: str = "") -> Iterator[EventPage]:
        raise RuntimeError("unexpected")


def client_of(kind: type[LogSearchClient], harness: Any) -> LogSearchClient:
    options = ClientOptions(poll_interval=0.01, retry_wait_initial=0.01, retry_wait_max=0.05)
    return kind(harness.emulator.url, SecretStr(DEFAULT_API_KEY), options, RateLimiter(1_000_000))


def test_a_failing_count_commits_the_window_unverified(harness):
    """The data is published and committed; only the check is missing, and it says so."""
    with client_of(FailingCountClient, harness) as client, capture_logs() as logs:
        summary, checkpoint = run_with(client, harness, "app-kv")
    assert summary.logs[0].error is None
    assert summary.logs[0].counts.committed == WINDOWS
    assert harness.landed("app-kv") == harness.truth("app-kv")
    # one count query covers the hour's windows: one failure, and every window unverified
    assert len([line for line in logs if line["event"] == "window.count_failed"]) == 1
    assert checkpoint.verification.get("windows", 0) == 0


def test_an_unexpected_error_fails_only_its_log(harness):
    """A non-package exception is reported on the log, not raised out of the run."""
    with client_of(BrokenPagesClient, harness) as client:
        summary, checkpoint = run_with(client, harness, "app-kv")
    assert summary.logs[0].message == "unexpected RuntimeError: unexpected"
    assert checkpoint.committed == ()


def test_estimated_counts_are_not_trusted(make_harness: Any) -> None:
    """Counts marked inexact skip no window and verify none: every event is read and lands."""
    harness = make_harness(faults=Faults(inexact_counts=True))
    with capture_logs() as logs:
        summary = harness.ingest(rapid7_log_ids=["app-kv"])
    assert harness.landed("app-kv") == harness.truth("app-kv")
    assert summary.logs[0].counts.verified == 0
    assert any(
        "estimates" in line.get("error", "")
        for line in logs
        if line["event"] == "window.count_failed"
    )
