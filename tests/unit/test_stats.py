"""`Counts`: one value for what a window, a log or a run did."""

from log_ingestion.stats import Counts, total


def test_counts_add_field_by_field():
    """Two windows' counts add up to their log's."""
    a = Counts(windows=1, committed=1, rows=10, requests=3, api_seconds=0.5)
    b = Counts(windows=1, rows=5, mismatches=1, requests=2, api_seconds=0.25)
    assert Counts(windows=2, committed=1, rows=15, mismatches=1, requests=5, api_seconds=0.75) == (
        a + b
    )


def test_the_total_of_nothing_is_zero():
    """A run of no logs counts nothing."""
    assert Counts() == total([])


def test_a_runs_request_tally_replaces_the_windows_request_counters():
    """The run's tally sees every request, listing logs included; the rest stays."""
    windows = Counts(rows=7, requests=4, polls=2)
    tally = Counts(requests=9, polls=3, retries=1)
    assert Counts(rows=7, requests=9, polls=3, retries=1) == windows.with_requests_of(tally)
