"""The window filter: each event of a window once, and only the window's own events."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.models import EventPage, Window
from log_ingestion.pipeline.dedup import WindowFilter


def page(*keys: tuple[int, int]) -> EventPage:
    return EventPage(
        timestamps=[ts for ts, _ in keys],
        sequence_numbers=[seq for _, seq in keys],
        log_ids=["L"] * len(keys),
        messages=[f"m{seq}" for _, seq in keys],
        labels=[[] for _ in keys],
    )


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
