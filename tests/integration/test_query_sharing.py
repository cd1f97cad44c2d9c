"""Requests carry events, not windows: a sparse backfill of the six sample logs over three
days of one-hour windows (432 log-windows), counts verified, costs about what a plain client
pays to read each log once over the whole range, measured side by side on one emulator, and
lands few files; where the API refuses a long `timeslice`, the counts are asked in shorter
runs and every window is still verified."""

from __future__ import annotations

from log_ingestion.emulator import Dataset
from log_ingestion.emulator.faults import Faults
from log_ingestion.models import Window

from ..slow.harness import published_files
from .conftest import SAMPLE_LOGS, Harness, HarnessFactory

DAY_MS = 86_400_000
DAYS = 3


def sparse(make_harness: HarnessFactory, **options: object) -> Harness:
    """300 events per log over three days from midnight: about four per hour."""
    dataset = Dataset(seed=3, events_per_log=300, span_ms=DAYS * DAY_MS)
    return make_harness(dataset, **options)


def plain_client_requests(harness: Harness) -> int:
    """What one query per log over the whole range costs on this emulator, pages included."""
    before = harness.emulator.stats.total_requests
    whole = Window(harness.start_ms, harness.end_ms)
    with harness.client() as client:
        for name in SAMPLE_LOGS:
            for _ in client.pages(harness.dataset.log_id(name), whole):
                pass
    return harness.emulator.stats.total_requests - before


def test_a_sparse_backfill_costs_about_one_query_per_log(make_harness: HarnessFactory) -> None:
    """Every event once and every window verified, in at most 1.25x the plain client's
    requests, and at most two files per log and day."""
    harness = sparse(make_harness)
    summary = harness.ingest(window_size="1h")
    ours = harness.emulator.stats.total_requests

    assert summary.failed == []
    assert {name: harness.landed(name) for name in SAMPLE_LOGS} == {
        name: harness.truth(name) for name in SAMPLE_LOGS
    }
    counts = summary.counts
    assert (counts.mismatches, counts.verified) == (0, DAYS * 24 * len(SAMPLE_LOGS))
    plain = plain_client_requests(harness)
    print(f"\nsparse backfill: {ours} requests, plain client {plain}")
    assert ours <= 1.25 * plain
    for name in SAMPLE_LOGS:
        assert len(published_files(harness.table_dir(name))) <= 2 * DAYS, name


def test_counts_are_asked_in_shorter_runs_where_a_long_timeslice_is_refused(
    make_harness: HarnessFactory,
) -> None:
    """An API that takes at most `timeslice(5)` refuses `timeslice(72)` (a 400): the windows
    are counted ten at a time instead (the default ten buckets), and still every window is
    verified and every event lands once."""
    harness = sparse(make_harness, faults=Faults(max_timeslice=5))
    summary = harness.ingest(window_size="1h", rapid7_log_ids=["app-kv"])

    assert summary.failed == []
    assert harness.landed("app-kv") == harness.truth("app-kv")
    assert (summary.counts.mismatches, summary.counts.verified) == (0, DAYS * 24)
    assert harness.emulator.stats.count("start", 400) == 1  # refused once, then remembered
