"""The one place that turns settings into the pipeline's pieces: client, sink, state store."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from log_ingestion import metrics
from log_ingestion.config import Settings
from log_ingestion.errors import ConfigError, StopRequestedError
from log_ingestion.pipeline import Observer, Pipeline, PipelineOptions, Progress
from log_ingestion.schedule import Request
from log_ingestion.sink import ParquetSink
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter
from log_ingestion.state import JsonCheckpointStore
from log_ingestion.timeparse import now_ms, parse_range, parse_time

if TYPE_CHECKING:  # deltalake is imported only where a Delta output is used
    from log_ingestion.sink.delta import DeltaSink, Lake
    from log_ingestion.state.delta_store import DeltaCheckpointStore


@dataclass(slots=True)
class Pieces:
    """What a run needs, built from one settings object."""

    settings: Settings
    client: LogSearchClient
    sink: ParquetSink | DeltaSink
    store: JsonCheckpointStore | DeltaCheckpointStore
    pipeline: Pipeline
    stop: threading.Event
    clock: Callable[[], float] = time.time


def build_client(settings: Settings, stop: threading.Event) -> LogSearchClient:
    """The API client; a stop wakes any of its waits (polls, backoffs, the rate limiter)."""

    def wait(seconds: float) -> None:
        if stop.wait(seconds):
            raise StopRequestedError("stopped while waiting for a query")

    options = ClientOptions(
        per_page=settings.per_page,
        request_timeout=settings.request_timeout,
        retry_attempts=settings.retry_attempts,
        retry_wait_initial=settings.retry_wait_initial,
        retry_wait_max=settings.retry_wait_max,
        poll_interval=settings.poll_interval,
        poll_interval_max=settings.poll_interval_max,
        max_poll_wait=settings.max_poll_wait,
        verify=_tls_verification(settings),
        max_connections=settings.concurrency * 2 + 2,
    )
    return LogSearchClient(
        settings.endpoint,
        settings.rapid7_api_key or SecretStr(""),
        options,
        RateLimiter(settings.rate_limit, sleep=wait),
        on_request=metrics.record_request,
        wait=wait,
    )


def _tls_verification(settings: Settings) -> bool | ssl.SSLContext:
    if not settings.rapid7_ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.rapid7_ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"RAPID7_CA_BUNDLE: cannot load it ({exc})") from None


def build_sink(
    settings: Settings,
) -> tuple[ParquetSink | DeltaSink, JsonCheckpointStore | DeltaCheckpointStore]:
    """The sink of TABLE_FORMAT and the checkpoint store that goes with it."""
    if settings.resolved_table_format == "delta":
        from log_ingestion.sink.delta import DeltaSink
        from log_ingestion.state.delta_store import DeltaCheckpointStore

        lake = build_lake(settings)
        return DeltaSink(lake), DeltaCheckpointStore(lake)
    store = JsonCheckpointStore(settings.resolved_state_dir)
    sink = ParquetSink(
        settings.output_dir,
        store=store,
        compression=settings.parquet_compression,
        compression_level=settings.parquet_compression_level,
        row_group_rows=settings.row_group_rows,
    )
    return sink, store


def build_store(settings: Settings) -> JsonCheckpointStore | DeltaCheckpointStore:
    """The checkpoint store alone (`state`, `state reset`)."""
    if settings.resolved_table_format == "delta":
        from log_ingestion.state.delta_store import DeltaCheckpointStore

        return DeltaCheckpointStore(build_lake(settings))
    return JsonCheckpointStore(settings.resolved_state_dir)


def check_lake(settings: Settings) -> None:
    """The Delta output reachable and safe: the bucket answers, conditional writes hold."""
    build_lake(settings).ensure_root()


def build_lake(settings: Settings) -> Lake:
    from log_ingestion.sink.delta import Lake, writer_properties
    from log_ingestion.sink.lake_store import lake_options

    writer = writer_properties(
        settings.parquet_compression, settings.parquet_compression_level, settings.row_group_rows
    )
    return Lake(lake_options(settings), writer)


def pipeline_options(settings: Settings) -> PipelineOptions:
    return PipelineOptions(
        query=settings.rapid7_query,
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        verify_counts=settings.verify_counts,
        query_windows=settings.query_windows,
        query_events=settings.query_events,
        query_logs=settings.query_logs,
        unit_rows=unit_rows(settings),
        keep_message=settings.keep_message,
    )


def unit_rows(settings: Settings) -> int:
    """Rows a commit gathers before it closes at a window end (fewer for Delta: see UNIT_ROWS)."""
    if settings.resolved_table_format == "delta":
        from log_ingestion.sink.delta import UNIT_ROWS

        return min(settings.row_group_rows, UNIT_ROWS)
    return settings.row_group_rows


@contextmanager
def assemble(
    settings: Settings,
    stop: threading.Event,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[Pieces]:
    """Every piece of a run, holding the output folder and the state folder for this process
    until the block ends (a second process on either is refused, exit 4)."""
    client = build_client(settings, stop)
    sink, store = build_sink(settings)
    pipeline = Pipeline(
        client, sink, pipeline_options(settings), stop=stop, observer=Observer(progress)
    )
    try:
        # the output first: it names an OUTPUT_DIR that is a file before the state lock
        # trips on it, and it refuses a second writer whatever its STATE_DIR
        with sink.exclusive(), store.exclusive():
            yield Pieces(settings, client, sink, store, pipeline, stop, clock)
    finally:
        client.close()


def build_request(
    settings: Settings, from_: str | None, to: str, *, rescan: bool = False
) -> Request:
    """What `run --from --to [--rescan]` asks for, with START_TIME and FOLLOW_LAG."""
    now = now_ms()
    start_ms, end_ms = parse_range(from_, to, now_ms=now)
    assert end_ms is not None  # `to` is always given: `now` by default
    return Request(
        end_ms=end_ms,
        start_ms=start_ms,
        default_start_ms=parse_time(settings.start_time, now_ms=now, option="START_TIME"),
        lag_ms=settings.follow_lag_ms,
        rescan=rescan,
    )
