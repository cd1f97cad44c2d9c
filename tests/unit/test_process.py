"""Process set-up: the first signal sets the stop (logged once logging is configured), and a
command runs in a worker thread with its result and errors handed back."""

from __future__ import annotations

import contextvars
import io
import json
import os
import signal
import subprocess
import sys
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


LEFT_BEHIND = """
import os, signal, sys, threading, time
from log_ingestion import process

def chatter():
    while True:
        sys.stderr.write("a line from a thread a stop left behind\\n")

threading.Thread(target=chatter, daemon=True).start()
time.sleep(0.05)
try:
    sys.exit(3)
except SystemExit as done:
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    process.leave(done)
"""


def test_an_exit_keeps_its_code_beside_a_thread_left_writing_and_a_late_sigterm() -> None:
    """A daemon thread still writing to stderr while the process exits, and a SIGTERM after
    the command finished: the command's exit code, no abort, no death by the signal. (The
    races this guards against are rare; the start-up soak in `slow/` meets them.)"""
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", LEFT_BEHIND], capture_output=True, text=True, timeout=30
        )
        assert (done.returncode, "Fatal Python error" in done.stderr) == (3, False)
