"""Prometheus metrics, with the official client, in one registry per process.

Exposed over HTTP (`--metrics-port`) while running, or written as a textfile at the end
of a one-shot run (`--metrics-file`) for node_exporter's textfile collector.

Requests are also counted per unit of work: `counting_requests()` opens a tally that
sees every request made in its context (and in threads started from a copy of it), so
a window's summary line can say how many polls, retries and 429s it took.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.source.transport import RequestRecord
from log_ingestion.stats import Counts

TEXTFILE_MODE = 0o644  # node_exporter usually runs as another user

REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "log_ingestion_api_requests",
    "Log Search API requests by kind (start, poll, next, management) and HTTP status",
    ["kind", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "log_ingestion_api_request_seconds",
    "Latency of Log Search API requests",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter(
    "log_ingestion_api_retries",
    "Requests that failed in a way worth retrying",
    ["kind"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "log_ingestion_api_rate_limited",
    "429 responses",
    registry=REGISTRY,
)
EVENTS = Counter(
    "log_ingestion_events",
    "Events landed in Parquet",
    ["log"],
    registry=REGISTRY,
)
PARSE_ERRORS = Counter(
    "log_ingestion_parse_errors",
    "Events whose message could not be parsed (kept raw with _parse_error)",
    ["log"],
    registry=REGISTRY,
)
FILES = Counter(
    "log_ingestion_files_written",
    "Parquet files published",
    ["log"],
    registry=REGISTRY,
)
BYTES = Counter(
    "log_ingestion_bytes_written",
    "Parquet bytes published",
    ["log"],
    registry=REGISTRY,
)
MESSAGE_BYTES = Counter(
    "log_ingestion_message_bytes",
    "Raw message bytes landed (for the compression ratio)",
    ["log"],
    registry=REGISTRY,
)
WINDOWS = Counter(
    "log_ingestion_windows_committed",
    "Windows committed to the checkpoint",
    ["log"],
    registry=REGISTRY,
)
COUNT_MISMATCHES = Counter(
    "log_ingestion_count_mismatches",
    "Committed windows whose landed rows differ from the API's count",
    ["log"],
    registry=REGISTRY,
)
CHECKPOINT_LAG = Gauge(
    "log_ingestion_checkpoint_lag_seconds",
    "Seconds between now and the end of the last committed window",
    ["log"],
    registry=REGISTRY,
)
LAST_COMMIT = Gauge(
    "log_ingestion_last_commit_timestamp_seconds",
    "Unix time of the log's last committed window (from its checkpoint when the run started, "
    "then of each commit by this process)",
    ["log"],
    registry=REGISTRY,
)
WINDOWS_BEHIND = Gauge(
    "log_ingestion_windows_behind",
    "Closed windows after the log's newest committed one (or its first planned one) up to "
    "the newest closed window now; computed at scrape time",
    ["log"],
    registry=REGISTRY,
)
COMPRESSION_RATIO = Gauge(
    "log_ingestion_compression_ratio",
    "Parquet bytes divided by raw message bytes, for the run so far",
    ["log"],
    registry=REGISTRY,
)


FOLLOW_FAILED_CYCLES = Counter(
    "log_ingestion_follow_failed_cycles",
    "Follow cycles (or start-up log listings) that failed and were retried after a backoff",
    registry=REGISTRY,
)
FOLLOW_CONSECUTIVE_FAILURES = Gauge(
    "log_ingestion_follow_consecutive_failures",
    "Follow cycles failed in a row; 0 once a cycle succeeds",
    registry=REGISTRY,
)

RUNS = Counter(
    "log_ingestion_runs",
    "Finished runs by outcome (ok, failed, interrupted)",
    ["outcome"],
    registry=REGISTRY,
)
LAST_RUN = Gauge(
    "log_ingestion_last_run_timestamp_seconds",
    "Unix time at which the last run with this outcome ended",
    ["outcome"],
    registry=REGISTRY,
)

RUN_OUTCOMES = ("ok", "failed", "interrupted")


@dataclass(slots=True)
class RequestTally:
    """Requests seen while the tally was open: all, polls, retryable failures, 429s, seconds."""

    _counts: Counts = field(default_factory=Counts)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, record: RequestRecord) -> None:
        seen = Counts(
            requests=1,
            polls=int(record.kind == "poll"),
            retries=int(record.retryable),
            rate_limited=int(record.status == 429),
            api_seconds=record.seconds,
        )
        with self._lock:
            self._counts += seen

    def counts(self) -> Counts:
        with self._lock:
            return self._counts


_TALLIES: ContextVar[tuple[RequestTally, ...]] = ContextVar("request_tallies", default=())


@contextmanager
def counting_requests() -> Iterator[RequestTally]:
    """Count the requests made in this context until the block ends; tallies nest."""
    tally = RequestTally()
    token = _TALLIES.set((*_TALLIES.get(), tally))
    try:
        yield tally
    finally:
        _TALLIES.reset(token)


def record_request(record: RequestRecord) -> None:
    """The client's request hook: Prometheus counters, and every open tally."""
    status = str(record.status) if record.status is not None else "error"
    REQUESTS.labels(record.kind, status).inc()
    REQUEST_SECONDS.labels(record.kind).observe(record.seconds)
    if record.retryable:
        RETRIES.labels(record.kind).inc()
    if record.status == 429:
        RATE_LIMITED.inc()
    for tally in _TALLIES.get():
        tally.add(record)


