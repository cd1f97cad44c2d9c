"""A run as a user asks for it: the logs chosen, each planned from its checkpoint, the
pipeline run once, or again for every follow cycle until stopped (a follow service rides
out an API outage with a backoff and ends only on a stop or an error no cycle can fix)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime

from log_ingestion import metrics, process
from log_ingestion.config import Settings
from log_ingestion.errors import ConfigError, LogIngestionError, StopRequestedError, exit_code
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo
from log_ingestion.pipeline import LogPlan, RunSummary
from log_ingestion.progress import TerminalProgress
from log_ingestion.schedule import Cycle, Request, follow_cycle, plan
from log_ingestion.shard import Shard
from log_ingestion.sink import table_dir_name
from log_ingestion.source import LogSearchClient
from log_ingestion.state import CheckpointStore, LogCheckpoint
from log_ingestion.stats import Counts
from log_ingestion.timeparse import now_ms
from log_ingestion.wiring import Pieces, assemble


def resolve_logs(
    client: LogSearchClient, wanted: list[str], shard: Shard | None = None
) -> list[LogInfo]:
    """The logs named by id or name (case-insensitive), every log when none are named; of
    those, only the ones in `shard` when one is given."""
    chosen = _named(client.list_logs(), wanted)
    return chosen if shard is None else [log for log in chosen if shard.takes(log.id)]


def _named(available: list[LogInfo], wanted: list[str]) -> list[LogInfo]:
    if not wanted:
        return available
    by_key = {log.id.lower(): log for log in available} | {
        log.name.lower(): log for log in available
    }
    chosen, unknown = [], []
    for name in wanted:
        log = by_key.get(name.lower())
        if log is None:
            unknown.append(name)
        elif log not in chosen:
            chosen.append(log)
    if unknown:
        raise ConfigError(
            f"RAPID7_LOG_IDS: unknown log(s) {', '.join(unknown)}; "
            "`log-ingestion logs` lists the logs this key can see"
        )
    return chosen


def log_plan(
    store: CheckpointStore, log: LogInfo, request: Request, *, now: int, window_ms: int
) -> LogPlan:
    """A log's checkpoint (its table and grid fixed and saved on its first run) and tasks."""
    checkpoint = store.load(log.id)
    if not checkpoint.table:
        # saved before anything is published: the table's grid is fixed from its first
        # file on, even when a run only publishes open windows and commits none
        checkpoint = store.save(
            checkpoint.started(log.name, table_dir_name(log.name, log.id), window_ms)
        )
    tasks = plan(checkpoint, request, now_ms=now)
    metrics.log_planned(
        log.name,
        window_ms=checkpoint.window_ms,
        lag_ms=request.lag_ms,
        committed_end_ms=checkpoint.committed_end_ms,
        first_ms=tasks.first_ms,
        last_commit=_saved_at(checkpoint) if checkpoint.committed else None,
    )
    return LogPlan(log, checkpoint, tasks, len(tasks))


def _saved_at(checkpoint: LogCheckpoint) -> float | None:
    """When a checkpoint was last saved (its last commit, unless rewound since), Unix time."""
    try:
        return datetime.fromisoformat(checkpoint.updated_at).timestamp()
    except ValueError:
        return None


def run_once(pieces: Pieces, logs: list[LogInfo], request: Request) -> RunSummary:
    """Ingest `request` for every log: finish what a crash left, plan, run."""
    recovered = pieces.sink.recover()
    if recovered.journals or recovered.stale or recovered.missing:
        # a crash or a kill left work behind: say what was finished or cleaned
        get_logger().warning(
            "sink.recovered",
            journals=recovered.journals,
            moved=recovered.moved,
            deleted=recovered.deleted,
            undone=recovered.undone,
            stale_temps=recovered.stale,
            missing=list(recovered.missing),
        )
    now = now_ms(pieces.clock)
    window_ms = pieces.settings.window_ms
    plans = [log_plan(pieces.store, log, request, now=now, window_ms=window_ms) for log in logs]
    return pieces.pipeline.run(plans)


