"""Checkpoints as JSON files, one per log under the state directory (`STATE_DIR`).

Each file is replaced atomically (temp, fsync, rename, directory fsync), so a crash
leaves the previous checkpoint or the new one:

    store = JsonCheckpointStore(root)
    checkpoint = store.load(log_id)          # empty when the log was never ingested
    store.save(checkpoint.with_committed(window))
    store.list()                             # every log's checkpoint
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from log_ingestion.errors import StorageError
from log_ingestion.sink import locks
from log_ingestion.sink.naming import short_id, slug
from log_ingestion.sink.storage import DIR_MODE, FILE_MODE, storage_error
from log_ingestion.state.checkpoint import LogCheckpoint, corrupt, decode, encode

LOCK_NAME = locks.LOCK_FILE
SUFFIX = ".json"


def _utc_now(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), tz=UTC).isoformat(timespec="milliseconds")


class JsonCheckpointStore:
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
            raise corrupt(str(path), f"it belongs to log {checkpoint.log_id!r}, not {log_id!r}")
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

    def rewind(self, log_id: str, from_ms: int) -> LogCheckpoint:
        """Forget what the log committed from `from_ms` on (`LogCheckpoint.rewound`)."""
        return self.save(self.load(log_id).rewound(from_ms))

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

        Two processes on one state folder (a follow service and a manual run, overlapping
        cron jobs, a `state reset` beside a service) would overwrite each other's
        checkpoints; the lock turns that into a clear error instead of lost windows. The
        output folder has a lock of its own (`ParquetSink.exclusive`).
        """
        try:
            self._make_root()
        except OSError as exc:
            raise storage_error(exc, "lock state folder", str(self.root)) from exc

        def refused() -> StorageError:
            return StorageError(
                f"another log-ingestion process is using {self.root}; stop it first "
                "(or give this run its own OUTPUT_DIR / STATE_DIR)"
            )

        with locks.exclusive(str(self.root / LOCK_NAME), refused, "lock state folder"):
            yield

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
    return decode(data, str(path))


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
