"""Process set-up: signal handlers first, then the garbage collector and Arrow's allocator.

`install_signal_handlers` runs first thing (`log_ingestion.__main__`, before even the
command line library is imported), so a SIGTERM sent right after a start (systemd and
Kubernetes do) is a graceful stop, never the default death by signal. A signal that
arrives before the log lines are configured is logged once they are. Commands run in a
worker thread (`in_worker`), so that the main thread is always ready to handle a signal.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, NoReturn, TypeVar

from log_ingestion import notices
from log_ingestion.errors import ConfigError

T = TypeVar("T")
SECOND_SIGNAL_EXIT = 130
STOP = threading.Event()  # set by the first SIGINT/SIGTERM; every part of a run watches it


@dataclass(slots=True)
class _Signals:
    """Signals that arrived before the log lines were configured, to be logged once they are."""

    logging_ready: bool = False
    unlogged: list[str] = field(default_factory=list)


_SIGNALS = _Signals()


def install_signal_handlers(stop: threading.Event = STOP) -> None:
    """First SIGINT/SIGTERM: set `stop`, so work ends cleanly. Second: leave at once (130).

    Leaving at once is safe: rows are committed whole (a journal the next run completes,
    or a Delta commit), and a checkpoint only moves after its rows.
    """

    def handle(signum: int, _: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            notices.say(
                "shutdown.forced",
                "second signal: exiting now",
                level="warning",
                fd=True,
                signal=name,
                exit_code=SECOND_SIGNAL_EXIT,
            )
            os._exit(SECOND_SIGNAL_EXIT)
        stop.set()
        if _SIGNALS.logging_ready:
            _log_stop(name)
        else:
            _SIGNALS.unlogged.append(name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)


LEFT_BEHIND_SECONDS = 1.0  # how long an exit waits for threads a stop left behind


def leave(done: SystemExit) -> NoReturn:
    """Exit with the finished command's code, whatever arrives or still runs meanwhile.

    Stop signals are ignored from here on: while it exits, Python puts back the default
    action of the signals it handles, and a SIGTERM landing then would end a finished run as
    killed (-15). A stop can leave a daemon thread behind (a producer in a slow request);
    one still writing a log line while the interpreter shuts down aborts it ("could not
    acquire lock for stderr"), so when one outlives a short wait the process leaves at once,
    its output flushed."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    deadline = time.monotonic() + LEFT_BEHIND_SECONDS
    for thread in _left_behind():
        thread.join(max(0.0, deadline - time.monotonic()))
    if not _left_behind():
        raise done
    if isinstance(done.code, str):
        print(done.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stream.flush()
    os._exit(code)


def _left_behind() -> list[threading.Thread]:
    """Daemon threads still running; not the stand-ins Python makes for threads it did not
    start (those are never joinable)."""
    return [
        thread
        for thread in threading.enumerate()
        if thread.daemon and thread.is_alive() and not isinstance(thread, threading._DummyThread)
    ]


def logging_configured() -> None:
    """Log lines can be written now: log the stop asked for before, if any."""
    _SIGNALS.logging_ready = True
    while _SIGNALS.unlogged:
        _log_stop(_SIGNALS.unlogged.pop(0))


def _log_stop(name: str) -> None:
    from log_ingestion.logging import get_logger

    get_logger().warning("shutdown.requested", signal=name)


WAKE_SECONDS = 0.1  # how often the main thread looks for a signal while a command works


def in_worker(work: Callable[[], T]) -> T:
    """`work()` in a thread of its own, in a copy of this context, while this (the main)
    thread waits for it in short steps; its result, or its exception raised here.

    Python runs signal handlers only in the main thread, between bytecodes. A main thread
    blocked on a lock (a future's result during a long cycle) is woken only if the kernel
    hands the signal to that very thread; handed to another, a SIGTERM waited for the whole
    cycle (minutes, seen in follow mode). Waiting in steps, the handler runs within
    `WAKE_SECONDS` wherever the signal landed.
    """
    outcome: list[tuple[bool, Any]] = []
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome.append((True, context.run(work)))
        except BaseException as exc:  # raised again in the main thread, below (a SystemExit too)
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="command", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(WAKE_SECONDS)
    done, value = outcome[0]
    if not done:
        raise value
    result: T = value
    return result


def tune_garbage_collector() -> None:
    """Collect cycles less often during a run: ingestion allocates millions of short-lived,
    acyclic objects (events, strings), which the default thresholds scan for nothing
    (about 14% of the offline pipeline's time). Objects alive at start (the imported
    modules) are frozen out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


MEMORY_POOLS = ("jemalloc", "mimalloc", "system")


def choose_memory_pool(name: str | None = None) -> str:
    """Arrow buffers from the pool `name` (ARROW_DEFAULT_MEMORY_POOL), else from jemalloc,
    else from the system allocator where this pyarrow has no jemalloc.

    The wheels' default, mimalloc, holds more memory at peak when batches are built in one
    thread and freed in another, as the pipeline does. Arrow reads the variable itself only
    from the process environment and only for its internal buffers; a value from `.env` is
    applied here. Returns the pool in use.
    """
    import pyarrow as pa

    pools = {
        "jemalloc": pa.jemalloc_memory_pool,
        "mimalloc": pa.mimalloc_memory_pool,
        "system": pa.system_memory_pool,
    }
    try:
        pa.set_memory_pool(pools[name or "jemalloc"]())
    except NotImplementedError:
        if name is not None:
            others = ", ".join(pool for pool in MEMORY_POOLS if pool != name)
            raise ConfigError(
                f"ARROW_DEFAULT_MEMORY_POOL: this pyarrow has no {name}; choose {others}"
            ) from None
        pa.set_memory_pool(pa.system_memory_pool())
    backend: str = pa.default_memory_pool().backend_name
    return backend