# Configuration, key or rights, and storage errors end a follow service (their exit codes);
# a cycle that failed otherwise (the API down, a network fault) is tried again after 1 s,
# 2 s, 4 s, ... at most 5 minutes.
FATAL_EXIT_CODES = frozenset({2, 3, 4})
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0


@dataclass(slots=True)
class Backoff:
    """Exponential waits between failed follow cycles, reset by a good one."""

    first_s: float = FIRST_BACKOFF_S
    max_s: float = MAX_BACKOFF_S
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        return min(self.max_s, self.first_s * 2.0 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0


def is_fatal(error: BaseException) -> bool:
    """Whether an error ends a follow service: one no later cycle can fix by itself."""
    return exit_code(error) in FATAL_EXIT_CODES


def follow(
    pieces: Pieces,
    logs: list[LogInfo],
    request: Request,
    *,
    relist: Callable[[], list[LogInfo]] | None = None,
) -> RunSummary:
    """Ingest closed windows as they close, until stopped; `request.start_ms` and
    `request.rescan` (if given) apply until a cycle succeeds, later ones resume from the
    checkpoints. Each cycle after the first asks `relist` for the logs, so a log the API
    newly shows (in this worker's shard) is followed too, even when it showed none at first.

    A cycle whose logs failed with errors a later cycle may not meet (the API down for a
    while) is logged (`follow.cycle_failed`), counted, and tried again after a backoff; a
    configuration, key or storage error ends the service with the summary that says so.
    """
    stop = pieces.stop
    summary, backoff, first = RunSummary(), Backoff(), True
    while not stop.is_set():
        if relist is not None and not first:
            try:
                logs = _relisted(relist, logs)
            except StopRequestedError:
                break  # the summary keeps the cycles done so far
        first = False
        cycle = _next_cycle(pieces, logs, request)
        request = replace(request, end_ms=cycle.end_ms, rescan_from_ms=cycle.rescan_from_ms)
        done = run_once(pieces, logs, request)
        if any(is_fatal(log.error) for log in done.failed if log.error is not None):
            return summary + done
        if done.failed:
            summary += _without_errors(done)  # reported now; the next cycle retries them
            stop.wait(_cycle_failed([log.log.name for log in done.failed], done, backoff))
            continue
        request = replace(request, start_ms=None, rescan=False)
        summary += done
        _sleep_after(pieces, cycle, done, backoff)
    return replace(summary, interrupted=True)


def _sleep_after(pieces: Pieces, cycle: Cycle, done: RunSummary, backoff: Backoff) -> None:
    """A cycle succeeded: count it, then sleep until the next window is due (or a stop)."""
    backoff.succeeded()
    metrics.follow_cycle_succeeded()
    wait_s = max(0.0, (cycle.due_ms - now_ms(pieces.clock)) / 1000)
    get_logger().info("follow.sleep", rows=done.counts.rows, next_window_due_in_s=wait_s)
    pieces.stop.wait(wait_s)


def _next_cycle(pieces: Pieces, logs: list[LogInfo], request: Request) -> Cycle:
    """The windows closed by now. A table keeps the grid of its first run: follow the widest
    grid in use, so no cycle wakes before its windows can close."""
    window_ms = max(
        [pieces.settings.window_ms, *(pieces.store.load(log.id).window_ms for log in logs)]
    )
    return follow_cycle(
        now_ms(pieces.clock),
        window_ms=window_ms,
        lag_ms=request.lag_ms,
        rescan_windows=pieces.settings.follow_rescan,
    )


def _relisted(relist: Callable[[], list[LogInfo]], logs: list[LogInfo]) -> list[LogInfo]:
    """The logs the API shows now; the ones of the last cycle while it cannot say."""
    try:
        return relist()
    except LogIngestionError as exc:
        if is_fatal(exc) or isinstance(exc, StopRequestedError):
            raise
        get_logger().warning("follow.relist_failed", error=str(exc))
        return logs


def _without_errors(done: RunSummary) -> RunSummary:
    return replace(done, logs=tuple(replace(log, error=None) for log in done.logs))


def _cycle_failed(logs: list[str], done: RunSummary | Exception, backoff: Backoff) -> float:
    """Log and count a failed cycle (or start: listing the logs); the seconds to wait."""
    wait_s = backoff.failed()
    if isinstance(done, Exception):
        errors = [str(done)]
    else:
        errors = sorted({log.message or "failed" for log in done.failed})
    metrics.follow_cycle_failed(backoff.failures)
    get_logger().error(
        "follow.cycle_failed",
        failed_logs=logs,
        errors=errors,
        consecutive=backoff.failures,
        retry_in_s=wait_s,
    )
    return wait_s


def _follow_logs(pieces: Pieces, wanted: list[str], shard: Shard | None) -> list[LogInfo]:
    """The logs to follow; while the API cannot list them, the service waits and retries."""
    backoff = Backoff()
    while True:
        try:
            return resolve_logs(pieces.client, wanted, shard)
        except LogIngestionError as exc:
            if is_fatal(exc) or isinstance(exc, StopRequestedError):
                raise
            if pieces.stop.wait(_cycle_failed(["(listing the logs)"], exc, backoff)):
                raise StopRequestedError("stopped while waiting for the API") from exc


def execute(
    settings: Settings,
    request: Request,
    *,
    follow_mode: bool = False,
    progress: TerminalProgress | None = None,
) -> RunSummary:
    """A whole run as the CLI starts it; it ends in one `run.done` (or `run.failed`) line
    and the run metrics, whatever happens. A stop before any log started its windows
    (while starting, listing the logs) is `run.done` with `outcome=interrupted`, then
    `StopRequestedError`: nothing ran, so there is no summary to show."""
    process.tune_garbage_collector()
    process.choose_memory_pool(settings.arrow_default_memory_pool)
    began = time.monotonic()
    stopped_early = False
    with metrics.counting_requests() as requests:
        try:
            if process.STOP.is_set():
                raise StopRequestedError("stopped while starting")
            summary = _run(settings, request, follow_mode=follow_mode, progress=progress)
        except StopRequestedError:
            summary, stopped_early = RunSummary(interrupted=True), True
        except LogIngestionError as exc:
            _failed(exc, time.monotonic() - began, requests.counts())
            raise
    _done(summary, requests.counts(), time.monotonic() - began)
    if stopped_early:
        raise StopRequestedError("stopped while starting")
    return summary


def _done(summary: RunSummary, requests: Counts, seconds: float) -> None:
    outcome = "failed" if summary.failed else ("interrupted" if summary.interrupted else "ok")
    metrics.run_finished(outcome)
    counts = summary.counts
    get_logger().log(
        logging.WARNING if summary.failed else logging.INFO,
        "run.done",
        outcome=outcome,
        logs=len(summary.logs),
        failed_logs=len(summary.failed),
        events=counts.rows,
        count_mismatches=counts.mismatches,
        **counts.with_requests_of(requests).fields(),
        seconds=round(seconds, 3),
    )


def _failed(error: LogIngestionError, seconds: float, requests: Counts) -> None:
    metrics.run_finished("failed")
    get_logger().error(
        "run.failed",
        outcome="failed",
        error=str(error),
        error_type=type(error).__name__,
        seconds=round(seconds, 3),
        **requests.fields(),
    )


def _run(
    settings: Settings, request: Request, *, follow_mode: bool, progress: TerminalProgress | None
) -> RunSummary:
    with assemble(settings, process.STOP, progress=progress) as pieces:
        wanted, shard = settings.rapid7_log_ids, settings.shard_of_logs
        chosen = (
            _follow_logs(pieces, wanted, shard)
            if follow_mode
            else resolve_logs(pieces.client, wanted, shard)
        )
        get_logger().info(
            "run.start",
            logs=len(chosen),
            start=request.start_ms,
            end=request.end_ms,
            follow=follow_mode,
        )
        with progress or nullcontext():
            if follow_mode:
                relist = lambda: resolve_logs(pieces.client, wanted, shard)  # noqa: E731
                return follow(pieces, chosen, request, relist=relist)
            return run_once(pieces, chosen, request)
