"""`verify`'s comparisons, pure: what differs in a window, which windows are in scope, the
rows a checkpoint recorded, and the ranges a repair sends again."""

from __future__ import annotations

import pytest

from log_ingestion.audit import Scope, committed_windows, problems, ranges, recorded_rows
from log_ingestion.models import Window
from log_ingestion.sink.inventory import Landed
from log_ingestion.state import LogCheckpoint

HOUR = 3_600_000
W = Window(10 * HOUR, 11 * HOUR)
STRAY = "date=2026-01-01/copy.parquet"


@pytest.mark.parametrize(
    ("landed", "recorded", "api_count", "expected"),
    [
        (Landed(W, ("a",), 100, 100), 100, 100, ()),
        (Landed(W, ("a",), 100, 100), None, None, ()),
        (Landed(W, (), 0, 0), 100, None, ("0 events, the checkpoint recorded 100",)),
        (
            Landed(W, ("a",), 200, 100, strays=(STRAY,)),
            100,
            None,
            (f"100 duplicate rows: 200 rows, 100 distinct keys (stray: {STRAY})",),
        ),
        (
            Landed(W, ("a", "b"), 150, 100),
            None,
            None,
            ("50 duplicate rows: 150 rows, 100 distinct keys",),
        ),
        (
            Landed(W, ("a", "b"), 50, 50, unreadable=("b",)),
            100,
            None,
            ("unreadable: b", "50 events, the checkpoint recorded 100"),
        ),
        (Landed(W, ("a",), 100, 100), 100, 101, ("100 events, the API counts 101",)),
        (
            Landed(W, ("a",), 100, 100, unfinished=True),
            100,
            None,
            ("a publish of it was cut short (a journal is pending)",),
        ),
        (
            Landed(W, ("a",), 0, 0, strays=(STRAY,)),
            None,
            None,
            (f"files no publish made: {STRAY}",),
        ),
    ],
    ids=[
        "matches",
        "matches-nothing-recorded",
        "file-deleted",
        "stray-copy",
        "two-publishes-kept",
        "unreadable-file",
        "api-counts-more",
        "publish-cut-short",
        "empty-stray",
    ],
)
def test_problems_name_what_differs(
    landed: Landed, recorded: int | None, api_count: int | None, expected: tuple[str, ...]
) -> None:
    """Each kind of difference between a window and what was expected is one phrase."""
    assert expected == problems(landed, recorded, api_count)


def test_committed_windows_are_the_grid_windows_of_the_committed_ranges_in_scope() -> None:
    """Committed ranges cut into grid windows, only those overlapping --from/--to."""
    checkpoint = LogCheckpoint("L", window_ms=HOUR, committed=((0, 3 * HOUR), (5 * HOUR, 6 * HOUR)))

    everything = committed_windows(checkpoint, Scope())
    some = committed_windows(checkpoint, Scope(from_ms=HOUR + 1, to_ms=5 * HOUR + 1))

    expected = [
        Window(0, HOUR),
        Window(HOUR, 2 * HOUR),
        Window(2 * HOUR, 3 * HOUR),
        Window(5 * HOUR, 6 * HOUR),
    ]
    assert expected == everything
    assert expected[1:] == some


def test_recorded_rows_come_from_the_verified_windows() -> None:
    """The rows recorded at commit for each window that was checked against the API."""
    checkpoint = LogCheckpoint("L").with_verification(W, rows=7, api_count=8)

    assert recorded_rows(checkpoint) == {W: 7}


def test_adjacent_windows_are_sent_again_as_one_range() -> None:
    """A repair re-ingests adjacent differing windows together, and nothing between gaps."""
    windows = [
        Window(2 * HOUR, 3 * HOUR),
        Window(0, HOUR),
        Window(HOUR, 2 * HOUR),
        Window(5 * HOUR, 6 * HOUR),
    ]

    assert ranges(windows) == [(0, 3 * HOUR), (5 * HOUR, 6 * HOUR)]
