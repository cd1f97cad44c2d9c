"""The window step, sequential and without a thread: rows in, parsed, staged, committed.

A log's consecutive windows read by one query form a unit: its events are parsed in
order and written to one staged writer, and the unit commits its rows and the log's
checkpoint at once. Committing a closed window records it (and its verification) in the
checkpoint; a window still open is published and ingested again by the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.parse import MessageParser
from log_ingestion.parse.formats import CSV, JSON, KV
from log_ingestion.pipeline import verify
from log_ingestion.schedule import Task
from log_ingestion.sink import Sink, Staged
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

TIMESTAMP = pa.timestamp("ms", tz="UTC")


# A row of these formats that parsed holds every value of its message in its columns.
STRUCTURED = pa.array([CSV, JSON, KV])


@dataclass(slots=True)
class OpenUnit:
    """A log's unit being written: its staged rows, the parser that reads them, counts;
    `messages_on_error` keeps the raw message only where a row did not parse."""

    staged: Staged
    parser: MessageParser
    messages_on_error: bool = False
    counts: Counts = field(default_factory=Counts)


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit ready to commit: its tasks, rows, the parser state after them, and for each
    closed window the API's count when there is one (None: unverified)."""

    tasks: tuple[Task, ...]
    staged: Staged
    parser_state: Mapping[str, Any]
    counts: Counts
    rows: Mapping[Window, int]
    api_counts: Mapping[Window, int | None]

    @property
    def window(self) -> Window:
        return Window(self.tasks[0].window.start_ms, self.tasks[-1].window.end_ms)


def open_unit(
    sink: Sink, table: str, parser_state: Mapping[str, Any], *, messages_on_error: bool = False
) -> OpenUnit:
    parser = MessageParser.from_state(dict(parser_state)) if parser_state else MessageParser()
    return OpenUnit(sink.stage(table), parser, messages_on_error)


def write_rows(unit: OpenUnit, events: pa.Table) -> None:
    """Parse a batch of event columns and write the rows; on failure the unit is dropped."""
    try:
        parsed = unit.parser.parse(events.column("message"))
        rows = to_table(events, parsed)
        if unit.messages_on_error:
            rows = without_parsed_messages(rows)
        unit.staged.write(rows)
    except Exception:  # nothing of this unit may become visible
        unit.staged.abort()
        raise
    unit.counts += Counts(
        rows=rows.num_rows,
        parse_errors=len(parsed) - parsed.column("_parse_error").null_count,
        message_bytes=pc.sum(pc.binary_length(events.column("message"))).as_py() or 0,
    )


def without_parsed_messages(rows: pa.Table) -> pa.Table:
    """`rows` whose `message` is null where the row parsed into columns (CSV, JSON, kv):
    the raw line stays only where it is all there is (text, a CSV header, a parse error)."""
    parsed = pc.and_(
        pc.is_null(rows.column("_parse_error")), pc.is_in(rows.column("_format"), STRUCTURED)
    )
    message = pc.if_else(parsed, pa.scalar(None, pa.string()), rows.column("message"))
    return rows.set_column(rows.column_names.index("message"), "message", message)


def commit_unit(unit: Unit, checkpoint: LogCheckpoint) -> tuple[LogCheckpoint, Counts]:
    """Make the unit's rows visible and commit its closed windows with them."""
    after = checkpoint
    closed = [task for task in unit.tasks if task.closed]
    for task in closed:
        after = after.with_committed(task.window)
    if closed and hands_on_parser_state(unit.tasks, checkpoint.committed_end_ms):
        after = after.with_parser_state(dict(unit.parser_state))
    verdicts = Counts()
    for task in closed:
        api_count = unit.api_counts.get(task.window)
        if api_count is not None:
            rows = unit.rows.get(task.window, 0)
            after = verify.recorded(after, task.window, rows, api_count)
            verdicts += verify.verdict(rows, api_count)
    published = unit.staged.commit(unit.window, after)
    counts = unit.counts + verdicts
    counts += Counts(
        windows=len(unit.tasks),
        committed=len(closed),
        files=len(published.files),
        bytes=published.bytes,
    )
    return after, counts


def hands_on_parser_state(tasks: tuple[Task, ...], committed_end_ms: int) -> bool:
    """Whether committing `tasks` makes their parser state the log's: closed windows at or
    past the newest committed one. A rescan of an older window must not roll the header
    and column types back."""
    return all(task.closed for task in tasks) and tasks[-1].window.end_ms >= committed_end_ms


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
    # A log's events all carry its own id: one value, repeated.
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
