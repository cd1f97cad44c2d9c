"""Run an iterator in a background thread, a few items ahead of its consumer.

The pipeline fetches the next pages while it parses and writes the current one, so the
network waits overlap the CPU work. Errors reach the consumer in order; a consumer that
stops early stops the producer too.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from log_ingestion.errors import StopRequestedError

T = TypeVar("T")


@dataclass(slots=True)
class _Item(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    done: bool = False


def prefetch(
    source: Iterator[T], depth: int = 4, *, stop: threading.Event | None = None
) -> Iterator[T]:
    """Yield the items of `source`, produced up to `depth` ahead in another thread.

    Once `stop` is set the consumer raises `StopRequestedError` within 0.1 s instead of
    waiting for the producer, which may sit in a slow request for the whole request timeout
    (and its retries); the daemon producer is then left behind, not joined.
    """
    items: queue.Queue[_Item[T]] = queue.Queue(maxsize=depth)
    cancelled = threading.Event()

    def put(item: _Item[T]) -> bool:
        while not cancelled.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for value in source:
                if not put(_Item(value=value)):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(_Item(error=exc))
            return
        put(_Item(done=True))

    context = contextvars.copy_context()  # the producer's log lines keep the caller's context
    thread = threading.Thread(target=context.run, args=(produce,), name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = _next(items, stop)
            if item.error is not None:
                raise item.error
            if item.done:
                return
            yield item.value  # type: ignore[misc]
    finally:
        cancelled.set()
        if stop is None or not stop.is_set():
            thread.join(timeout=5)


def _next(items: queue.Queue[_Item[T]], stop: threading.Event | None) -> _Item[T]:
    while True:
        if stop is not None and stop.is_set():
            raise StopRequestedError("stopped while waiting for a page; the window is abandoned")
        try:
            return items.get(timeout=0.1)
        except queue.Empty:
            continue
