"""structlog, configured once: JSON lines for services, a readable console at a terminal.

Logs go to stderr so that stdout stays for the command's own output (summaries, tables).
Every line carries the run's `trace_id`; the pipeline binds `log_id` and the window.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "***"
_SECRET_KEYS = frozenset({"api_key", "x-api-key", "rapid7_api_key", "authorization", "password"})


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any secret-looking key, wherever a caller put it."""
    for key in event.keys() & _SECRET_KEYS:
        event[key] = REDACTED
    return event


def new_trace_id() -> str:
    return uuid.uuid4().hex


def wants_json(log_format: str, stream: TextIO) -> bool:
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def configure_logging(level: str = "INFO", log_format: str = "auto", stream: TextIO | None = None) -> bool:
    """Set up structlog for the whole process. Returns True when lines are JSON."""
    out = stream or sys.stderr
    as_json = wants_json(log_format, out)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    return as_json


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("log_ingestion").bind(**context)
