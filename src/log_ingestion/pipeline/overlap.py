"""Every thread of the pipeline, and the only place with queues, futures and stop loops.

Logs run side by side in a pool. Within a log, windows stay in order (a CSV header seen in
one window names the columns of the next): each window's pages are downloaded ahead of
its parsing (`prefetch`), the API's count runs beside them (`in_background`), and the
window is committed in a publish thread while the next one downloads (`LogWorker`). A
checkpoint still moves only after its window's rows are in place, one window at a time.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pyarrow as pa
import structlog

from log_ingestion import metrics
from log_ingestion.errors import StopRequestedError
from log_ingestion.models import LogInfo
from log_ingestion.parse import MessageParser
from log_ingestion.pipeline import verify
from log_ingestion.pipeline.observe import Observer, WindowDone
from log_ingestion.pipeline.window import (
    EventBatches,
    StagedWindow,
    commit_window,
    hands_on_parser_state,
    stage_window,
    with_window_retry,
)
from log_ingestion.schedule import Task
from log_ingestion.sink import Sink
from log_ingestion.source import Source
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

T = TypeVar("T")
R = TypeVar("R")
WAIT_STEP = 0.1  # how often a waiting thread looks at the stop


def run_in_pool(items: Sequence[T], workers: int, work: Callable[[T], R]) -> list[R]:
    """`work(item)` for every item, `workers` at a time, each in a copy of this context."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="log") as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, item) for item in items]
        return [future.result() for future in futures]


@dataclass(frozen=True, slots=True)
class LogJob:
    """What every window of one log shares."""

    log: LogInfo
    table: str
    query: str = ""
    batch_size: int = 20_000
    verify_counts: bool = True


@dataclass(slots=True)
class _InFlight:
    """A window staged and waiting to be committed, with its count under way."""

    window: StagedWindow
    counted: Future[int] | None
    requests: metrics.RequestTally
    began: float
    context: contextvars.Context

    def abort(self) -> None:
        self.window.abort()
        if self.counted is not None:
            self.counted.cancel()


class LogWorker:
    """One log's windows in order, each downloaded while the one before it commits."""

    def __init__(
        self,
        job: LogJob,
        source: Source,
        sink: Sink,
        observer: Observer,
        stop: threading.Event,
    ) -> None:
        self._job = job
        self._source = source
        self._sink = sink
        self._observer = observer
        self._stop = stop
        self.counts = Counts()  # added to by the publish thread only; read once it is done

    def run(self, tasks: Iterable[Task], checkpoint: LogCheckpoint) -> None:
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
                    flight = self._download(task, parser_state, pending)
                    previous, pending = pending, None
                    if previous is not None:
                        checkpoint = _taken(previous, flight)
                    pending = _submitted(publisher, flight, self._commit, checkpoint)
                    if hands_on_parser_state(task, newest):
                        parser_state = flight.window.parser_state
                    if task.closed:
                        newest = max(newest, task.window.end_ms)
            except Exception as exc:
                if pending is not None:
                    _settle(pending, exc)  # a downloaded window still lands
                raise
            if pending is not None:
                pending.result()

    def _download(
        self, task: Task, parser_state: dict[str, Any], publishing: Future[LogCheckpoint] | None
    ) -> _InFlight:
        """Stage one window, its log and range on every line and its requests counted; a
        failed commit of the window before it (`publishing`) stops it at the next batch."""
        log = self._job.log
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
            window, counted = with_window_retry(
                lambda: self._stage(task, parser_state, publishing), self._stop.is_set, task
            )
            return _InFlight(window, counted, requests, began, contextvars.copy_context())

    def _stage(
        self, task: Task, parser_state: dict[str, Any], publishing: Future[LogCheckpoint] | None
    ) -> tuple[StagedWindow, Future[int] | None]:
        job = self._job
        parser = MessageParser.from_state(parser_state) if parser_state else MessageParser()
        counted = self._start_count(task)
        pages = self._source.pages(job.log.id, task.query, job.query)
        batches = EventBatches(pages, task, job.log, job.batch_size)
        ahead = self._checked(prefetch(iter(batches), stop=self._stop), publishing)
        try:
            window = stage_window(task, ahead, parser, self._sink.stage(job.table, task.window))
        except Exception:
            if counted is not None:
                counted.cancel()
            raise
        window.counts += Counts(pages=batches.pages)
        return window, counted

    def _checked(
        self, batches: Iterator[pa.Table], publishing: Future[LogCheckpoint] | None
    ) -> Iterator[pa.Table]:
        for batch in batches:
            if self._stop.is_set():
                raise StopRequestedError(
                    "stopped while a window was in flight; it will be ingested again"
                )
            _raise_if_failed(publishing)
            yield batch

    def _start_count(self, task: Task) -> Future[int] | None:
        """Ask the API for its own count while the pages download, to check completeness."""
        job = self._job
        if not (job.verify_counts and task.closed):
            return None
        return in_background(lambda: self._source.count(job.log.id, task.query, job.query))

    def _commit(self, flight: _InFlight, checkpoint: LogCheckpoint) -> LogCheckpoint:
        """Check the window's count and commit it (the publish thread's work)."""
        try:
            api_count = None
            if flight.counted is not None:
                counted = flight.counted
                api_count = verify.count_or_none(lambda: await_result(counted, self._stop))
            checkpoint, counts = commit_window(flight.window, checkpoint, api_count)
        except Exception:
            flight.abort()
            raise
        counts += flight.requests.counts()
        self.counts += counts
        seconds = time.monotonic() - flight.began
        self._observer.window_done(
            WindowDone(self._job.log, flight.window.task, counts, api_count, seconds)
        )
        return checkpoint


