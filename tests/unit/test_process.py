"""Process set-up: the first signal sets the stop (logged once logging is configured), and a
command runs in a worker thread with its result and errors handed back."""

from __future__ import annotations

import contextvars
import io
import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import structlog

from log_ingestion import process
from log_ingestion.logging import configure_logging

REQUEST = contextvars.ContextVar("request", default="none")


@pytest.fixture
def handlers() -> Iterator[threading.Event]:
    """Our handlers on a private stop event; the test process's own put back after."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    process._SIGNALS.logging_ready, process._SIGNALS.unlogged = False, []
    process.install_signal_handlers(stop)
    yield stop
    for sig, handler in before.items():
        signal.signal(sig, handler)
    process._SIGNALS.logging_ready, process._SIGNALS.unlogged = False, []
    structlog.reset_defaults()


def test_a_signal_before_logging_is_logged_once_logging_is_configured(
    handlers: threading.Event,
) -> None:
    """SIGTERM while starting sets the stop at once; `shutdown.requested` follows as soon as
    the log lines are configured, once."""
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 5
    while not handlers.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = io.StringIO()
    configure_logging("INFO", "json", lines)

    process.logging_configured()
    process.logging_configured()

    said = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert handlers.is_set()
    assert [(line["event"], line["signal"]) for line in said] == [("shutdown.requested", "SIGTERM")]


def test_a_command_in_a_worker_sees_this_context_and_hands_back_its_result() -> None:
    """The worker runs in a copy of the caller's context; its return value comes back."""
    REQUEST.set("caller's")

    seen = process.in_worker(lambda: (REQUEST.get(), threading.current_thread().name))

    assert seen == ("caller's", "command")


def test_a_command_error_is_raised_in_the_main_thread() -> None:
    """An exception of the worker is raised where `in_worker` was called."""

    def broken() -> None:
        raise ValueError("from the worker")

    with pytest.raises(ValueError, match="from the worker"):
        process.in_worker(broken)
