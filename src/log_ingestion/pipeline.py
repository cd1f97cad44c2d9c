"""The one place that wires source -> parse -> sink -> state.

Per log, windows are ingested in time order (a CSV header seen in one window names the
columns of the next); several logs run at once under one shared rate limit. A window's
checkpoint moves only after its files are published; a log's next window downloads while
the one before it publishes.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import structlog

from log_ingestion import metrics
from log_ingestion.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    LogIngestionError,
    NotFoundError,
    StopRequestedError,
)
from log_ingestion.logging import get_logger
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.parse import MessageParser
from log_ingestion.plan import Task, WindowFilter, grid_windows, plan_tasks
from log_ingestion.prefetch import prefetch
from log_ingestion.sink import ParquetSink, WindowWriter, table_dir_name
from log_ingestion.source import LogSearchClient
from log_ingestion.state import CheckpointStore, LogCheckpoint

WINDOW_ATTEMPTS = 2
TIMESTAMP = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    query: str = ""
    batch_size: int = 20_000
    window_ms: int = 3_600_000
    lag_ms: int = 300_000
    concurrency: int = 4
    verify_counts: bool = True
    rescan: bool = False
    # where a log with no checkpoint starts when the run names no start (START_TIME)
    default_start_ms: int | None = None


@dataclass(slots=True)
class WindowResult:
    window: Window
    rows: int = 0
    files: int = 0
    bytes: int = 0
    message_bytes: int = 0
    parse_errors: int = 0
    pages: int = 0
    api_count: int | None = None
    committed: bool = False


@dataclass(slots=True)
class LogSummary:
    log: LogInfo
    table: str = ""
    windows: int = 0
    committed: int = 0
    rows: int = 0
    files: int = 0
    bytes: int = 0
    message_bytes: int = 0
    parse_errors: int = 0
    mismatches: int = 0
    error: str | None = None
    # the failure's exit code (3 auth, 2 configuration...), so the CLI can report it
    exit_code: int = 0


@dataclass(slots=True)
class RunSummary:
    logs: list[LogSummary] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def rows(self) -> int:
        return sum(log.rows for log in self.logs)

    @property
    def files(self) -> int:
        return sum(log.files for log in self.logs)

    @property
    def bytes(self) -> int:
        return sum(log.bytes for log in self.logs)

    @property
    def failed(self) -> list[LogSummary]:
        return [log for log in self.logs if log.error]


@dataclass(slots=True)
class _Downloaded:
    """A window written to temp files and waiting to be published, with what its
    publishing needs: the count under way, the parser's state, its log context."""

    task: Task
    writer: WindowWriter
    counted: Future[int] | None
    result: WindowResult
    parser_state: dict[str, Any]
    requests: metrics.RequestTally
    began: float
    context: contextvars.Context

    def abort(self) -> None:
        self.writer.abort()
        if self.counted is not None:
            self.counted.cancel()


def _settle(pending: Future[LogCheckpoint], error: BaseException) -> None:
    """Wait for a publish while `error` is on its way out.

    A publish that failed is the error reported (the storage problem, exit 4), with
    `error` as its context: a download failure or a stop that came after it must not
    hide it. A publish cut short by the stop leaves its window uncommitted, which the
    next run ingests again.
    """
    try:
        pending.result()
    except StopRequestedError:
        return
    except BaseException as failure:
        if failure is error:
            return
        raise failure from error


def _hands_on_parser_state(task: Task, committed_end_ms: int) -> bool:
    """Whether committing `task` makes its parser state the log's: a closed window at or
    past the newest committed one. A rescan of an older window must not roll the header
    and column types back."""
    return task.closed and task.window.end_ms >= committed_end_ms


def _raise_if_failed(publishing: Future[LogCheckpoint] | None) -> None:
    """Stop a download as soon as the window before it failed to publish: its requests
    and temp files would be thrown away."""
    if publishing is None or not publishing.done():
        return
    failure = publishing.exception()
    if failure is not None and not isinstance(failure, StopRequestedError):
        raise failure


class Progress:
    """What the pipeline tells a person watching; the default tells nobody."""

    def log_started(self, log: LogInfo, windows: int) -> None:
        """A log's plan is known."""

    def window_done(self, log: LogInfo, result: WindowResult) -> None:
        """A window was published (and committed when closed)."""


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
    # A log's query returns its own id on every event: one value, repeated.
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


class _Batcher:
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


