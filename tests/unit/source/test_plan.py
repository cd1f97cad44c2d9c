"""Query planning: how windows and logs are cut into as few queries as sensible."""

from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.source.plan import LogDensity, Span, lanes, spans


def test_a_quiet_block_needs_no_query():
    """Windows the API counts as empty are committed without an event query."""
    assert [Span(0, 3, empty=True)] == spans([0, 0, 0, 0], 100)


def test_empty_windows_at_the_edges_are_skipped_and_inside_ride_along():
    """Counts 0 0 5 0 3 0 0: one query over windows 2..4, the rest committed empty."""
    assert [Span(0, 1, empty=True), Span(2, 4), Span(5, 6, empty=True)] == spans(
        [0, 0, 5, 0, 3, 0, 0], 100
    )


def test_queries_are_cut_at_the_target():
    """8, 5, 0, 7 with a target of 10: three queries, none over the target but a lone window."""
    assert [Span(0, 0), Span(1, 2), Span(3, 3)] == spans([8, 5, 0, 7], 10)


def test_a_window_over_the_target_is_a_query_of_its_own():
    """A dense window is read alone; the windows after it start the next query."""
    assert [Span(0, 0), Span(1, 2)] == spans([50, 3, 2], 10)


def test_unknown_counts_are_always_read():
    """No counts (verification off, or the count failed): one query over the block."""
    assert [Span(0, 2)] == spans([None, None, None], 10)


def test_an_open_last_window_is_read_with_the_query_before_it():
    """The window still open has no count; it ends the last query."""
    assert [Span(0, 0, empty=True), Span(1, 2)] == spans([0, 4, None], 100)


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=1, max_size=40), st.integers(1, 50)
)
def test_spans_cover_every_window_once_and_only_empty_ones_without_a_query(counts, target):
    """Whatever the counts: the spans tile the block, and every window with events is read."""
    planned = spans(counts, target)
    covered = [i for span in planned for i in range(span.first, span.last + 1)]
    assert list(range(len(counts))) == covered
    for span in planned:
        if span.empty:
            assert all(counts[i] == 0 for i in range(span.first, span.last + 1))


def test_dense_logs_read_alone_and_sparse_ones_share():
    """Two sparse logs and an unknown one share a lane; a dense one reads alone."""
    logs = [
        LogDensity("dense", 60_000, 500.0),
        LogDensity("a", 60_000, 1.0),
        LogDensity("b", 60_000, 2.0),
        LogDensity("new", 60_000, None),
    ]
    assert lanes(logs, block_windows=24, target_events=1_000, max_logs=10) == [
        ("dense",),
        ("a", "b", "new"),
    ]


def test_logs_on_another_grid_never_share_a_lane():
    """A lane's windows are one grid: logs of a 15 m table and a 1 h table read apart."""
    logs = [LogDensity("a", 900_000, 1.0), LogDensity("b", 3_600_000, 1.0)]
    assert lanes(logs, block_windows=24, target_events=1_000, max_logs=10) == [("a",), ("b",)]


def test_a_lane_holds_at_most_max_logs():
    """Many quiet logs fill lanes of `max_logs` each."""
    logs = [LogDensity(str(n), 60_000, 0.0) for n in range(5)]
    assert lanes(logs, block_windows=24, target_events=1_000, max_logs=2) == [
        ("0", "1"),
        ("2", "3"),
        ("4",),
    ]
