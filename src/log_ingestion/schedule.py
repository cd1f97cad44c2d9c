"""Pure scheduling: which grid windows a log must ingest, now and in follow mode.

Windows lie on a fixed grid (multiples of the window size since the epoch), so any range
maps to the same windows every time and a window's rows can be replaced whole. Given a
log's checkpoint, what the run was asked for and the time, `plan` returns the tasks; the
pipeline only carries them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from log_ingestion.errors import ConfigError
from log_ingestion.models import Window
from log_ingestion.state import LogCheckpoint, merge_intervals

# A plan this long is a typo (`--from 100000w`, a 1 s window over years), not a backfill.
MAX_WINDOWS = 1_000_000


@dataclass(frozen=True, slots=True)
class Task:
    """One window to ingest: the grid window, the range to query, and whether it can commit.

    A window that has not closed yet (its end is later than now minus the lag) is queried
    up to now and published, but not committed: the next run ingests it again, whole.
    """

    window: Window
    query: Window
    closed: bool


@dataclass(frozen=True, slots=True)
class Request:
    """What a run was asked for, the same for every log.

    `start_ms` None resumes each log from its checkpoint (a log never ingested starts at
    `default_start_ms`, START_TIME). Committed windows are skipped, unless `rescan`, or
    unless they start at or after `rescan_from_ms` (follow mode re-reads its newest ones).
    """

    end_ms: int
    start_ms: int | None = None
    default_start_ms: int | None = None
    lag_ms: int = 300_000
    rescan: bool = False
    rescan_from_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A log's tasks, produced one at a time: a long backfill holds no list of windows.

    `ranges` are the grid-aligned stretches from `first_ms` on that hold work: what is not
    committed, what is rescanned, and windows not closed yet; a long committed history
    between them costs nothing."""

    checkpoint: LogCheckpoint
    request: Request
    now_ms: int
    window_ms: int
    first_ms: int
    ranges: tuple[Window, ...] = ()

    def __iter__(self) -> Iterator[Task]:
        for stretch in self.ranges:
            for window in grid_windows(stretch.start_ms, stretch.end_ms, self.window_ms):
                closed = window.end_ms <= self.now_ms - self.request.lag_ms
                if closed and self._skipped(window):
                    continue
                query = (
                    window if closed else Window(window.start_ms, min(window.end_ms, self.now_ms))
                )
                yield Task(window, query, closed)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _skipped(self, window: Window) -> bool:
        request = self.request
        if request.rescan or not self.checkpoint.is_committed(window):
            return False
        return request.rescan_from_ms is None or window.start_ms < request.rescan_from_ms


def plan(checkpoint: LogCheckpoint, request: Request, *, now_ms: int) -> Plan:
    """The windows of `request` that `checkpoint`'s log must ingest at `now_ms`; only
    those are counted against `MAX_WINDOWS`, however long the log's history."""
    window_ms = checkpoint.window_ms
    first_ms = request.start_ms
    if first_ms is None:
        committed = checkpoint.committed[0][0] if checkpoint.committed else None
        first_ms = committed if committed is not None else request.default_start_ms
    if first_ms is None:
        first_ms = request.end_ms
    ranges = _ranges(checkpoint, request, first_ms, now_ms)
    windows = sum(window_count(r.start_ms, r.end_ms, window_ms) for r in ranges)
    if windows > MAX_WINDOWS:
        raise ConfigError(
            f"the range asks for {windows:,} windows of {window_ms:,} ms for "
            f"{checkpoint.log_name or checkpoint.log_id} (at most {MAX_WINDOWS:,}); check "
            "--from/--to and START_TIME, or use a larger WINDOW_SIZE for a new table"
        )
    return Plan(checkpoint, request, now_ms, window_ms, first_ms, ranges)


def _ranges(
    checkpoint: LogCheckpoint, request: Request, first_ms: int, now_ms: int
) -> tuple[Window, ...]:
    """The grid-aligned, sorted, disjoint stretches of `[first_ms, end)` that hold tasks."""
    window_ms = checkpoint.window_ms
    end_ms = min(request.end_ms, now_ms)
    if end_ms <= first_ms:
        return ()
    if request.rescan:
        wanted = [Window(first_ms, end_ms)]
    else:
        wanted = checkpoint.missing(first_ms, end_ms)
        open_from = (now_ms - request.lag_ms) // window_ms * window_ms
        for start in (request.rescan_from_ms, open_from):
            if start is not None and start < end_ms:
                wanted.append(Window(max(start, first_ms), end_ms))
    aligned = [
        (r.start_ms // window_ms * window_ms, r.end_ms + -r.end_ms % window_ms) for r in wanted
    ]
    return tuple(Window(start, end) for start, end in merge_intervals(aligned))


def grid_windows(start_ms: int, end_ms: int, window_ms: int) -> Iterator[Window]:
    """The grid windows that cover `[start_ms, end_ms)`, widened to whole windows."""
    if end_ms <= start_ms:
        return
    first = start_ms // window_ms * window_ms
    for start in range(first, end_ms, window_ms):
        yield Window(start, start + window_ms)


def window_count(start_ms: int, end_ms: int, window_ms: int) -> int:
    """How many grid windows cover `[start_ms, end_ms)`."""
    if end_ms <= start_ms:
        return 0
    first = start_ms // window_ms * window_ms
    return -(-(end_ms - first) // window_ms)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One follow cycle: ingest up to `end_ms`, re-read from `rescan_from_ms`, wake at `due_ms`."""

    end_ms: int
    rescan_from_ms: int | None
    due_ms: int


def follow_cycle(now_ms: int, *, window_ms: int, lag_ms: int, rescan_windows: int) -> Cycle:
    """The windows closed by `now_ms` (their end at least `lag_ms` ago), and when the next
    one closes. The last `rescan_windows` committed windows are read again for events that
    arrived after they were committed; their rows are replaced, never added to."""
    end_ms = (now_ms - lag_ms) // window_ms * window_ms
    rescan_from_ms = end_ms - rescan_windows * window_ms if rescan_windows else None
    return Cycle(end_ms, rescan_from_ms, end_ms + window_ms + lag_ms)