class Pipeline:
    """Ingests windows of logs: fetch, filter, parse, write, publish, then checkpoint."""

    def __init__(
        self,
        client: LogSearchClient,
        sink: ParquetSink,
        store: CheckpointStore,
        options: PipelineOptions,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._sink = sink
        self._store = store
        self._options = options
        self._stop = stop or threading.Event()
        self._progress = progress or Progress()
        self._clock = clock

    def close(self) -> None:
        """Nothing to release: counts run in daemon threads that end with their requests."""

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- a run ------------------------------------------------------------------

    def run(
        self,
        logs: list[LogInfo],
        start_ms: int | None,
        end_ms: int,
        *,
        rescan_from_ms: int | None = None,
    ) -> RunSummary:
        """Ingest `[start_ms, end_ms)` of every log; `None` resumes from each checkpoint."""
        began = time.monotonic()
        recovered = self._sink.recover()
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
        summary = RunSummary()
        workers = min(self._options.concurrency, max(1, len(logs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="log") as pool:
            futures = [
                pool.submit(
                    contextvars.copy_context().run,
                    self._ingest_log,
                    log,
                    start_ms,
                    end_ms,
                    rescan_from_ms,
                )
                for log in logs
            ]
            summary.logs = [future.result() for future in futures]
        summary.seconds = time.monotonic() - began
        summary.interrupted = self._stop.is_set()
        return summary

    def _ingest_log(
        self, log: LogInfo, start_ms: int | None, end_ms: int, rescan_from_ms: int | None = None
    ) -> LogSummary:
        summary = LogSummary(log)
        logger = get_logger(log_id=log.id, log_name=log.name)
        try:
            checkpoint = self._prepared_checkpoint(log)
            summary.table = checkpoint.table
            tasks = self._plan(checkpoint, start_ms, end_ms, rescan_from_ms)
            summary.windows = len(tasks)
            self._progress.log_started(log, len(tasks))
            self._ingest_tasks(log, checkpoint, tasks, summary)
        except StopRequestedError:
            logger.info("log.interrupted")
        except LogIngestionError as exc:
            summary.error = str(exc)
            summary.exit_code = exc.exit_code
            logger.error("log.failed", error=str(exc), error_type=type(exc).__name__)
        except Exception as exc:  # a bug must fail this log, not every log of the run
            summary.error = f"unexpected {type(exc).__name__}: {exc}"
            logger.exception("log.failed", error_type=type(exc).__name__)
        return summary

    def grid_of(self, log: LogInfo) -> int:
        """The window size a log's table was first ingested with (the configured one if new)."""
        return self._store.load(log.id).window_ms or self._options.window_ms

    def _prepared_checkpoint(self, log: LogInfo) -> LogCheckpoint:
        checkpoint = self._store.load(log.id)
        if not checkpoint.table:
            checkpoint = replace(
                checkpoint,
                log_name=log.name,
                table=table_dir_name(log.name, log.id),
                window_ms=self._options.window_ms,
            )
            # saved before anything is published: the table's grid is fixed from its first
            # file on, even when a run only publishes open windows and commits none
            checkpoint = self._store.save(checkpoint)
        return checkpoint

    def _plan(
        self,
        checkpoint: LogCheckpoint,
        start_ms: int | None,
        end_ms: int,
        rescan_from_ms: int | None = None,
    ) -> list[Task]:
        window_ms = checkpoint.window_ms or self._options.window_ms
        if start_ms is None:
            fallback = self._options.default_start_ms
            first = checkpoint.committed[0][0] if checkpoint.committed else fallback
            start_ms = end_ms if first is None else first
        windows = grid_windows(start_ms, end_ms, window_ms)
        # committed windows from `rescan_from_ms` on are ingested again (late events)
        rescan_from = end_ms if rescan_from_ms is None else rescan_from_ms
        committed = {
            window
            for window in windows
            if checkpoint.is_committed(window) and window.start_ms < rescan_from
        }
        return plan_tasks(
            windows,
            now_ms=self.now_ms(),
            lag_ms=self._options.lag_ms,
            is_committed=committed,
            rescan=self._options.rescan,
        )

    # -- windows ----------------------------------------------------------------

    def _ingest_tasks(
        self, log: LogInfo, checkpoint: LogCheckpoint, tasks: list[Task], summary: LogSummary
    ) -> None:
        """Download each window while the one before it is published and checkpointed.

        Publishing (Parquet encoding, fsyncs, the journal) takes about a fifth of a window's
        time; in a thread of its own it overlaps the next window's download and parsing.
        Windows still publish one at a time and in order, each checkpoint after its files,
        so a crash loses nothing: a window downloaded but not published is not committed.
        """
        # The parser state the next window starts from: what its checkpoint will hold once
        # the windows before it are committed.
        parser_state = checkpoint.parser_state
        newest = checkpoint.committed_end_ms
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher:
            pending: Future[LogCheckpoint] | None = None
            try:
                for task in tasks:
                    if self._stop.is_set():
                        break
                    downloaded = self._download(
                        log, checkpoint.table, parser_state, task, publishing=pending
                    )
                    previous, pending = pending, None
                    if previous is not None:
                        try:
                            checkpoint = previous.result()
                        except BaseException:
                            downloaded.abort()
                            raise
                    try:
                        pending = publisher.submit(
                            downloaded.context.run,
                            self._finish,
                            log,
                            checkpoint,
                            downloaded,
                            summary,
                        )
                    except BaseException:  # e.g. the interpreter shutting down
                        downloaded.abort()
                        raise
                    if _hands_on_parser_state(task, newest):
                        parser_state = downloaded.parser_state
                    if task.closed:
                        newest = max(newest, task.window.end_ms)
            except BaseException as exc:
                if pending is not None:
                    _settle(pending, exc)  # a downloaded window still lands
                raise
            if pending is not None:
                pending.result()

    def _download(
        self,
        log: LogInfo,
        table: str,
        parser_state: dict[str, Any],
        task: Task,
        *,
        publishing: Future[LogCheckpoint] | None,
    ) -> _Downloaded:
        """One window's pages, parsed and written to temp files, with its log and range on
        every line and its requests counted. A failed publish of the window before it
        (`publishing`) stops the download at the next batch."""
        with (
            structlog.contextvars.bound_contextvars(
                log_id=log.id,
                log_name=log.name,
                window_start=task.window.start_ms,
                window_end=task.window.end_ms,
            ),
            metrics.counting_requests() as requests,
        ):
            began = time.monotonic()
            logger = get_logger(
                log_id=log.id, window_start=task.window.start_ms, window_end=task.window.end_ms
            )
            for attempt in range(1, WINDOW_ATTEMPTS + 1):
                try:
                    return self._download_window(
                        log, table, parser_state, task, requests, began, publishing
                    )
                except (AuthError, BadRequestError, StopRequestedError):
                    raise
                except ApiError as exc:
                    # Once stopping, a failure is most likely the stop itself (a request
                    # cut short): retrying the window would hold the shutdown for a
                    # whole window.
                    if self._stop.is_set():
                        raise StopRequestedError("stopped while a window was in flight") from exc
                    if isinstance(exc, NotFoundError):
                        # an unknown log is final; an expired query is worth one more try
                        if exc.kind == "start" or attempt == WINDOW_ATTEMPTS:
                            raise
                    elif attempt == WINDOW_ATTEMPTS:
                        raise
                    logger.warning("window.retry", error=str(exc), attempt=attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _download_window(
        self,
        log: LogInfo,
        table: str,
        parser_state: dict[str, Any],
        task: Task,
        requests: metrics.RequestTally,
        began: float,
        publishing: Future[LogCheckpoint] | None,
    ) -> _Downloaded:
        parser = MessageParser.from_state(parser_state) if parser_state else MessageParser()
        counted = self._start_count(log, task)
        writer = self._sink.open_window(table, task.window)
        result = WindowResult(task.window)
        try:
            for events in self._batches(log, task, result):
                _raise_if_failed(publishing)
                parsed = parser.parse(events.column("message"))
                rows = to_table(events, parsed)
                result.parse_errors += len(parsed) - parsed.column("_parse_error").null_count
                result.message_bytes += (
                    pa.compute.sum(pa.compute.binary_length(rows.column("message"))).as_py() or 0
                )
                writer.write(rows)
        except BaseException:
            writer.abort()
            if counted is not None:
                counted.cancel()
            raise
        return _Downloaded(
            task,
            writer,
            counted,
            result,
            parser.state(),
            requests,
            began,
            contextvars.copy_context(),
        )

    def _finish(
        self, log: LogInfo, checkpoint: LogCheckpoint, downloaded: _Downloaded, summary: LogSummary
    ) -> LogCheckpoint:
        """Publish a downloaded window, check its count, and commit it when it is closed."""
        task, result = downloaded.task, downloaded.result
        try:
            published = downloaded.writer.commit()
        except BaseException:
            downloaded.abort()
            raise
        result.rows, result.files, result.bytes = (
            published.rows,
            len(published.files),
            published.bytes,
        )
        if downloaded.counted is not None:
            result.api_count = self._await_count(downloaded.counted)
        self._account(log, result, summary)
        if task.closed:
            hands_on = _hands_on_parser_state(task, checkpoint.committed_end_ms)
            checkpoint = checkpoint.with_committed(task.window)
            if hands_on:
                checkpoint = checkpoint.with_parser_state(downloaded.parser_state)
            if result.api_count is not None:
                checkpoint = checkpoint.with_verification(
                    task.window, result.rows, result.api_count
                )
            self._store.save(checkpoint)
            result.committed = True
            summary.committed += 1
            metrics.window_committed(log.name, task.window.end_ms)
        self._report(log, downloaded, summary)
        return checkpoint

    def _report(self, log: LogInfo, downloaded: _Downloaded, summary: LogSummary) -> None:
        result = downloaded.result
        logger = get_logger(
            log_id=log.id, window_start=result.window.start_ms, window_end=result.window.end_ms
        )
        logger.info(
            "window.done",
            rows=result.rows,
            pages=result.pages,
            files=result.files,
            bytes=result.bytes,
            parse_errors=result.parse_errors,
            api_count=result.api_count,
            committed=result.committed,
            seconds=round(time.monotonic() - downloaded.began, 3),
            **downloaded.requests.fields(),
        )
        if result.api_count is not None and result.api_count != result.rows:
            summary.mismatches += 1
            metrics.COUNT_MISMATCHES.labels(log.name).inc()
            logger.warning(
                "window.count_mismatch",
                rows=result.rows,
                api_count=result.api_count,
                hint="the API counts a different number of events than landed; run again with --rescan",
            )
        self._progress.window_done(log, result)

    def _await_count(self, counted: Future[int]) -> int | None:
        """The count, or `StopRequestedError` once stopping: the window is published but not
        committed, so the next run ingests it again (replacing its files) and verifies it.

        A count that fails is only a missing check: the window's data is published and
        complete as far as paging can tell, so it commits unverified rather than being
        downloaded again (and, in follow mode, stuck)."""
        while True:
            try:
                return counted.result(timeout=0.1)
            except FutureTimeoutError:
                if self._stop.is_set():
                    raise StopRequestedError("stopped while waiting for a count") from None
            except (AuthError, BadRequestError):
                raise
            except ApiError as exc:
                get_logger().warning("window.count_failed", error=str(exc))
                return None

    def _batches(self, log: LogInfo, task: Task, result: WindowResult) -> Iterator[pa.Table]:
        """Batches of the window's events as Arrow columns, ready for the parser.

        Fetching, decoding, filtering, batching and the conversion to Arrow all run in the
        prefetch thread, so the consumer's thread is left with parsing and writing.
        """
        window_filter = WindowFilter(task.query)
        batcher = _Batcher(self._options.batch_size)

        def produce() -> Iterator[pa.Table]:
            for page in self._client.pages(log.id, task.query, self._options.query):
                result.pages += 1
                batch = batcher.add(window_filter.keep(page))
                if batch is not None:
                    yield event_columns(batch, log)
            rest = batcher.flush()
            if rest is not None:
                yield event_columns(rest, log)

        for events in prefetch(produce(), stop=self._stop):
            if self._stop.is_set():
                raise StopRequestedError(
                    "stopped while a window was in flight; it will be ingested again"
                )
            yield events

    def _start_count(self, log: LogInfo, task: Task) -> Future[int] | None:
        """Ask the API for its own count while the pages download, to check completeness."""
        if not (self._options.verify_counts and task.closed):
            return None
        # A daemon thread, not a pool: at exit the interpreter joins pool threads, and a
        # count stuck in a slow request would then hold a graceful stop for its timeout.
        counted: Future[int] = Future()
        context = contextvars.copy_context()

        def count() -> None:
            if not counted.set_running_or_notify_cancel():
                return
            try:
                counted.set_result(
                    context.run(self._client.count, log.id, task.query, self._options.query)
                )
            except BaseException as exc:  # handed to the waiting window
                counted.set_exception(exc)

        threading.Thread(target=count, name="count", daemon=True).start()
        return counted

    def _account(self, log: LogInfo, result: WindowResult, summary: LogSummary) -> None:
        summary.rows += result.rows
        summary.files += result.files
        summary.bytes += result.bytes
        summary.message_bytes += result.message_bytes
        summary.parse_errors += result.parse_errors
        metrics.EVENTS.labels(log.name).inc(result.rows)
        metrics.PARSE_ERRORS.labels(log.name).inc(result.parse_errors)
        metrics.FILES.labels(log.name).inc(result.files)
        metrics.BYTES.labels(log.name).inc(result.bytes)
        metrics.MESSAGE_BYTES.labels(log.name).inc(result.message_bytes)
        if summary.message_bytes:
            metrics.COMPRESSION_RATIO.labels(log.name).set(summary.bytes / summary.message_bytes)
