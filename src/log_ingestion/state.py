"""Checkpoints: what each log has committed, saved only after its files are published.

One JSON file per log under the state directory, replaced atomically (temp, fsync,
rename, directory fsync), so a crash leaves the previous checkpoint or the new one.

    store = CheckpointStore(root)
    checkpoint = store.load(log_id)          # empty when the log was never ingested
    store.save(checkpoint.with_committed(window))
    store.list()                             # every log's checkpoint

A checkpoint is a frozen value: `with_*` and `rewound` return new ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.naming import short_id, slug
from log_ingestion.sink.storage import DIR_MODE, FILE_MODE, storage_error

LOCK_NAME = ".lock"

FORMAT = 1
RECENT_VERIFICATIONS = 1000
SUFFIX = ".json"

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


def _utc_now(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), tz=UTC).isoformat(timespec="milliseconds")


class CheckpointStore:
    """Checkpoints as one JSON file per log under `root`, each replaced atomically."""

    def __init__(
        self, root: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = Path(root)
        self._clock = clock

    def path(self, log_id: str) -> Path:
        """The file of a log: a slug of its id and a digest, safe whatever the id holds."""
        return self.root / f"{slug(log_id, fallback='log')}-{short_id(log_id)}{SUFFIX}"

    def load(self, log_id: str) -> LogCheckpoint:
        path = self.path(log_id)
        if not path.exists():
            return LogCheckpoint(log_id=log_id)
        checkpoint = _read(path)
        if checkpoint.log_id != log_id:
            raise _corrupt(path, f"it belongs to log {checkpoint.log_id!r}, not {log_id!r}")
        return checkpoint

    def save(self, checkpoint: LogCheckpoint) -> LogCheckpoint:
        """Write durably, replacing the previous one at once; returns it as saved."""
        saved = replace(checkpoint, updated_at=_utc_now(self._clock))
        path = self.path(checkpoint.log_id)
        temp = path.with_name(path.name + ".tmp")
        try:
            self._make_root()
            _write_synced(temp, encode(saved))
            os.replace(temp, path)
            _sync_dir(self.root)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            raise storage_error(exc, "save checkpoint", str(path)) from exc
        return saved

    def list(self) -> list[LogCheckpoint]:
        """Every saved checkpoint, by log name then id."""
        try:
            paths = sorted(self.root.glob(f"*{SUFFIX}"))
        except OSError as exc:
            raise storage_error(exc, "list checkpoints in", str(self.root)) from exc
        checkpoints = [_read(path) for path in paths]
        return sorted(checkpoints, key=lambda checkpoint: (checkpoint.log_name, checkpoint.log_id))

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the state folder's lock for a whole run, or refuse at once.

        Two processes on one output (a follow service and a manual run, overlapping cron
        jobs) would delete each other's staging files and overwrite each other's
        checkpoints; the lock turns that into a clear error instead of lost windows.
        """
        try:
            self._make_root()
            handle = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise storage_error(exc, "lock state folder", str(self.root)) from exc
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StorageError(
                    f"another log-ingestion process is using {self.root}; stop it first "
                    "(or give this run its own OUTPUT_DIR / STATE_DIR)"
                ) from None
            yield
        finally:
            os.close(handle)

    def _make_root(self) -> None:
        missing = []
        directory = self.root
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for directory in reversed(missing):
            try:
                directory.mkdir(DIR_MODE)
            except FileExistsError:
                # Logs save from their own threads: another may have just made it. Only a
                # file standing there is an error.
                if not directory.is_dir():
                    raise


def _read(path: Path) -> LogCheckpoint:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise storage_error(exc, "read checkpoint", str(path)) from exc
    return decode(data, path)


def _write_synced(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def encode(checkpoint: LogCheckpoint) -> bytes:
    document = {
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
    return json.dumps(document, indent=1, sort_keys=True).encode()


def decode(data: bytes, path: Path) -> LogCheckpoint:
    """A checkpoint from its file, or a `StorageError` that says which file and what to do."""
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not a checkpoint of a known format")
        verification = document["verification"]
        if not isinstance(verification, dict) or not isinstance(document["parser_state"], dict):
            raise TypeError("parser_state and verification must be objects")
        return LogCheckpoint(
            log_id=_typed(document["log_id"], str),
            log_name=_typed(document["log_name"], str),
            table=_typed(document["table"], str),
            window_ms=_typed(document["window_ms"], int),
            committed=merge_intervals(
                (_typed(start, int), _typed(end, int)) for start, end in document["committed"]
            ),
            parser_state=document["parser_state"],
            verification={**_empty_verification(), **verification},
            updated_at=_typed(document["updated_at"], str),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise _corrupt(path, str(exc)) from exc


def _typed(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def _corrupt(path: Path, detail: str) -> StorageError:
    return StorageError(
        f"checkpoint {path} is unreadable ({detail}). It is written atomically, so the disk "
        "or a hand edit damaged it: restore it from a backup, or move it away to ingest that "
        "log again from the start (its windows replace their files, nothing is duplicated)"
    )
