"""Checkpoint values: what one log has committed, and what its next run needs to continue.

A checkpoint is a frozen value: `with_*` and `rewound` return new ones. It is saved only
after the rows it describes are durable, by a `CheckpointStore` (JSON files beside a
Parquet folder, or the commit metadata of a Delta table); both keep the document that
`to_document` makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.parse import MessageParser
from log_ingestion.sink.naming import check_table

FORMAT = 1
RECENT_VERIFICATIONS = 1000

Interval = tuple[int, int]
T = TypeVar("T")


def merge_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, disjoint half-open intervals; overlapping and touching ones are joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _empty_verification() -> dict[str, Any]:
    return {"windows": 0, "mismatches": 0, "rows": 0, "api_count": 0, "recent": []}


@dataclass(frozen=True, slots=True)
class LogCheckpoint:
    """What one log has committed, and what its next run needs to continue.

    `table` and `window_ms` are fixed by the first run: later runs write into the same
    directory on the same grid, so a re-ingested window replaces its files. `committed` is
    sorted and merged. `verification` holds totals (`windows`, `mismatches`, `rows`,
    `api_count`) over the windows in `recent`, the last 1000 windows checked against the
    API's own count, each `{start_ms, end_ms, rows, api_count, ok}`.
    """

    log_id: str
    log_name: str = ""
    table: str = ""
    window_ms: int = 0
    committed: tuple[Interval, ...] = ()
    parser_state: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=_empty_verification)
    updated_at: str = ""

    @property
    def committed_end_ms(self) -> int:
        """The end of the newest committed window; 0 when none is."""
        return max((end for _, end in self.committed), default=0)

    def is_committed(self, window: Window) -> bool:
        """True when the whole window lies inside one committed interval."""
        return any(
            start <= window.start_ms and window.end_ms <= end for start, end in self.committed
        )

    def missing(self, range_start_ms: int, range_end_ms: int) -> list[Window]:
        """The gaps of `[range_start_ms, range_end_ms)` that are not committed, in order."""
        gaps, cursor = [], range_start_ms
        for start, end in self.committed:
            if end <= cursor:
                continue
            if start >= range_end_ms:
                break
            if start > cursor:
                gaps.append(Window(cursor, start))
            cursor = max(cursor, end)
        if cursor < range_end_ms:
            gaps.append(Window(cursor, range_end_ms))
        return gaps

    def started(self, log_name: str, table: str, window_ms: int) -> LogCheckpoint:
        """This checkpoint with its table and grid, which a log's first run fixes."""
        if self.table:
            return self
        return replace(self, log_name=log_name, table=table, window_ms=window_ms)

    def with_committed(self, window: Window) -> LogCheckpoint:
        return replace(
            self, committed=merge_intervals([*self.committed, (window.start_ms, window.end_ms)])
        )

    def with_parser_state(self, parser_state: dict[str, Any]) -> LogCheckpoint:
        return replace(self, parser_state=dict(parser_state))

    def with_verification(self, window: Window, rows: int, api_count: int) -> LogCheckpoint:
        """Record a window's landed rows against the API's count; a re-check replaces the old one."""
        entry = {
            "start_ms": window.start_ms,
            "end_ms": window.end_ms,
            "rows": rows,
            "api_count": api_count,
            "ok": rows == api_count,
        }
        recent = [
            old
            for old in self.verification.get("recent", [])
            if (old["start_ms"], old["end_ms"]) != (window.start_ms, window.end_ms)
        ]
        recent = [*recent, entry][-RECENT_VERIFICATIONS:]
        return replace(self, verification=_totals(recent))

    def with_recent_limit(self, limit: int) -> LogCheckpoint:
        """Only the newest `limit` verifications kept, the totals over them."""
        recent = list(self.verification.get("recent", []))[-limit:]
        return replace(self, verification=_totals(recent))

    def without(self, windows: Iterable[Window]) -> LogCheckpoint:
        """Forget the commit of `windows` alone (a repair ingests them again)."""
        kept = list(self.committed)
        for window in windows:
            kept = [
                piece
                for start, end in kept
                for piece in ((start, min(end, window.start_ms)), (max(start, window.end_ms), end))
                if piece[0] < piece[1]
            ]
        return replace(self, committed=merge_intervals(kept))

    def rewound(self, from_ms: int) -> LogCheckpoint:
        """Forget what was committed at or after `from_ms` so it is ingested again.

        The table, grid and parser state stay: re-ingested windows replace their files.
        """
        kept = [(start, min(end, from_ms)) for start, end in self.committed if start < from_ms]
        return replace(self, committed=merge_intervals(kept))


def _totals(recent: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "windows": len(recent),
        "mismatches": sum(not entry["ok"] for entry in recent),
        "rows": sum(entry["rows"] for entry in recent),
        "api_count": sum(entry["api_count"] for entry in recent),
        "recent": recent,
    }


def to_document(checkpoint: LogCheckpoint) -> dict[str, Any]:
    """The checkpoint as a JSON-ready document."""
    return {
        "format": FORMAT,
        "log_id": checkpoint.log_id,
        "log_name": checkpoint.log_name,
        "table": checkpoint.table,
        "window_ms": checkpoint.window_ms,
        "committed": [list(interval) for interval in checkpoint.committed],
        "parser_state": checkpoint.parser_state,
        "verification": checkpoint.verification,
        "updated_at": checkpoint.updated_at,
    }


def from_document(document: Mapping[str, Any], where: str) -> LogCheckpoint:
    """A checkpoint from its document, or a `StorageError` naming `where` and the fix: also
    for a table that is not one folder inside the output (`../../etc`) and for a parser
    state no parser can start from."""
    try:
        if document.get("format") != FORMAT:
            raise ValueError("not a checkpoint of a known format")
        verification = document["verification"]
        if not isinstance(verification, dict) or not isinstance(document["parser_state"], dict):
            raise TypeError("parser_state and verification must be objects")
        table = _typed(document["table"], str)
        if document["parser_state"]:
            # a parser is built from it at the log's next window: a state it refuses is a
            # damaged checkpoint, named here for every command that reads it
            MessageParser.from_state(document["parser_state"])
        return LogCheckpoint(
            log_id=_typed(document["log_id"], str),
            log_name=_typed(document["log_name"], str),
            table=check_table(table) if table else table,
            window_ms=_typed(document["window_ms"], int),
            committed=merge_intervals(
                (_typed(start, int), _typed(end, int)) for start, end in document["committed"]
            ),
            parser_state=document["parser_state"],
            verification={**_empty_verification(), **verification},
            updated_at=_typed(document["updated_at"], str),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise corrupt(where, str(exc)) from exc


def encode(checkpoint: LogCheckpoint) -> bytes:
    return json.dumps(to_document(checkpoint), indent=1, sort_keys=True).encode()


def decode(data: bytes, where: str) -> LogCheckpoint:
    """A checkpoint from its JSON bytes, or a `StorageError` that says where and what to do."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise corrupt(where, str(exc)) from exc
    if not isinstance(document, dict):
        raise corrupt(where, "not a checkpoint of a known format")
    return from_document(document, where)


def _typed(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def corrupt(where: str, detail: str) -> StorageError:
    return StorageError(
        f"checkpoint {where} is unreadable ({detail}). It is written atomically, so the disk "
        "or a hand edit damaged it: restore it from a backup, or move it away to ingest that "
        "log again from the start (its windows replace their files, nothing is duplicated)"
    )
