"""structlog, configured once: JSON lines for services, a readable console at a terminal.

Logs go to stderr so that stdout stays for the command's own output (summaries, tables).
Context travels in `structlog.contextvars`: the run's `trace_id` (bound by `start_trace`),
the pipeline's `log_id` and window, the client's `request_id`. Threads that work for a
run are started in a copy of the caller's context, so their lines carry it too.

Secrets never reach a line: values under secret-looking keys are replaced, and every
secret value handed to `configure_logging` is cut out of whatever text carries it,
rendered tracebacks included.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "***"
LOG_FORMATS = ("auto", "json", "console")
_SECRET_KEYS = frozenset({"api_key", "x-api-key", "rapid7_api_key", "authorization", "password"})


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any secret-looking key, wherever a caller put it."""
    for key in event.keys() & _SECRET_KEYS:
        event[key] = REDACTED
    return event


class RedactValues:
    """Cut known secret values out of every string value, however they got there."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(secret for secret in secrets if secret)

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self._secrets:
            for key, value in event.items():
                event[key] = self._scrub(value)
        return event

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(item) for item in value)
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        return value


class _Stderr:
    """`sys.stderr` looked up at every write, so a progress display that redirects it
    (rich does, to keep its bars below the lines) receives the log lines."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_STDERR = _Stderr()


def new_trace_id() -> str:
    return uuid.uuid4().hex


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def start_trace() -> str:
    """Begin a run: a fresh `trace_id` on every line from now on, in this context."""
    trace_id = new_trace_id()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(trace_id=trace_id)
    return trace_id


def wants_json(log_format: str, stream: TextIO | _Stderr) -> bool:
    """`auto` is JSON unless the stream is a terminal."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: choose one of {', '.join(LOG_FORMATS)}")
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def configure_logging(
    level: str = "INFO",
    log_format: str = "auto",
    stream: TextIO | None = None,
    *,
    secrets: Iterable[str] = (),
) -> bool:
    """Set up structlog for the whole process. Returns True when lines are JSON."""
    out: TextIO | _Stderr = stream if stream is not None else _STDERR
    as_json = wants_json(log_format, out)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            RedactValues(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return as_json


def get_logger(**context: Any) -> Any:
    """A logger that follows the configuration current at each call, even when it was
    created earlier (at import time, say)."""
    return structlog.get_logger("log_ingestion", **context)
