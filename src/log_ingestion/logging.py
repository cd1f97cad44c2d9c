"""structlog, configured once: JSON lines for services, a readable console at a terminal.

Logs go to stderr so that stdout stays for the command's own output (summaries, tables).
Context travels in `structlog.contextvars`: the run's `trace_id` (bound by `start_trace`),
the pipeline's `log_id` and window, the client's `request_id`. Threads that work for a
run are started in a copy of the caller's context, so their lines carry it too.

While progress bars show at a terminal, the per-window `window.done` lines are DEBUG (the
bars say the same); warnings and the run's own lines still print above the bars.

Secrets never reach a line: values under secret-looking keys are replaced, and every
secret value handed to `configure_logging` is cut out of whatever text carries it,
rendered tracebacks included.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, TextIO

import structlog

from log_ingestion import notices
from log_ingestion.notices import LOG_FORMATS, wants_json
from log_ingestion.redact import REDACTED, RedactValues, redact_secrets

__all__ = [
    "LOG_FORMATS",
    "REDACTED",
    "RedactValues",
    "bars_showing",
    "configure_logging",
    "get_logger",
    "new_request_id",
    "new_trace_id",
    "redact_secrets",
    "start_trace",
    "wants_json",
]


# While progress bars show, these per-window lines are DEBUG: at INFO they would scroll the
# bars away (a person at a terminal reads the bars; the lines stay for LOG_LEVEL=DEBUG).
QUIET_WHILE_BARS = frozenset({"window.done"})


@dataclass(slots=True)
class _Screen:
    bars: bool = False  # progress bars are on the terminal
    debug: bool = False  # LOG_LEVEL is DEBUG


_SCREEN = _Screen()


def bars_showing(showing: bool) -> None:
    """Progress bars came up (True) or went away (False)."""
    _SCREEN.bars = showing


def quiet_while_bars(
    _: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Per-window lines are DEBUG while bars show: dropped at INFO, labelled debug at DEBUG."""
    if _SCREEN.bars and method == "info" and event.get("event") in QUIET_WHILE_BARS:
        if not _SCREEN.debug:
            raise structlog.DropEvent
        event["level"] = "debug"
    return event


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
    notices.bind(trace_id=trace_id)
    return trace_id


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
    threshold = logging.getLevelNamesMapping()[level.upper()]
    _SCREEN.debug = threshold <= logging.DEBUG
    secrets = tuple(secrets)
    notices.configure(as_json=as_json, secrets=secrets)
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
            quiet_while_bars,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            RedactValues(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return as_json


def get_logger(**context: Any) -> Any:
    """A logger that follows the configuration current at each call, even when it was
    created earlier (at import time, say)."""
    return structlog.get_logger("log_ingestion", **context)
