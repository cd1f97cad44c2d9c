"""A run of the pipeline: planned logs in, one summary out; a failing log fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from log_ingestion.errors import LogIngestionError
from log_ingestion.models import LogInfo
from log_ingestion.pipeline import verify
from log_ingestion.pipeline.lane import Lane, LaneLog, LaneOptions, Tasks
from log_ingestion.pipeline.observe import Observer
from log_ingestion.pipeline.overlap import LaneWorker, LogResult, run_lanes
from log_ingestion.schedule import Task
from log_ingestion.sink import Sink
from log_ingestion.source import Source
from log_ingestion.source.plan import LogDensity, lanes
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts, total


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    query: str = ""
    batch_size: int = 20_000
    concurrency: int = 4
    verify_counts: bool = True
    query_windows: int = 240  # the most windows one count or event query spans
    query_events: int = 100_000  # about as many events as one event query reads
    query_logs: int = 20  # the most logs one query reads together
    unit_rows: int = 128_000  # a commit of a log closes at a window end past this many rows
    keep_message: str = "always"  # or "on_error": only where a row did not parse


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
    """Ingests the planned windows of logs: count, fetch, filter, parse, write, commit."""

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
        results = {plan.log.id: LogResult(plan.checkpoint) for plan in plans}
        for plan in plans:
            self._observer.log_started(plan.log, plan.windows)
        worker = LaneWorker(results, self._observer, self._stop)
        run_lanes(self._lanes(plans), self._options.concurrency, worker)
        logs = tuple(self._summary(plan, results[plan.log.id]) for plan in plans)
        return RunSummary(logs, time.monotonic() - began, self._stop.is_set())

    def _lanes(self, plans: list[LogPlan]) -> list[Lane]:
        """The logs grouped into lanes: dense ones alone, sparse ones together."""
        options = self._options
        by_id = {plan.log.id: plan for plan in plans}
        densities = [
            LogDensity(plan.log.id, plan.checkpoint.window_ms, verify.density(plan.checkpoint))
            for plan in plans
        ]
        groups = lanes(
            densities,
            block_windows=options.query_windows,
            target_events=options.query_events,
            max_logs=options.query_logs if options.verify_counts else 1,
        )
        return [self._lane([by_id[log_id] for log_id in group]) for group in groups]

    def _lane(self, plans: list[LogPlan]) -> Lane:
        options = self._options
        lane_options = LaneOptions(
            window_ms=plans[0].checkpoint.window_ms,
            block_windows=options.query_windows,
            target_events=options.query_events,
            unit_rows=options.unit_rows,
            batch_size=options.batch_size,
            query=options.query,
            verify_counts=options.verify_counts,
            messages_on_error=options.keep_message == "on_error",
        )
        logs = [
            LaneLog(
                plan.log,
                plan.checkpoint.table,
                Tasks(plan.tasks),
                plan.checkpoint.parser_state,
                plan.checkpoint.committed_end_ms,
            )
            for plan in plans
        ]
        return Lane(logs, self._source, self._sink, lane_options, self._stop)

    def _summary(self, plan: LogPlan, result: LogResult) -> LogSummary:
        if result.error is not None:
            self._observer.log_failed(plan.log, result.error)
        elif result.interrupted:
            self._observer.log_interrupted(plan.log)
        return LogSummary(
            plan.log,
            plan.checkpoint.table,
            plan.windows,
            result.counts,
            result.error,
            result.interrupted,
        )
