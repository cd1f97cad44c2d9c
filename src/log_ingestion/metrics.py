"""Prometheus metrics, with the official client, in one registry per process.

Exposed over HTTP (`--metrics-port`) while running, or written as a textfile at the end
of a one-shot run (`--metrics-file`) for node_exporter's textfile collector.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from log_ingestion.source.client import RequestRecord

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
COMPRESSION_RATIO = Gauge(
    "log_ingestion_compression_ratio",
    "Parquet bytes divided by raw message bytes, for the run so far",
    ["log"],
    registry=REGISTRY,
)


def record_request(record: RequestRecord) -> None:
    status = str(record.status) if record.status is not None else "error"
    REQUESTS.labels(record.kind, status).inc()
    REQUEST_SECONDS.labels(record.kind).observe(record.seconds)
    if record.retryable:
        RETRIES.labels(record.kind).inc()
    if record.status == 429:
        RATE_LIMITED.inc()


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose `/metrics` on `addr:port` in a background thread."""
    start_http_server(port, addr=addr, registry=REGISTRY)


def write_textfile(path: str) -> None:
    """Atomically write the registry in the text exposition format."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_latest(REGISTRY))
    os.replace(tmp, target)
