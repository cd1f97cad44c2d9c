"""Cutting one query's event stream into the windows and logs it covers.

A query may span many windows and several logs; its events come back merged, in ascending
`(timestamp, sequence_number)` order. Once the stream passes a window's end, every log's
events of that window have been seen, so the window can be committed. Consecutive
windows of a log are gathered into one unit (one commit, one file per date partition) up
to a row group's worth of rows; a gap, a window still open and the end of the query close
a unit too.

`cut` yields what the consumer must do, in order: `Rows` to parse and write into a log's
open unit, `UnitDone` to commit it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline.dedup import WindowFilter
from log_ingestion.pipeline.window import Batcher, event_columns
from log_ingestion.schedule import Task


@dataclass(frozen=True, slots=True)
class Rows:
    """A batch of one log's events, for its open unit."""

    log_id: str
    events: pa.Table


@dataclass(frozen=True, slots=True)
class UnitDone:
    """A log's unit is complete: its tasks, and the events seen per window, of this log and
    of every log of the query (the API's count of a window covers them all)."""

    log_id: str
    tasks: tuple[Task, ...]
    seen: Mapping[Window, int]
    seen_by_all: Mapping[Window, int]


Item = Rows | UnitDone


@dataclass(slots=True)
class _Cursor:
    """Where one log stands in the query: its tasks, the unit being gathered, its events."""

    log: LogInfo
    tasks: Sequence[Task]
    batcher: Batcher
    next: int = 0  # the first task not yet complete
    unit: list[Task] = field(default_factory=list)
    unit_rows: int = 0
    seen: Counter[Window] = field(default_factory=Counter)

    @property
    def current(self) -> Task | None:
        return self.tasks[self.next] if self.next < len(self.tasks) else None


class Cutter:
    """Cuts the pages of one query over `query_range` for the logs' `tasks` (each log's in
    order, on the grid of `window_ms`)."""

    def __init__(
        self,
        query_range: Window,
        tasks: Mapping[str, Sequence[Task]],
        logs: Mapping[str, LogInfo],
        *,
        window_ms: int,
        batch_size: int,
        unit_rows: int,
    ) -> None:
        self._filter = WindowFilter(query_range)
        self._cursors = {
            log_id: _Cursor(logs[log_id], list(log_tasks), Batcher(batch_size))
            for log_id, log_tasks in tasks.items()
        }
        self._unit_rows = unit_rows
        self._seen_by_all: Counter[Window] = Counter()
        self._window_ms = window_ms
        self.pages = 0

    def cut(self, pages: Iterable[EventPage]) -> Iterator[Item]:
        for page in pages:
            self.pages += 1
            kept = self._filter.keep(page)
            if len(kept):
                yield from self._page(kept)
        yield from self._finish()

    def _page(self, page: EventPage) -> Iterator[Item]:
        """The page in segments between window ends: time passes, then events are routed."""
        stamps = page.timestamps
        start = 0
        while start < len(stamps):
            yield from self._pass(stamps[start])
            end = bisect_left(stamps, self._next_end(stamps[start]), start)
            yield from self._route(page, start, end)
            start = end

    def _next_end(self, timestamp: int) -> int:
        return (timestamp // self._window_ms + 1) * self._window_ms

    def _pass(self, timestamp: int) -> Iterator[Item]:
        """Every window ending at or before `timestamp` is complete, in every log."""
        for cursor in self._cursors.values():
            while (task := cursor.current) is not None and task.window.end_ms <= timestamp:
                yield from self._complete(cursor)

    def _route(self, page: EventPage, start: int, end: int) -> Iterator[Item]:
        """Events `start:end` of the page, all in one grid window, to their logs."""
        window_start = page.timestamps[start] // self._window_ms * self._window_ms
        window = Window(window_start, window_start + self._window_ms)
        self._seen_by_all[window] += end - start
        ids = page.log_ids[start:end]
        for log_id in dict.fromkeys(ids):
            cursor = self._cursors.get(log_id)
            task = cursor.current if cursor is not None else None
            if cursor is None or task is None or task.window != window:
                continue  # a log not asked for, or a window it has committed already
            rows = _rows_of(page, start, end, log_id, ids)
            cursor.seen[window] += len(rows)
            cursor.unit_rows += len(rows)
            batch = cursor.batcher.add(rows)
            if batch is not None:
                yield Rows(log_id, event_columns(batch, cursor.log))

    def _complete(self, cursor: _Cursor) -> Iterator[Item]:
        task = cursor.tasks[cursor.next]
        cursor.next += 1
        cursor.unit.append(task)
        following = cursor.current
        ends_here = (
            not task.closed
            or following is None
            or not following.closed
            or following.window.start_ms != task.window.end_ms
            or cursor.unit_rows >= self._unit_rows
        )
        if ends_here:
            yield from self._close(cursor)

    def _close(self, cursor: _Cursor) -> Iterator[Item]:
        rest = cursor.batcher.flush()
        if rest is not None:
            yield Rows(cursor.log.id, event_columns(rest, cursor.log))
        unit = tuple(cursor.unit)
        seen = {task.window: cursor.seen[task.window] for task in unit}
        by_all = {task.window: self._seen_by_all[task.window] for task in unit}
        cursor.unit, cursor.unit_rows = [], 0
        yield UnitDone(cursor.log.id, unit, seen, by_all)

    def _finish(self) -> Iterator[Item]:
        """The stream ended: every task left is complete (the query covered it)."""
        for cursor in self._cursors.values():
            while cursor.current is not None:
                yield from self._complete(cursor)


def _rows_of(page: EventPage, start: int, end: int, log_id: str, ids: list[str]) -> EventPage:
    """The events `start:end` of `log_id` (all of them when they are all its own)."""
    if ids.count(log_id) == len(ids):
        return EventPage(
            page.timestamps[start:end],
            page.sequence_numbers[start:end],
            ids,
            page.messages[start:end],
            page.labels[start:end],
        )
    picked = [start + i for i, each in enumerate(ids) if each == log_id]
    return EventPage(
        [page.timestamps[i] for i in picked],
        [page.sequence_numbers[i] for i in picked],
        [log_id] * len(picked),
        [page.messages[i] for i in picked],
        [page.labels[i] for i in picked],
    )