def windows_behind(now_ms: int, position_ms: int, window_ms: int, lag_ms: int) -> int:
    """Closed grid windows between `position_ms` (the end of the newest committed window, or
    the start of the first planned one) and the newest window closed at `now_ms`."""
    newest_closed_end = (now_ms - lag_ms) // window_ms * window_ms
    return max(0, (newest_closed_end - position_ms // window_ms * window_ms) // window_ms)


@dataclass(slots=True)
class _Position:
    """Where a log stands, for the gauges computed at scrape time."""

    window_ms: int
    lag_ms: int
    position_ms: int  # the end of its newest committed window, or where it starts

    def behind(self) -> float:
        return windows_behind(
            int(time.time() * 1000), self.position_ms, self.window_ms, self.lag_ms
        )


_POSITIONS: dict[str, _Position] = {}
_POSITIONS_LOCK = threading.Lock()


def log_planned(
    log: str,
    *,
    window_ms: int,
    lag_ms: int,
    committed_end_ms: int,
    first_ms: int,
    last_commit: float | None,
) -> None:
    """A run planned `log`: its position, from its checkpoint, before any window is done.

    The gauges of a log appear with its plan, also right after a restart: `windows_behind`
    and the lag from the newest committed window, `last_commit` from its checkpoint.
    """
    if window_ms <= 0:
        return
    with _POSITIONS_LOCK:
        position = _POSITIONS.setdefault(log, _Position(window_ms, lag_ms, 0))
        position.window_ms, position.lag_ms = window_ms, lag_ms
        position.position_ms = max(position.position_ms, committed_end_ms or first_ms)
    WINDOWS_BEHIND.labels(log).set_function(position.behind)
    if committed_end_ms:
        _lag_from(log, committed_end_ms)
    if last_commit is not None:
        LAST_COMMIT.labels(log).set(last_commit)


def _lag_from(log: str, committed_end_ms: int) -> None:
    end_seconds = committed_end_ms / 1000
    CHECKPOINT_LAG.labels(log).set_function(lambda: max(0.0, time.time() - end_seconds))


def window_done(log: str, counts: Counts, total: Counts, committed_end_ms: int | None) -> None:
    """A window of `log` was published; `total` is the log's so far, `committed_end_ms` the
    end of the window when it was committed.

    The checkpoint lag and the windows behind are computed when they are read, so they keep
    growing while nothing commits: a stalled follow service shows up without any new event.
    """
    EVENTS.labels(log).inc(counts.rows)
    PARSE_ERRORS.labels(log).inc(counts.parse_errors)
    FILES.labels(log).inc(counts.files)
    BYTES.labels(log).inc(counts.bytes)
    MESSAGE_BYTES.labels(log).inc(counts.message_bytes)
    COUNT_MISMATCHES.labels(log).inc(counts.mismatches)
    if total.message_bytes:
        COMPRESSION_RATIO.labels(log).set(total.bytes / total.message_bytes)
    if committed_end_ms is None:
        return
    WINDOWS.labels(log).inc()
    LAST_COMMIT.labels(log).set(time.time())
    with _POSITIONS_LOCK:
        position = _POSITIONS.get(log)
        newest = max(committed_end_ms, position.position_ms if position else 0)
        if position is not None:
            position.position_ms = newest
    _lag_from(log, newest)


def follow_cycle_failed(consecutive: int) -> None:
    """A follow cycle failed; it is the `consecutive`-th in a row."""
    FOLLOW_FAILED_CYCLES.inc()
    FOLLOW_CONSECUTIVE_FAILURES.set(consecutive)


def follow_cycle_succeeded() -> None:
    FOLLOW_CONSECUTIVE_FAILURES.set(0)


def run_finished(outcome: str, *, now: float | None = None) -> None:
    """Count a finished run and stamp when it ended; `outcome` is one of RUN_OUTCOMES."""
    if outcome not in RUN_OUTCOMES:
        raise ValueError(f"run outcome {outcome!r}: choose one of {', '.join(RUN_OUTCOMES)}")
    RUNS.labels(outcome).inc()
    LAST_RUN.labels(outcome).set(time.time() if now is None else now)


@dataclass(frozen=True, slots=True)
class MetricsServer:
    """The `/metrics` endpoint serving in a background thread."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Expose `/metrics` on `addr:port` in a background thread (port 0 picks a free one)."""
    try:
        server, thread = start_http_server(port, addr=addr, registry=REGISTRY)
    except OSError as exc:
        raise ConfigError(
            f"--metrics-port: cannot listen on {addr}:{port} ({exc.strerror or exc}); "
            "choose a free port"
        ) from None
    return MetricsServer(server, thread)


@contextmanager
def serving(port: int | None, addr: str = "127.0.0.1") -> Iterator[None]:
    """`/metrics` served for the block's time when a port is given (see `serve`)."""
    server = serve(port, addr) if port is not None else None
    try:
        yield
    finally:
        if server is not None:
            server.close()


def write_textfile(path: str | os.PathLike[str]) -> None:
    """Atomically write the registry in the text exposition format, readable by all."""
    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate_latest(REGISTRY))
        os.chmod(tmp, TEXTFILE_MODE)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise StorageError(
            f"--metrics-file: cannot write {target} ({exc.strerror or exc})"
        ) from None
