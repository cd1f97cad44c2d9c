"""Pure planning: which grid windows a run must ingest, and what to do with edge events.

Windows lie on a fixed grid (multiples of the window size since the epoch), so any
range maps to the same windows every time, and a window's files can be replaced whole.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from log_ingestion.models import EventPage, Window


def grid_windows(start_ms: int, end_ms: int, window_ms: int) -> list[Window]:
    """The grid windows that cover `[start_ms, end_ms)`, widened to whole windows."""
    if end_ms <= start_ms:
        return []
    first = start_ms // window_ms * window_ms
    return [Window(start, start + window_ms) for start in range(first, end_ms, window_ms)]


@dataclass(frozen=True, slots=True)
class Task:
    """One window to ingest: the grid window, the range to query, and whether it can commit.

    A window that has not closed yet (its end is later than now minus the lag) is queried
    up to now and published, but not committed: the next run ingests it again, whole.
    """

    window: Window
    query: Window
    closed: bool


def plan_tasks(
    windows: list[Window],
    *,
    now_ms: int,
    lag_ms: int,
    is_committed: set[Window] | None = None,
    rescan: bool = False,
) -> list[Task]:
    committed = is_committed or set()
    tasks = []
    for window in windows:
        if window.start_ms >= now_ms:
            break
        closed = window.end_ms <= now_ms - lag_ms
        if closed and window in committed and not rescan:
            continue
        query = window if closed else Window(window.start_ms, min(window.end_ms, now_ms))
        tasks.append(Task(window, query, closed))
    return tasks


class WindowFilter:
    """Keeps only events inside the window, each `(log_id, sequence_number)` once.

    The server pages in ascending order and `Next` re-runs the query from a position, so
    a repeat can only be a recent key: remembering the last `memory` keys is enough and
    keeps memory flat however large the window is. A page that lies wholly inside the
    window and wholly after every key seen so far (the usual case) takes a fast path.
    """

    def __init__(self, window: Window, memory: int = 20_000) -> None:
        self._window = window
        self._recent: set[tuple[int, int, str]] = set()
        self._batches: deque[list[tuple[int, int, str]]] = deque()
        self._remembered = 0
        self._memory = memory
        self._highest: tuple[int, int, str] | None = None
        self.outside = 0
        self.duplicates = 0

    def keep(self, page: EventPage) -> EventPage:
        if not len(page):
            return page
        keys = list(zip(page.timestamps, page.sequence_numbers, page.log_ids, strict=True))
        if self._all_new_and_inside(keys):
            self._remember(keys)
            return page
        return self._keep_one_by_one(page, keys)

    def _all_new_and_inside(self, keys: list[tuple[int, int, str]]) -> bool:
        lowest, highest = min(keys), max(keys)
        inside = self._window.contains(lowest[0]) and self._window.contains(highest[0])
        after_seen = self._highest is None or lowest > self._highest
        return inside and after_seen and len(set(keys)) == len(keys)

    def _keep_one_by_one(self, page: EventPage, keys: list[tuple[int, int, str]]) -> EventPage:
        kept = EventPage()
        for index, key in enumerate(keys):
            if not self._window.contains(key[0]):
                self.outside += 1
                continue
            if key in self._recent:
                self.duplicates += 1
                continue
            self._remember([key])
            kept.timestamps.append(key[0])
            kept.sequence_numbers.append(key[1])
            kept.log_ids.append(key[2])
            kept.messages.append(page.messages[index])
            kept.labels.append(page.labels[index])
        return kept

    def _remember(self, keys: list[tuple[int, int, str]]) -> None:
        self._recent.update(keys)
        self._batches.append(keys)
        self._remembered += len(keys)
        highest = max(keys)
        if self._highest is None or highest > self._highest:
            self._highest = highest
        while self._remembered - len(self._batches[0]) >= self._memory:
            oldest = self._batches.popleft()
            self._remembered -= len(oldest)
            self._recent.difference_update(oldest)
