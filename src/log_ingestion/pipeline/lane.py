"""A lane: logs read together, block after block, by as few queries as sense allows.

Sequential, without a thread: `overlap` supplies `ahead` (run an iterator ahead of its
consumer) and `behind` (commit a unit after the ones before it). For each block of
consecutive windows the API's counts come first, one query for the whole lane; windows
counted empty are committed without reading, the rest are read by event queries sized by
those counts, and each query's stream is cut into units per log.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from log_ingestion.errors import ApiError, ApiRefusedError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo, Window
from log_ingestion.pipeline import verify
from log_ingestion.pipeline.cut import Cutter, Item, Rows, UnitDone
from log_ingestion.pipeline.window import (
    OpenUnit,
    Unit,
    hands_on_parser_state,
    open_unit,
    write_rows,
)
from log_ingestion.schedule import Task
from log_ingestion.sink import Sink
from log_ingestion.source import Source
from log_ingestion.source.plan import spans
from log_ingestion.stats import Counts

QUERY_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class LaneOptions:
    window_ms: int
    block_windows: int = 240  # the most windows one count or event query spans
    target_events: int = 100_000  # about as many events as one event query reads
    unit_rows: int = 128_000  # a unit (one commit, one file per day) closes past this many rows
    batch_size: int = 20_000
    query: str = ""
    verify_counts: bool = True
    messages_on_error: bool = False  # KEEP_MESSAGE=on_error


class Tasks:
    """A log's tasks, taken in order; tasks not yet committed can be given back."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._rest = iter(tasks)
        self._back: deque[Task] = deque()

    def peek(self) -> Task | None:
        if not self._back:
            following = next(self._rest, None)
            if following is None:
                return None
            self._back.append(following)
        return self._back[0]

    def take(self) -> Task:
        task = self.peek()
        assert task is not None
        return self._back.popleft()

    def give_back(self, tasks: list[Task]) -> None:
        self._back.extendleft(reversed(tasks))


@dataclass(slots=True)
class LaneLog:
    """One log as its lane reads it: what its next unit starts from, and what is in flight."""

    log: LogInfo
    table: str
    tasks: Tasks
    parser_state: Mapping[str, Any]
    newest: int  # the newest committed window's end, counting units handed to commit
    unit: OpenUnit | None = None
    pending: list[Task] = field(default_factory=list)  # taken, not yet in a unit handed on


@dataclass(frozen=True, slots=True)
class Block:
    """A run of windows of the lane, from `first` on, and each log's tasks among them."""

    first: Window
    windows: int
    tasks: Mapping[str, list[Task]]

    @property
    def width(self) -> int:
        return self.first.end_ms - self.first.start_ms

    def index(self, window: Window) -> int:
        return (window.start_ms - self.first.start_ms) // self.width

    def window(self, index: int) -> Window:
        start = self.first.start_ms + index * self.width
        return Window(start, start + self.width)


Behind = Callable[[LaneLog, Unit], None]
Ahead = Callable[[Iterator[Item]], Iterator[Item]]


