"""Progress for a person at a terminal: per log, windows done of total, events, rate, ETA.

While the bars show, the per-window log lines are DEBUG (`logging.bars_showing`): at INFO
they would push the bars off the screen with the same figures."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from log_ingestion.logging import bars_showing
from log_ingestion.models import LogInfo
from log_ingestion.stats import Counts


class TerminalProgress:
    """A rich progress display on stderr; one bar per log."""

    def __init__(self, console: Console | None = None) -> None:
        self._bars = Progress(
            TextColumn("[bold]{task.fields[name]}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("windows"),
            TextColumn("{task.fields[events]:>10,} events"),
            TextColumn("{task.fields[rate]:>8,.0f}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalProgress:
        self._bars.start()
        bars_showing(True)
        return self

    def __exit__(self, *_: object) -> None:
        bars_showing(False)
        self._bars.stop()

    def log_started(self, log: LogInfo, windows: int) -> None:
        with self._lock:
            task = self._tasks.get(log.id)
            if task is None:
                self._tasks[log.id] = self._bars.add_task(
                    "", total=windows, name=escape(log.name), events=0, rate=0.0
                )
            else:
                self._bars.update(task, total=windows, completed=0)

    def window_done(self, log: LogInfo, counts: Counts) -> None:
        with self._lock:
            task_id = self._tasks[log.id]
            task = self._bars.tasks[task_id]
            events = int(task.fields["events"]) + counts.rows
            elapsed = task.elapsed or 0.0
            rate = events / elapsed if elapsed > 0 else 0.0
            self._bars.update(task_id, advance=1, events=events, rate=rate)
