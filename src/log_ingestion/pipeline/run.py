"""A run of the pipeline: planned logs in, one summary out; a failing log fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from log_ingestion.errors import LogIngestionError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo
from log_ingestion.pipeline.observe import Observer
from log_ingestion.pipeline.overlap import LogJob, LogWorker, run_in_pool
from log_ingestion.schedule import Task
from log_ingestion.sink import Sink
from log_ingestion.source import Source
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts, total


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    query: str = ""
    batch_size: int = 20_000
    concurrency: int = 4
    verify_counts: bool = True


@dataclass(frozen=True, slots=True)
class LogPlan:
    """A log, its checkpoint as the run starts, and the tasks the schedule gave it."""

    log: LogInfo
    checkpoint: LogCheckpoint
    tasks: Iterable[Task]
    windows: int


@dataclass(frozen=True, slots=True)
class LogSummary:
    log: LogInfo
    table: str = ""
    windows: int = 0  # planned
    counts: Counts = field(default_factory=Counts)
    error: Exception | None = None
    interrupted: bool = False

    @property
    def message(self) -> str | None:
        """Why the log failed, in one line; a bug says it is one."""
        if self.error is None:
            return None
        if isinstance(self.error, LogIngestionError):
            return str(self.error)
        return f"unexpected {type(self.error).__name__}: {self.error}"

    def __add__(self, later: LogSummary) -> LogSummary:
        """This log's summary followed by a later run's (follow mode's cycles)."""
        return LogSummary(
            self.log,
            later.table or self.table,
            self.windows + later.windows,
            self.counts + later.counts,
            later.error,
            later.interrupted,
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    logs: tuple[LogSummary, ...] = ()
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def counts(self) -> Counts:
        return total([log.counts for log in self.logs])

    @property
    def failed(self) -> list[LogSummary]:
        return [log for log in self.logs if log.error is not None]

    def __add__(self, later: RunSummary) -> RunSummary:
        """This run followed by `later`, log by log."""
        merged = {log.log.id: log for log in self.logs}
        for log in later.logs:
            merged[log.log.id] = merged[log.log.id] + log if log.log.id in merged else log
        return RunSummary(
            tuple(merged.values()),
            self.seconds + later.seconds,
            self.interrupted or later.interrupted,
        )


class Pipeline:
    """Ingests the planned windows of logs: fetch, filter, parse, write, commit."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        options: PipelineOptions,
        *,
        stop: threading.Event | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._source = source
        self._sink = sink
        self._options = options
        self._stop = stop or threading.Event()
        self._observer = observer or Observer()

    def run(self, plans: list[LogPlan]) -> RunSummary:
        began = time.monotonic()
        logs = run_in_pool(plans, min(self._options.concurrency, len(plans)), self._ingest_log)
        return RunSummary(tuple(logs), time.monotonic() - began, self._stop.is_set())

    def _ingest_log(self, plan: LogPlan) -> LogSummary:
        options, log = self._options, plan.log
        job = LogJob(
            log, plan.checkpoint.table, options.query, options.batch_size, options.verify_counts
        )
        worker = LogWorker(job, self._source, self._sink, self._observer, self._stop)
        error: Exception | None = None
        interrupted = False
        try:
            self._observer.log_started(log, plan.windows)
            worker.run(plan.tasks, plan.checkpoint)
        except StopRequestedError:
            interrupted = True
            self._observer.log_interrupted(log)
        except LogIngestionError as exc:
            error = exc
            self._observer.log_failed(log, exc)
        except Exception as exc:  # a bug must fail this log, not every log of the run
            error = exc
            get_logger(log_id=log.id).exception("log.failed", error_type=type(exc).__name__)
        return LogSummary(log, job.table, plan.windows, worker.counts, error, interrupted)
