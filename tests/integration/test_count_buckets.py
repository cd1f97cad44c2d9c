"""The API's counts are trusted only when its buckets are the windows asked about: as many
as asked, each one window wide, from the first window's start."""

from __future__ import annotations

from log_ingestion.emulator.faults import Faults

from .conftest import HarnessFactory

QUARTER = 900_000  # the harness's windows


def test_buckets_that_ignore_timeslice_fall_back_to_default_buckets(
    make_harness: HarnessFactory,
) -> None:
    """An API that answers ten buckets to `timeslice(4)` is asked ten windows at a time,
    and every window is still verified."""
    harness = make_harness(faults=Faults(ignore_timeslice=True))

    summary = harness.ingest(rapid7_log_ids=["app-kv"])

    assert (summary.counts.verified, summary.counts.mismatches) == (4, 0)
    assert harness.landed("app-kv") == harness.truth("app-kv")


def test_buckets_of_another_range_leave_the_windows_unverified_and_read(
    make_harness: HarnessFactory,
) -> None:
    """Counts of a range one window later (the last window counted 0) are not trusted:
    every window is read, none is verified or committed empty by them."""
    harness = make_harness(faults=Faults(statistics_shift_ms=QUARTER))

    summary = harness.ingest(rapid7_log_ids=["app-kv"])

    assert (summary.counts.verified, summary.counts.mismatches) == (0, 0)
    assert harness.landed("app-kv") == harness.truth("app-kv")
