"""Every thread of the pipeline, and the only place with queues, futures and stop loops.

Lanes of logs run side by side in a pool; a lane that splits hands its logs back to the
pool as lanes of their own. Within a lane, blocks stay in order (a CSV header seen in one
window names the columns of the next): each query's pages are downloaded and cut ahead of
their parsing (`prefetch`), and each unit is committed in the lane's publish thread while
the next one downloads (`Committer`), one at a time, so a checkpoint moves only after its
rows are in place.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from log_ingestion import metrics
from log_ingestion.errors import LogIngestionError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.pipeline.cut import Item
from log_ingestion.pipeline.lane import Block, Lane, LaneLog
from log_ingestion.pipeline.observe import Observer, WindowDone
from log_ingestion.pipeline.window import Unit, commit_unit
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

T = TypeVar("T")
WAIT_STEP = 0.1  # how often a waiting thread looks at the stop

LaneWork = Callable[[Lane], list[Lane]]


def run_lanes(lanes: Sequence[Lane], workers: int, work: LaneWork) -> None:
    """`work(lane)` for every lane, `workers` at a time, each in a copy of this context;
    the lanes a lane hands back (split) run too."""
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lane") as pool:
        running = {pool.submit(context.copy().run, work, lane) for lane in lanes}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running |= {pool.submit(context.copy().run, work, more) for more in future.result()}


@dataclass(slots=True)
class LogResult:
    """What became of one log: its counts, and the first error that ended it."""

    checkpoint: LogCheckpoint
    counts: Counts = field(default_factory=Counts)
    error: Exception | None = None
    interrupted: bool = False


class Committer:
    """Commits a lane's units in its publish thread, in order, at most one ahead: each
    log's checkpoint chains from its previous commit. A log whose commit failed takes no
    more units; `failed()` tells the lane which."""

    def __init__(
        self,
        results: dict[str, LogResult],
        observer: Observer,
        stop: threading.Event,
        publisher: ThreadPoolExecutor,
    ) -> None:
        self._results = results
        self._observer = observer
        self._stop = stop
        self._publisher = publisher
        self._pending: Future[None] | None = None
        self._began = time.monotonic()
        self._requests = Counts()

    def submit(self, log: LaneLog, unit: Unit, requests: Counts) -> None:
        context = contextvars.copy_context()
        try:
            self.settle()
            self._pending = self._publisher.submit(context.run, self._commit, log, unit, requests)
        except Exception:  # a bug in the commit before, the interpreter shutting down
            unit.staged.abort()
            raise

    def settle(self) -> None:
        """Wait for the commit in flight. A failed commit is recorded on its log, not raised
        (the lane drops that log and goes on); anything else that failed in the publish
        thread is raised here, so a bug ends its lane's logs instead of passing unseen."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # a commit runs to its end, even when stopping

    def failed(self, log_ids: Sequence[str]) -> list[str]:
        return [log_id for log_id in log_ids if self._results[log_id].error is not None]

    def _commit(self, log: LaneLog, unit: Unit, requests: Counts) -> None:
        result = self._results[log.log.id]
        if result.error is not None:
            unit.staged.abort()
            return
        try:
            result.checkpoint, counts = commit_unit(unit, result.checkpoint)
        except Exception as exc:
            unit.staged.abort()
            result.error = exc
            return
        counts += requests
        result.counts += counts
        seconds, self._began = time.monotonic() - self._began, time.monotonic()
        done = WindowDone(log.log, unit.tasks, counts, seconds, unit.rows, unit.api_counts)
        self._observer.window_done(done)


class LaneWorker:
    """Runs one lane's blocks, with its pages ahead and its commits behind."""

    def __init__(
        self, results: dict[str, LogResult], observer: Observer, stop: threading.Event
    ) -> None:
        self._results = results
        self._observer = observer
        self._stop = stop

    def __call__(self, lane: Lane) -> list[Lane]:
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher,
            metrics.counting_requests() as tally,
        ):
            committer = Committer(self._results, self._observer, self._stop, publisher)
            try:
                more = self._blocks(lane, committer, tally)
                committer.settle()
                return more
            except Exception as exc:
                return self._ended(lane, committer, exc)

    def _blocks(self, lane: Lane, committer: Committer, tally: metrics.RequestTally) -> list[Lane]:
        seen = Counts()

        def behind(log: LaneLog, unit: Unit) -> None:
            nonlocal seen
            now = tally.counts() + Counts(pages=lane.pages)
            committer.submit(log, unit, now - seen)
            seen = now

        for block in lane.blocks():
            if self._stop.is_set():
                raise StopRequestedError("stopped between blocks")
            with _block_context(lane, block):
                lane.ingest(block, lambda items: self._ahead(items, lane, committer), behind)
            self._drop_failed(lane, committer)
            if lane.split:
                # the block was left unread: the lanes it splits into read it again, also
                # when a failed commit has just left this one a single log
                committer.settle()
                self._drop_failed(lane, committer)
                get_logger().info("lane.split", logs=len(lane.logs))
                return lane.halves() if len(lane.logs) > 1 else lane.apart()
        return []

    def _ahead(self, items: Iterator[Item], lane: Lane, committer: Committer) -> Iterator[Item]:
        """The items, cut in the prefetch thread; a stop or a failed commit is seen at once."""
        for item in prefetch(items, stop=self._stop):
            if self._stop.is_set():
                raise StopRequestedError("stopped while a query was in flight; it is read again")
            self._drop_failed(lane, committer)
            yield item

    def _drop_failed(self, lane: Lane, committer: Committer) -> None:
        for log_id in committer.failed(list(lane.logs)):
            lane.drop(log_id)
        if not lane.logs:
            raise _LaneEmptyError

    def _ended(self, lane: Lane, committer: Committer, exc: Exception) -> list[Lane]:
        """A lane that ended early: a stop interrupts its logs; a failure of a shared lane
        sends its logs back apart, so each is tried (and fails, if it must) on its own."""
        try:
            committer.settle()
        except Exception as bug:  # of the publish thread: it outweighs why the lane ended
            exc = bug
        lane.give_back()
        live = [log_id for log_id in lane.logs if self._results[log_id].error is None]
        if isinstance(exc, _LaneEmptyError):
            return []
        if isinstance(exc, StopRequestedError):
            for log_id in live:
                self._results[log_id].interrupted = True
            return []
        if len(live) > 1:
            get_logger().warning("lane.split", logs=len(live), error=str(exc))
            return lane.apart()
        for log_id in live:
            self._results[log_id].error = exc
            if not isinstance(exc, LogIngestionError):
                get_logger(log_id=log_id).exception("log.failed", error_type=type(exc).__name__)
        return []


class _LaneEmptyError(Exception):
    """Every log of the lane has failed: nothing is left to read."""


def _block_context(lane: Lane, block: Block) -> AbstractContextManager[None]:
    """Every line about the block carries its range, and its log when the lane has one."""
    logs = list(lane.logs.values())
    fields: dict[str, object] = {
        "window_start": block.first.start_ms,
        "window_end": block.first.start_ms + block.windows * block.width,
    }
    if len(logs) == 1:
        fields |= {"log_id": logs[0].log.id, "log_name": logs[0].log.name}
    else:
        fields["log_ids"] = [log.log.id for log in logs]
    return structlog.contextvars.bound_contextvars(**fields)


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
