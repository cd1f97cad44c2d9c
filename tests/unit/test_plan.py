"""Window planning and the window filter."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.models import EventPage, Window
from log_ingestion.plan import WindowFilter, grid_windows, plan_tasks

HOUR = 3_600_000


def page(*keys: tuple[int, int]) -> EventPage:
    return EventPage(
        timestamps=[ts for ts, _ in keys],
        sequence_numbers=[seq for _, seq in keys],
        log_ids=["L"] * len(keys),
        messages=[f"m{seq}" for _, seq in keys],
        labels=[[] for _ in keys],
    )


def test_grid_widens_the_range_to_whole_windows():
    """10:17..11:05 on an hourly grid is 10:00..12:00."""
    windows = grid_windows(10 * HOUR + 17, 11 * HOUR + 5, HOUR)
    assert windows == [Window(10 * HOUR, 11 * HOUR), Window(11 * HOUR, 12 * HOUR)]


def test_grid_of_empty_range_is_empty():
    """No range, no windows."""
    assert grid_windows(5, 5, HOUR) == []


@given(st.integers(0, 10**13), st.integers(1, 10**9), st.integers(10**6, 10**8))
def test_grid_covers_range_without_gaps(start, length, window_ms):
    """Windows are contiguous, aligned, and cover the range."""
    windows = grid_windows(start, start + length, window_ms)
    assert windows[0].start_ms <= start
    assert windows[-1].end_ms >= start + length
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(windows))
    assert all(w.start_ms % window_ms == 0 for w in windows)


def test_committed_closed_windows_are_skipped():
    """A rerun of a committed range asks for nothing."""
    windows = grid_windows(0, 3 * HOUR, HOUR)
    tasks = plan_tasks(windows, now_ms=10 * HOUR, lag_ms=0, is_committed={windows[1]})
    assert [t.window for t in tasks] == [windows[0], windows[2]]


def test_rescan_includes_committed_windows():
    """--rescan ingests committed windows again."""
    windows = grid_windows(0, 2 * HOUR, HOUR)
    tasks = plan_tasks(windows, now_ms=10 * HOUR, lag_ms=0, is_committed=set(windows), rescan=True)
    assert len(tasks) == 2


def test_open_window_is_queried_up_to_now_and_not_closed():
    """The window still receiving events is published but not committed."""
    windows = grid_windows(0, 2 * HOUR, HOUR)
    tasks = plan_tasks(windows, now_ms=HOUR + 60_000, lag_ms=0)
    assert tasks[-1].closed is False
    assert tasks[-1].query == Window(HOUR, HOUR + 60_000)
    assert tasks[0].closed is True


def test_window_within_lag_is_open():
    """A window that ended less than the lag ago may still receive late events."""
    windows = grid_windows(0, HOUR, HOUR)
    tasks = plan_tasks(windows, now_ms=HOUR + 1_000, lag_ms=5_000)
    assert tasks[0].closed is False


def test_future_windows_are_not_planned():
    """Nothing is asked of windows that have not started."""
    windows = grid_windows(0, 5 * HOUR, HOUR)
    assert len(plan_tasks(windows, now_ms=HOUR // 2, lag_ms=0)) == 1


def test_filter_drops_events_outside_the_window():
    """Half-open: start included, end excluded."""
    kept = WindowFilter(Window(10, 20)).keep(page((9, 1), (10, 2), (19, 3), (20, 4)))
    assert kept.sequence_numbers == [2, 3]


def test_filter_drops_repeats_across_pages():
    """A page overlapping the previous one lands each event once."""
    window_filter = WindowFilter(Window(0, 100))
    first = window_filter.keep(page((1, 1), (2, 2)))
    second = window_filter.keep(page((2, 2), (3, 3)))
    assert first.sequence_numbers + second.sequence_numbers == [1, 2, 3]
    assert window_filter.duplicates == 1


def test_filter_keeps_late_events_older_than_the_newest():
    """An event inserted behind the paging position is new, not a repeat."""
    window_filter = WindowFilter(Window(0, 100))
    window_filter.keep(page((5, 5), (6, 6)))
    assert window_filter.keep(page((4, 9))).sequence_numbers == [9]


def test_filter_memory_is_bounded():
    """Old keys are forgotten once more than `memory` newer ones were seen."""
    window_filter = WindowFilter(Window(0, 10**6), memory=4)
    for start in range(0, 20, 2):
        window_filter.keep(page((start, start), (start + 1, start + 1)))
    assert window_filter._remembered <= 6


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=60), st.integers(1, 7))
def test_filter_lands_each_key_once(keys, page_size):
    """Whatever pages the server sends, each in-window key lands exactly once."""
    kept_keys = []
    window_filter = WindowFilter(Window(10, 40))
    for i in range(0, len(keys), page_size):
        kept = window_filter.keep(page(*keys[i : i + page_size]))
        kept_keys += list(zip(kept.timestamps, kept.sequence_numbers, strict=True))
    assert sorted(kept_keys) == sorted({k for k in keys if 10 <= k[0] < 40})


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=80),
    st.integers(2, 6),
    st.lists(st.integers(0, 3), max_size=40),
)
def test_filter_with_small_memory_lands_re_served_keys_once(steps, page_size, rewinds):
    """Pages as the server sends them (ascending, each `Next` may re-serve up to 3 recent
    keys, several sharing a timestamp): with a memory of a few pages each key lands once,
    whichever pages took the fast path before a page that needed the key-by-key look."""
    timestamps = list(itertools.accumulate(steps))  # ascending, repeats where a step is 0
    keys = [(ts, seq) for seq, ts in enumerate(timestamps)]
    window_filter = WindowFilter(Window(0, 10**6), memory=2 * page_size)
    kept_keys, position, number = [], 0, 0
    while position < len(keys):
        rewind = rewinds[number % len(rewinds)] if rewinds and number else 0
        start = max(0, position - min(rewind, page_size - 1))  # every page moves on
        served = keys[start : start + page_size]
        kept = window_filter.keep(page(*served))
        kept_keys += list(zip(kept.timestamps, kept.sequence_numbers, strict=True))
        position, number = start + len(served), number + 1
    assert sorted(kept_keys) == keys
