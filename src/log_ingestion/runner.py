"""Builds the pipeline's pieces from the settings, and runs one-shot or follow mode."""

from __future__ import annotations

import gc
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import pyarrow as pa
from pydantic import SecretStr

from log_ingestion import metrics
from log_ingestion.config import Settings
from log_ingestion.errors import ConfigError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo
from log_ingestion.pipeline import Pipeline, PipelineOptions, Progress, RunSummary
from log_ingestion.sink import ParquetSink
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter
from log_ingestion.state import CheckpointStore
from log_ingestion.timeparse import parse_time

SECOND_SIGNAL_EXIT = 130


def tune_garbage_collector() -> None:
    """Collect cycles less often during a run: ingestion allocates millions of short-lived,
    acyclic objects (events, strings), and with the default thresholds the offline pipeline
    spent about 14% of its time in collections that found nothing (200k -> 233k events/s,
    for about 12 MiB more peak memory). Objects alive at start (the imported modules) are
    frozen out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


_POOLS = {
    "jemalloc": pa.jemalloc_memory_pool,
    "mimalloc": pa.mimalloc_memory_pool,
    "system": pa.system_memory_pool,
}


def choose_memory_pool(name: str | None = None) -> str:
    """Arrow buffers from the pool `name` (ARROW_DEFAULT_MEMORY_POOL), else from jemalloc,
    else from the system allocator where this pyarrow has no jemalloc.

    The wheels' default, mimalloc, kept more memory at peak once batches were built in the
    prefetch thread and freed in the window's thread (1M events: 304 MiB, against 278 MiB
    with this switch) and it was not faster. Arrow reads the variable itself only from the
    process environment and only for its internal buffers (253 MiB when set before start);
    a value from `.env` is applied here. Returns the pool in use.
    """
    try:
        pa.set_memory_pool(_POOLS[name or "jemalloc"]())
    except NotImplementedError:
        if name is not None:
            others = ", ".join(pool for pool in _POOLS if pool != name)
            raise ConfigError(
                f"ARROW_DEFAULT_MEMORY_POOL: this pyarrow has no {name}; choose {others}"
            ) from None
        pa.set_memory_pool(pa.system_memory_pool())
    backend: str = pa.default_memory_pool().backend_name
    return backend


def build_client(settings: Settings, stop: threading.Event) -> LogSearchClient:
    def wait(seconds: float) -> None:
        if stop.wait(seconds):
            raise StopRequestedError("stopped while waiting for a query")

    verify: bool | ssl.SSLContext = True
    if settings.rapid7_ca_bundle:
        try:
            verify = ssl.create_default_context(cafile=str(settings.rapid7_ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"RAPID7_CA_BUNDLE: cannot load it ({exc})") from None
    options = ClientOptions(
        per_page=settings.per_page,
        request_timeout=settings.request_timeout,
        retry_attempts=settings.retry_attempts,
        retry_wait_initial=settings.retry_wait_initial,
        retry_wait_max=settings.retry_wait_max,
        poll_interval=settings.poll_interval,
        max_poll_wait=settings.max_poll_wait,
        verify=verify,
        max_connections=settings.concurrency * 2 + 2,
    )
    key = settings.rapid7_api_key or SecretStr("")
    return LogSearchClient(
        settings.endpoint,
        key,
        options,
        RateLimiter(settings.rate_limit, sleep=wait),  # a stop wakes a request waiting its turn
        on_request=metrics.record_request,
        wait=wait,
    )


def resolve_logs(client: LogSearchClient, wanted: list[str]) -> list[LogInfo]:
    """The logs named by id or name (case-insensitive); every log when none are named."""
    available = client.list_logs()
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


def pipeline_options(settings: Settings, *, rescan: bool = False) -> PipelineOptions:
    now_ms = int(time.time() * 1000)
    return PipelineOptions(
        default_start_ms=parse_time(settings.start_time, now_ms=now_ms, option="START_TIME"),
        query=settings.rapid7_query,
        batch_size=settings.batch_size,
        window_ms=settings.window_ms,
        lag_ms=settings.follow_lag_ms,
        concurrency=settings.concurrency,
        verify_counts=settings.verify_counts,
        rescan=rescan,
    )


@dataclass(slots=True)
class Pieces:
    client: LogSearchClient
    pipeline: Pipeline
    store: CheckpointStore


@contextmanager
def pieces(
    settings: Settings,
    stop: threading.Event,
    *,
    progress: Progress | None = None,
    rescan: bool = False,
) -> Iterator[Pieces]:
    client = build_client(settings, stop)
    store = CheckpointStore(settings.resolved_state_dir)
    sink = ParquetSink(
        settings.output_dir,
        compression=settings.parquet_compression,
        compression_level=settings.parquet_compression_level,
        row_group_rows=settings.row_group_rows,
    )
    pipeline = Pipeline(
        client, sink, store, pipeline_options(settings, rescan=rescan), stop=stop, progress=progress
    )
    try:
        sink.ensure_root()  # names an OUTPUT_DIR that is a file before the state lock trips on it
        with store.exclusive():
            yield Pieces(client, pipeline, store)
    finally:
        pipeline.close()
        client.close()


@contextmanager
def graceful_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: stop taking work and finish cleanly. Second: leave at once.

    Leaving at once is safe: files are published through a journal that the next run
    completes, and the checkpoint only moves after a publish.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _: FrameType | None) -> None:
        if stop.is_set():
            sys.stderr.write("second signal: exiting now\n")
            os._exit(SECOND_SIGNAL_EXIT)
        get_logger().warning("shutdown.requested", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        # Once stopping, keep the handler until the process ends: a second signal while the
        # summary prints must still mean "exit at once (130)", not the default death by signal.
        if not stop.is_set():
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def follow(
    pipeline: Pipeline,
    logs: list[LogInfo],
    start_ms: int | None,
    settings: Settings,
    stop: threading.Event,
) -> RunSummary:
    """Ingest closed windows as they close, until stopped."""
    total = RunSummary()
    # a table keeps the grid of its first run: follow the widest grid in use, so no cycle
    # wakes before its windows can close
    window_ms = max([settings.window_ms, *(pipeline.grid_of(log) for log in logs)])
    lag_ms = settings.follow_lag_ms
    logger = get_logger()
    while not stop.is_set():
        now_ms = pipeline.now_ms()
        end_ms = (now_ms - lag_ms) // window_ms * window_ms
        # the last FOLLOW_RESCAN committed windows are read again for events that arrived
        # after their window was committed; their files are replaced, never added to
        rescan_from_ms = (
            end_ms - settings.follow_rescan * window_ms if settings.follow_rescan else None
        )
        summary = pipeline.run(logs, start_ms, end_ms, rescan_from_ms=rescan_from_ms)
        start_ms = None  # later cycles resume from the checkpoints
        _merge(total, summary)
        due_ms = end_ms + window_ms + lag_ms
        logger.info(
            "follow.sleep",
            rows=summary.rows,
            next_window_due_in_s=(due_ms - pipeline.now_ms()) / 1000,
        )
        stop.wait(max(0.0, (due_ms - pipeline.now_ms()) / 1000))
    total.interrupted = True
    return total


def _merge(total: RunSummary, summary: RunSummary) -> None:
    by_id = {log.log.id: log for log in total.logs}
    for log in summary.logs:
        seen = by_id.get(log.log.id)
        if seen is None:
            total.logs.append(log)
            by_id[log.log.id] = log
            continue
        seen.table = log.table
        seen.windows += log.windows
        seen.committed += log.committed
        seen.rows += log.rows
        seen.files += log.files
        seen.bytes += log.bytes
        seen.message_bytes += log.message_bytes
        seen.parse_errors += log.parse_errors
        seen.mismatches += log.mismatches
        seen.error = log.error
    total.seconds += summary.seconds