class Lane:
    """Reads its logs' blocks in order; `split` asks to read its logs apart from now on."""

    def __init__(
        self,
        logs: list[LaneLog],
        source: Source,
        sink: Sink,
        options: LaneOptions,
        stop: threading.Event,
    ) -> None:
        self.logs = {log.log.id: log for log in logs}
        self._source = source
        self._sink = sink
        self._options = options
        self._stop = stop
        self.split = False
        self._pages = 0  # of the queries done
        self._cutter: Cutter | None = None

    @property
    def pages(self) -> int:
        """Pages read so far, the query under way included."""
        return self._pages + (self._cutter.pages if self._cutter is not None else 0)

    def blocks(self) -> Iterator[Block]:
        """The lane's blocks, in order, each aligned to a multiple of `block_windows`."""
        width = self._options.window_ms * self._options.block_windows
        while True:
            heads = [(log, task) for log in self.logs.values() if (task := log.tasks.peek())]
            if not heads:
                return
            number = min(task.window.start_ms // width for _, task in heads)
            tasks: dict[str, list[Task]] = {}
            for log, _ in heads:
                while (task := log.tasks.peek()) and task.window.start_ms // width == number:
                    tasks.setdefault(log.log.id, []).append(log.tasks.take())
                    log.pending.append(task)
            first = min(tasks_[0].window for tasks_ in tasks.values())
            last = max(tasks_[-1].window.end_ms for tasks_ in tasks.values())
            yield Block(first, (last - first.start_ms) // self._options.window_ms, tasks)

    def ingest(self, block: Block, ahead: Ahead, behind: Behind) -> None:
        """Count the block's windows, commit the empty ones, read the others.

        Logs read together whose block holds more events than one query should read are
        not read together: the lane asks to be split (`split`) before reading any."""
        counts = BlockCounts(self._source, tuple(block.tasks), block, self._options, self._stop)
        if len(self.logs) > 1 and counts.total() > self._options.target_events:
            self.split = True
            return
        for span in spans(counts.per_window, self._options.target_events):
            start, end = block.window(span.first).start_ms, block.window(span.last).end_ms
            tasks = _within(block.tasks, start, end, self.logs)
            if not any(tasks.values()):
                continue
            if span.empty:
                self._commit_empty(tasks, behind)
            else:
                self._read(tasks, counts, ahead, behind)

    def _read(
        self, tasks: dict[str, list[Task]], counts: BlockCounts, ahead: Ahead, behind: Behind
    ) -> None:
        """One event query for `tasks`, once more when it fails in a way another may not."""
        for attempt in range(1, QUERY_ATTEMPTS + 1):
            try:
                return self._query(tasks, counts, ahead, behind)
            except ApiRefusedError:
                raise
            except ApiError as exc:
                self.abort_units()
                if self._stop.is_set():
                    raise StopRequestedError("stopped while a query was in flight") from exc
                if attempt == QUERY_ATTEMPTS:
                    raise
                get_logger().warning("window.retry", error=str(exc), attempt=attempt)
                tasks = {
                    log_id: [task for task in self.logs[log_id].pending if task in set(log_tasks)]
                    for log_id, log_tasks in tasks.items()
                    if log_id in self.logs
                }
                if not any(tasks.values()):
                    return

    def _query(
        self, tasks: dict[str, list[Task]], counts: BlockCounts, ahead: Ahead, behind: Behind
    ) -> None:
        options = self._options
        start = min(log_tasks[0].query.start_ms for log_tasks in tasks.values() if log_tasks)
        end = max(log_tasks[-1].query.end_ms for log_tasks in tasks.values() if log_tasks)
        cutter = Cutter(
            Window(start, end),
            tasks,
            {log_id: self.logs[log_id].log for log_id in tasks},
            window_ms=options.window_ms,
            batch_size=options.batch_size,
            unit_rows=options.unit_rows,
        )
        pages = self._source.pages(tuple(tasks), Window(start, end), options.query)
        self._cutter = cutter
        try:
            for item in ahead(cutter.cut(pages)):
                if isinstance(item, Rows):
                    self._write(item)
                else:
                    self._unit_done(item, counts, behind)
        finally:
            self._pages += cutter.pages
            self._cutter = None

    def _write(self, rows: Rows) -> None:
        log = self.logs.get(rows.log_id)
        if log is None:
            return  # dropped: its commit failed
        if log.unit is None:
            log.unit = open_unit(
                self._sink,
                log.table,
                log.parser_state,
                messages_on_error=self._options.messages_on_error,
            )
        write_rows(log.unit, rows.events)

    def _unit_done(self, done: UnitDone, counts: BlockCounts, behind: Behind) -> None:
        log = self.logs.get(done.log_id)
        if log is None:
            return
        unit = log.unit or open_unit(self._sink, log.table, log.parser_state)
        log.unit = None
        api_counts = {
            task.window: counts.verdict(done.log_id, task.window, done.seen, done.seen_by_all)
            for task in done.tasks
            if task.closed
        }
        state = unit.parser.state()
        ready = Unit(done.tasks, unit.staged, state, unit.counts, done.seen, api_counts)
        self._hand_on(log, ready, behind)

    def _commit_empty(self, tasks: dict[str, list[Task]], behind: Behind) -> None:
        """Windows the API counts as empty: committed, verified, without an event query.

        A unit replaces every row of its range, so a unit is a run of contiguous windows:
        a committed window between two tasks keeps its rows."""
        for log_id, log_tasks in tasks.items():
            log = self.logs[log_id]
            for run in _contiguous(log_tasks):
                api_counts = {task.window: 0 for task in run if task.closed}
                staged = self._sink.stage(log.table)
                unit = Unit(run, staged, log.parser_state, Counts(), {}, api_counts)
                self._hand_on(log, unit, behind)

    def _hand_on(self, log: LaneLog, unit: Unit, behind: Behind) -> None:
        """The unit goes to commit; the log's next unit starts from what it leaves."""
        if hands_on_parser_state(unit.tasks, log.newest):
            log.parser_state = unit.parser_state
        if all(task.closed for task in unit.tasks):
            log.newest = max(log.newest, unit.window.end_ms)
        del log.pending[: len(unit.tasks)]
        behind(log, unit)

    def drop(self, log_id: str) -> None:
        """Read no more of a log (its commit failed); what it had in flight is dropped."""
        log = self.logs.pop(log_id, None)
        if log is not None and log.unit is not None:
            log.unit.staged.abort()

    def abort_units(self) -> None:
        """Drop the units being written; their tasks stay pending, to be read again."""
        for log in self.logs.values():
            if log.unit is not None:
                log.unit.staged.abort()
                log.unit = None

    def apart(self) -> list[Lane]:
        """This lane's logs as lanes of their own, each from where it stands."""
        return self._regrouped([[log] for log in self.logs.values()])

    def halves(self) -> list[Lane]:
        """This lane's logs in two lanes, each from where it stands: halving again while a
        block is too busy for one query ends with lanes whose blocks fit one."""
        logs = list(self.logs.values())
        middle = len(logs) // 2
        return self._regrouped([logs[:middle], logs[middle:]])

    def _regrouped(self, groups: list[list[LaneLog]]) -> list[Lane]:
        self.give_back()
        return [
            Lane(group, self._source, self._sink, self._options, self._stop) for group in groups
        ]

    def give_back(self) -> None:
        """Every task taken and not handed to commit goes back to its log's tasks."""
        self.abort_units()
        for log in self.logs.values():
            log.tasks.give_back(log.pending)
            log.pending = []


def _contiguous(tasks: list[Task]) -> list[tuple[Task, ...]]:
    """`tasks` in runs of windows each starting where the one before ends; a window still
    open ends a run, as it ends a query's unit."""
    runs: list[list[Task]] = []
    for task in tasks:
        last = runs[-1][-1] if runs else None
        if last and last.closed and task.closed and last.window.end_ms == task.window.start_ms:
            runs[-1].append(task)
        else:
            runs.append([task])
    return [tuple(run) for run in runs]


def _within(
    tasks: Mapping[str, list[Task]], start_ms: int, end_ms: int, live: Mapping[str, LaneLog]
) -> dict[str, list[Task]]:
    """Each live log's tasks in `[start_ms, end_ms)`; a log with none there is still read
    (its events are counted with the others', then dropped)."""
    return {
        log_id: [task for task in log_tasks if start_ms <= task.window.start_ms < end_ms]
        for log_id, log_tasks in tasks.items()
        if log_id in live
    }


class BlockCounts:
    """The API's counts of a block's windows: one query for all the lane's logs, and, for a
    window whose count differs from what was read, one query per log to tell them apart."""

    def __init__(
        self,
        source: Source,
        log_ids: tuple[str, ...],
        block: Block,
        options: LaneOptions,
        stop: threading.Event,
    ) -> None:
        self._source = source
        self._log_ids = log_ids
        self._block = block
        self._query = options.query
        self._stop = stop
        closed = [
            task.window.end_ms for tasks in block.tasks.values() for task in tasks if task.closed
        ]
        width = options.window_ms
        self._counted = (max(closed) - block.first.start_ms) // width if closed else 0
        self.per_window: list[int | None] = [None] * block.windows
        if options.verify_counts and self._counted:
            counted = self._count(log_ids)
            if counted is not None:
                self.per_window[: self._counted] = counted
        self._by_log: dict[str, list[int] | None] = {}

    def total(self) -> int:
        return sum(count or 0 for count in self.per_window)

    def verdict(
        self,
        log_id: str,
        window: Window,
        seen: Mapping[Window, int],
        seen_by_all: Mapping[Window, int],
    ) -> int | None:
        """The API's count of `log_id`'s events in `window`, None when it is not known.

        When the lane's count of the window matches every event read in it, each log's
        count is what was read of it; only a mismatch asks the API about each log."""
        lane = self.per_window[self._block.index(window)]
        if lane is None:
            return None
        if len(self._log_ids) == 1:
            return lane
        if lane == seen_by_all.get(window, 0):
            return seen.get(window, 0)
        if log_id not in self._by_log:
            self._by_log[log_id] = self._count((log_id,))
        counted = self._by_log[log_id]
        return counted[self._block.index(window)] if counted is not None else None

    def _count(self, log_ids: tuple[str, ...]) -> list[int] | None:
        return verify.count_or_none(
            lambda: self._source.window_counts(
                log_ids, self._block.first, self._counted, self._query
            )
        )
