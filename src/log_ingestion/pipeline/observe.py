"""What the pipeline tells the outside: one observer turns each event into metrics, a log
line and progress, so the pipeline itself never fans out by hand."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from log_ingestion import metrics
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo
from log_ingestion.schedule import Task
from log_ingestion.stats import Counts


class Progress(Protocol):
    """What a person watching is shown."""

    def log_started(self, log: LogInfo, windows: int) -> None: ...

    def window_done(self, log: LogInfo, counts: Counts) -> None: ...


@dataclass(frozen=True, slots=True)
class WindowDone:
    """A window published (and committed when closed): what it did and how long it took."""

    log: LogInfo
    task: Task
    counts: Counts
    api_count: int | None
    seconds: float


class Observer:
    """Metrics, log lines and progress for each log and window; thread-safe."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress
        self._totals: dict[str, Counts] = {}
        self._lock = threading.Lock()

    def log_started(self, log: LogInfo, windows: int) -> None:
        if self._progress is not None:
            self._progress.log_started(log, windows)

    def window_done(self, done: WindowDone) -> None:
        log, task, counts = done.log, done.task, done.counts
        with self._lock:
            total = self._totals[log.id] = self._totals.get(log.id, Counts()) + counts
        metrics.window_done(log.name, counts, total, task.window.end_ms if task.closed else None)
        logger = get_logger(
            log_id=log.id, window_start=task.window.start_ms, window_end=task.window.end_ms
        )
        fields = counts.fields() | {"committed": task.closed}
        logger.info(
            "window.done", **fields, api_count=done.api_count, seconds=round(done.seconds, 3)
        )
        if counts.mismatches:
            logger.warning(
                "window.count_mismatch",
                rows=counts.rows,
                api_count=done.api_count,
                hint="the API counts a different number of events than landed; run again with --rescan",
            )
        if self._progress is not None:
            self._progress.window_done(log, counts)

    def log_failed(self, log: LogInfo, error: Exception) -> None:
        get_logger(log_id=log.id, log_name=log.name).error(
            "log.failed", error=str(error), error_type=type(error).__name__
        )

    def log_interrupted(self, log: LogInfo) -> None:
        get_logger(log_id=log.id, log_name=log.name).info("log.interrupted")
