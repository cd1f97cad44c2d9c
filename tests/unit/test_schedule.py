"""Scheduling: the grid windows a log must ingest, now and in follow mode."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.errors import ConfigError
from log_ingestion.models import Window
from log_ingestion.schedule import MAX_WINDOWS, Request, follow_cycle, grid_windows, plan
from log_ingestion.state import LogCheckpoint

HOUR = 3_600_000


def checkpoint(*committed_hours: int) -> LogCheckpoint:
    """A log on an hourly grid with the given hours committed."""
    committed = tuple((hour * HOUR, (hour + 1) * HOUR) for hour in committed_hours)
    return LogCheckpoint("L", "log", "log-0123456789", HOUR, committed)


def tasks(cp: LogCheckpoint, *, now_ms: int, lag_ms: int = 0, **request: object) -> list:
    return list(plan(cp, Request(lag_ms=lag_ms, **request), now_ms=now_ms))  # type: ignore[arg-type]


def test_grid_widens_the_range_to_whole_windows():
    """10:17..11:05 on an hourly grid is 10:00..12:00."""
    windows = list(grid_windows(10 * HOUR + 17, 11 * HOUR + 5, HOUR))
    assert windows == [Window(10 * HOUR, 11 * HOUR), Window(11 * HOUR, 12 * HOUR)]


def test_grid_of_empty_range_is_empty():
    """No range, no windows."""
    assert list(grid_windows(5, 5, HOUR)) == []


@given(st.integers(0, 10**13), st.integers(1, 10**9), st.integers(10**6, 10**8))
def test_grid_covers_range_without_gaps(start, length, window_ms):
    """Windows are contiguous, aligned, and cover the range."""
    windows = list(grid_windows(start, start + length, window_ms))
    assert windows[0].start_ms <= start
    assert windows[-1].end_ms >= start + length
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(windows))
    assert all(w.start_ms % window_ms == 0 for w in windows)


def test_committed_closed_windows_are_skipped():
    """A rerun of a committed range asks for nothing."""
    planned = tasks(checkpoint(1), now_ms=10 * HOUR, start_ms=0, end_ms=3 * HOUR)
    assert [t.window for t in planned] == [Window(0, HOUR), Window(2 * HOUR, 3 * HOUR)]


def test_rescan_includes_committed_windows():
    """--rescan ingests committed windows again."""
    planned = tasks(checkpoint(0, 1), now_ms=10 * HOUR, start_ms=0, end_ms=2 * HOUR, rescan=True)
    assert len(planned) == 2


def test_open_window_is_queried_up_to_now_and_not_closed():
    """The window still receiving events is published but not committed."""
    planned = tasks(checkpoint(), now_ms=HOUR + 60_000, start_ms=0, end_ms=2 * HOUR)
    assert planned[-1].closed is False
    assert planned[-1].query == Window(HOUR, HOUR + 60_000)
    assert planned[0].closed is True


def test_window_within_lag_is_open():
    """A window that ended less than the lag ago may still receive late events."""
    planned = tasks(checkpoint(), now_ms=HOUR + 1_000, lag_ms=5_000, start_ms=0, end_ms=HOUR)
    assert planned[0].closed is False


def test_future_windows_are_not_planned():
    """Nothing is asked of windows that have not started."""
    assert len(tasks(checkpoint(), now_ms=HOUR // 2, start_ms=0, end_ms=5 * HOUR)) == 1


def test_resuming_starts_at_the_first_committed_window():
    """Without --from a log resumes from its checkpoint: only what is not committed runs."""
    planned = tasks(checkpoint(2, 3), now_ms=10 * HOUR, end_ms=6 * HOUR, default_start_ms=0)
    assert [t.window.start_ms // HOUR for t in planned] == [4, 5]


def test_a_new_log_starts_at_start_time():
    """A log never ingested starts at START_TIME when the run names no start."""
    planned = tasks(checkpoint(), now_ms=10 * HOUR, end_ms=3 * HOUR, default_start_ms=HOUR)
    assert [t.window.start_ms // HOUR for t in planned] == [1, 2]


def test_windows_from_rescan_from_are_read_again():
    """Follow mode re-reads its newest committed windows, and only those."""
    cp = checkpoint(0, 1, 2, 3)
    planned = tasks(cp, now_ms=10 * HOUR, start_ms=0, end_ms=4 * HOUR, rescan_from_ms=3 * HOUR)
    assert [t.window.start_ms // HOUR for t in planned] == [3]


def test_the_length_of_a_plan_is_its_number_of_tasks():
    """len() counts what iterating yields, without holding a list."""
    p = plan(checkpoint(1), Request(end_ms=5 * HOUR, start_ms=0, lag_ms=0), now_ms=10 * HOUR)
    assert len(p) == len(list(p)) == 4


def test_an_absurd_range_is_refused():
    """A plan of more windows than any backfill needs is a configuration error."""
    request = Request(end_ms=(MAX_WINDOWS + 1) * HOUR, start_ms=0)
    with pytest.raises(ConfigError, match="windows"):
        plan(checkpoint(), request, now_ms=(MAX_WINDOWS + 2) * HOUR)


def test_a_follow_cycle_ends_at_the_last_closed_window():
    """At 10:07 with 5 minutes of lag, 10:00 is the end; the next window is due at 11:05."""
    cycle = follow_cycle(10 * HOUR + 7 * 60_000, window_ms=HOUR, lag_ms=300_000, rescan_windows=2)
    assert (cycle.end_ms, cycle.rescan_from_ms, cycle.due_ms) == (
        10 * HOUR,
        8 * HOUR,
        11 * HOUR + 300_000,
    )


def test_a_long_committed_history_counts_only_the_windows_to_do():
    """A follow service on one-second windows, its history longer than MAX_WINDOWS, plans
    the windows after its last commit and the ones it rescans, not the whole history."""
    second = 1_000
    history = MAX_WINDOWS + 5
    cp = LogCheckpoint("L", "log", "log-0123456789", second, ((0, history * second),))
    request = Request(
        end_ms=(history + 3) * second, lag_ms=0, rescan_from_ms=(history - 2) * second
    )

    planned = list(plan(cp, request, now_ms=(history + 3) * second))

    assert [t.window.start_ms // second - history for t in planned] == [-2, -1, 0, 1, 2]


def test_a_hole_in_the_history_is_planned_with_what_follows_the_last_commit():
    """Resuming plans the uncommitted windows between committed ones too."""
    planned = tasks(checkpoint(0, 2, 3), now_ms=10 * HOUR, end_ms=6 * HOUR)
    assert [t.window.start_ms // HOUR for t in planned] == [1, 4, 5]