def _taken(previous: Future[LogCheckpoint], flight: _InFlight) -> LogCheckpoint:
    """The checkpoint the window before committed; if it failed, this window is dropped."""
    try:
        return previous.result()
    except Exception:
        flight.abort()
        raise


def _submitted(
    publisher: ThreadPoolExecutor,
    flight: _InFlight,
    commit: Callable[[_InFlight, LogCheckpoint], LogCheckpoint],
    checkpoint: LogCheckpoint,
) -> Future[LogCheckpoint]:
    try:
        return publisher.submit(flight.context.run, commit, flight, checkpoint)
    except Exception:  # e.g. the interpreter shutting down
        flight.abort()
        raise


def _settle(pending: Future[LogCheckpoint], error: Exception) -> None:
    """Wait for a commit while `error` is on its way out.

    A commit that failed is the error reported (the storage problem, exit 4), with `error`
    as its context: a download failure or a stop that came after it must not hide it. A
    commit cut short by the stop leaves its window uncommitted, which the next run ingests
    again.
    """
    try:
        pending.result()
    except StopRequestedError:
        return
    except Exception as failure:
        if failure is error:
            return
        raise failure from error


def _raise_if_failed(publishing: Future[LogCheckpoint] | None) -> None:
    """Stop a download as soon as the window before it failed to commit: its requests and
    temp files would be thrown away."""
    if publishing is None or not publishing.done():
        return
    failure = publishing.exception()
    if failure is not None and not isinstance(failure, StopRequestedError):
        raise failure


def in_background(work: Callable[[], T]) -> Future[T]:
    """`work()` in a daemon thread, in a copy of this context; its result as a future.

    A daemon thread, not a pool: at exit the interpreter joins pool threads, and a request
    stuck in a slow answer would then hold a graceful stop for its timeout.
    """
    future: Future[T] = Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(work))
        except BaseException as exc:  # handed to the waiting thread, raised there
            future.set_exception(exc)

    threading.Thread(target=run, name="count", daemon=True).start()
    return future


def await_result(future: Future[T], stop: threading.Event) -> T:
    """The future's result, or `StopRequestedError` as soon as a stop is asked for."""
    while True:
        try:
            return future.result(timeout=WAIT_STEP)
        except FutureTimeoutError:
            if stop.is_set():
                raise StopRequestedError("stopped while waiting for a count") from None


@dataclass(slots=True)
class _Item(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    done: bool = False


class _Producer(Generic[T]):
    """Runs `source` in a daemon thread, handing its items over through a bounded queue."""

    def __init__(self, source: Iterator[T], depth: int) -> None:
        self.items: queue.Queue[_Item[T]] = queue.Queue(maxsize=depth)
        self.cancelled = threading.Event()
        self._source = source
        context = contextvars.copy_context()  # the producer's lines keep the caller's context
        self.thread = threading.Thread(
            target=context.run, args=(self._produce,), name="prefetch", daemon=True
        )

    def _produce(self) -> None:
        try:
            for value in self._source:
                if not self._put(_Item(value=value)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Item(error=exc))
            return
        self._put(_Item(done=True))

    def _put(self, item: _Item[T]) -> bool:
        while not self.cancelled.is_set():
            try:
                self.items.put(item, timeout=WAIT_STEP)
                return True
            except queue.Full:
                continue
        return False


def prefetch(
    source: Iterator[T], depth: int = 4, *, stop: threading.Event | None = None
) -> Iterator[T]:
    """Yield the items of `source`, produced up to `depth` ahead in another thread.

    Errors reach the consumer in order; a consumer that stops early stops the producer too.
    Once `stop` is set the consumer raises `StopRequestedError` within 0.1 s instead of
    waiting for the producer, which may sit in a slow request for the whole request timeout
    (and its retries); the daemon producer is then left behind, not joined.
    """
    producer = _Producer(source, depth)
    producer.thread.start()
    try:
        while True:
            item = _next(producer.items, stop)
            if item.error is not None:
                raise item.error
            if item.done:
                return
            yield item.value  # type: ignore[misc]
    finally:
        producer.cancelled.set()
        if not (stop and stop.is_set()) and producer.thread is not threading.current_thread():
            producer.thread.join(timeout=5)


def _next(items: queue.Queue[_Item[T]], stop: threading.Event | None) -> _Item[T]:
    while True:
        if stop is not None and stop.is_set():
            raise StopRequestedError("stopped while waiting for a page; the window is abandoned")
        try:
            return items.get(timeout=WAIT_STEP)
        except queue.Empty:
            continue
