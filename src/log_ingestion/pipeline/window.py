"""The window step, sequential and without a thread: pages -> filter -> parse -> write -> commit.

    batches = EventBatches(source.pages(log.id, task.query), task, log, batch_size)
    window = stage_window(task, batches, parser, sink.stage(table, task.window))
    checkpoint, counts = commit_window(window, checkpoint, api_count)

`overlap` runs the same steps with the download ahead and the commit behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.errors import ApiError, ApiRefusedError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.models import EventPage, LogInfo
from log_ingestion.parse import MessageParser
from log_ingestion.pipeline import verify
from log_ingestion.pipeline.dedup import WindowFilter
from log_ingestion.schedule import Task
from log_ingestion.sink import Staged
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

WINDOW_ATTEMPTS = 2
TIMESTAMP = pa.timestamp("ms", tz="UTC")
T = TypeVar("T")


@dataclass(slots=True)
class StagedWindow:
    """A window's rows written out of sight, with what its commit needs."""

    task: Task
    staged: Staged
    parser_state: dict[str, Any]
    counts: Counts = field(default_factory=Counts)

    def abort(self) -> None:
        self.staged.abort()


class EventBatches:
    """A window's events, filtered and gathered into batches of about `size`, as Arrow
    columns ready for the parser; `pages` counts the pages read so far."""

    def __init__(self, pages: Iterable[EventPage], task: Task, log: LogInfo, size: int) -> None:
        self._pages = pages
        self._filter = WindowFilter(task.query)
        self._log = log
        self._size = size
        self.pages = 0

    def __iter__(self) -> Iterator[pa.Table]:
        batcher = Batcher(self._size)
        for page in self._pages:
            self.pages += 1
            batch = batcher.add(self._filter.keep(page))
            if batch is not None:
                yield event_columns(batch, self._log)
        rest = batcher.flush()
        if rest is not None:
            yield event_columns(rest, self._log)


class Batcher:
    """Gathers filtered pages into batches of about `size` events for the parser."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._pending = EventPage()

    def add(self, page: EventPage) -> EventPage | None:
        pending = self._pending
        pending.timestamps.extend(page.timestamps)
        pending.sequence_numbers.extend(page.sequence_numbers)
        pending.log_ids.extend(page.log_ids)
        pending.messages.extend(page.messages)
        pending.labels.extend(page.labels)
        return self.flush() if len(pending) >= self._size else None

    def flush(self) -> EventPage | None:
        if not len(self._pending):
            return None
        batch, self._pending = self._pending, EventPage()
        return batch


def stage_window(
    task: Task, batches: Iterable[pa.Table], parser: MessageParser, staged: Staged
) -> StagedWindow:
    """Parse every batch and write it to `staged`; on any failure the rows are dropped."""
    counts = Counts()
    try:
        for events in batches:
            parsed = parser.parse(events.column("message"))
            rows = to_table(events, parsed)
            staged.write(rows)
            counts += Counts(
                rows=rows.num_rows,
                parse_errors=len(parsed) - parsed.column("_parse_error").null_count,
                message_bytes=pc.sum(pc.binary_length(rows.column("message"))).as_py() or 0,
            )
    except Exception:  # a stop or a failure: nothing of this window may become visible
        staged.abort()
        raise
    return StagedWindow(task, staged, parser.state(), counts)


def commit_window(
    window: StagedWindow, checkpoint: LogCheckpoint, api_count: int | None
) -> tuple[LogCheckpoint, Counts]:
    """Make the window's rows visible and, when it is closed, commit it with them."""
    task, rows = window.task, window.counts.rows
    after = checkpoint
    if task.closed:
        after = after.with_committed(task.window)
        if hands_on_parser_state(task, checkpoint.committed_end_ms):
            after = after.with_parser_state(window.parser_state)
        if api_count is not None:
            after = verify.recorded(after, task.window, rows, api_count)
    published = window.staged.commit(after)
    counts = window.counts + Counts(
        windows=1, committed=int(task.closed), files=len(published.files), bytes=published.bytes
    )
    if task.closed and api_count is not None:
        counts += verify.verdict(rows, api_count)
    return after, counts


def hands_on_parser_state(task: Task, committed_end_ms: int) -> bool:
    """Whether committing `task` makes its parser state the log's: a closed window at or
    past the newest committed one. A rescan of an older window must not roll the header
    and column types back."""
    return task.closed and task.window.end_ms >= committed_end_ms


def with_window_retry(attempt: Callable[[], T], stopping: Callable[[], bool], task: Task) -> T:
    """`attempt()`, once more after an API failure that another query may not meet.

    Once stopping, a failure is most likely the stop itself (a request cut short):
    retrying the window would hold the shutdown for a whole window.
    """
    logger = get_logger(window_start=task.window.start_ms, window_end=task.window.end_ms)
    for number in range(1, WINDOW_ATTEMPTS + 1):
        try:
            return attempt()
        except ApiRefusedError:
            raise
        except ApiError as exc:
            if stopping():
                raise StopRequestedError("stopped while a window was in flight") from exc
            if number == WINDOW_ATTEMPTS:
                raise
            logger.warning("window.retry", error=str(exc), attempt=number)
    raise AssertionError("unreachable: the last attempt returns or raises")


def event_columns(page: EventPage, log: LogInfo) -> pa.Table:
    """The event fields of the output rows, in their order; parsed fields follow them."""
    count = len(page)
    return pa.table(
        {
            "timestamp": pa.array(page.timestamps, TIMESTAMP),
            "sequence_number": pa.array(page.sequence_numbers, pa.uint64()),
            "log_id": _log_ids(page.log_ids),
            "log_name": pa.repeat(pa.scalar(log.name, pa.string()), count),
            "labels": _labels(page.labels),
            "message": pa.array(page.messages, pa.string()),
        }
    )


def _log_ids(log_ids: list[str]) -> pa.Array:
    # A log's query returns its own id on every event: one value, repeated.
    if log_ids and log_ids.count(log_ids[0]) == len(log_ids):
        return pa.repeat(pa.scalar(log_ids[0], pa.string()), len(log_ids))
    return pa.array(log_ids, pa.string())


def _labels(labels: list[list[str]]) -> pa.Array:
    if labels and not any(labels):  # most events have no label: nothing to convert one by one
        return pa.repeat(pa.scalar([], pa.list_(pa.string())), len(labels))
    return pa.array(labels, pa.list_(pa.string()))


def to_table(events: pa.Table, parsed: pa.Table) -> pa.Table:
    """The output row layout: event fields first, then `_parse_error`, `_format`, parsed fields."""
    columns = dict(zip(events.column_names, events.columns, strict=True))
    columns["_parse_error"] = parsed.column("_parse_error")
    columns["_format"] = parsed.column("_format")
    for name in parsed.column_names:
        if name not in columns:
            columns[name] = parsed.column(name)
    return pa.table(columns)
