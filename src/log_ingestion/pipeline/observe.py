"""What the pipeline tells the outside: one observer turns each event into metrics, a log
line and progress, so the pipeline itself never fans out by hand."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from log_ingestion import metrics
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo, Window
from log_ingestion.schedule import Task
from log_ingestion.stats import Counts


class Progress(Protocol):
    """What a person watching is shown."""

    def log_started(self, log: LogInfo, windows: int) -> None: ...

    def window_done(self, log: LogInfo, counts: Counts) -> None: ...


@dataclass(frozen=True, slots=True)
class WindowDone:
    """Windows of a log published together (and committed when closed): what they did,
    the API's count of them, and how long it took since the lane's previous commit."""

    log: LogInfo
    tasks: tuple[Task, ...]
    counts: Counts
    seconds: float
    rows: Mapping[Window, int] = field(default_factory=dict)  # per window
    api_counts: Mapping[Window, int | None] = field(default_factory=dict)  # closed windows

    @property
    def api_count(self) -> int | None:
        """The API's count of the closed windows, when every one of them is known."""
        counts = list(self.api_counts.values())
        if not counts or any(count is None for count in counts):
            return None
        return sum(count or 0 for count in counts)

    @property
    def window(self) -> Window:
        return Window(self.tasks[0].window.start_ms, self.tasks[-1].window.end_ms)

    @property
    def committed(self) -> bool:
        return all(task.closed for task in self.tasks)


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
        log, window, counts = done.log, done.window, done.counts
        with self._lock:
            total = self._totals[log.id] = self._totals.get(log.id, Counts()) + counts
        metrics.window_done(log.name, counts, total, window.end_ms if done.committed else None)
        logger = get_logger(
            log_id=log.id, log_name=log.name, window_start=window.start_ms, window_end=window.end_ms
        )
        fields = counts.fields() | {"committed": done.committed}
        logger.info(
            "window.done", **fields, api_count=done.api_count, seconds=round(done.seconds, 3)
        )
        for window, api_count in done.api_counts.items():
            rows = done.rows.get(window, 0)
            if api_count is not None and api_count != rows:
                get_logger(
                    log_id=log.id, window_start=window.start_ms, window_end=window.end_ms
                ).warning(
                    "window.count_mismatch",
                    rows=rows,
                    api_count=api_count,
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
