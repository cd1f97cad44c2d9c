"""`run` at a terminal (stderr a pseudo-terminal, LOG_FORMAT=auto): progress bars, and the
screen not flooded with `window.done` records; at LOG_LEVEL=DEBUG they are still there."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest
from tests.integration.conftest import Harness

DEADLINE_S = 60


def at_a_terminal(harness: Harness, level: str) -> tuple[int, str]:
    """`run` of the dataset with stderr on a pseudo-terminal: (exit code, what it showed)."""
    leader, follower = pty.openpty()
    env = harness.env(LOG_FORMAT="auto", LOG_LEVEL=level, RAPID7_LOG_IDS="app-kv,syslog-text")
    span = ("--from", str(harness.start_ms), "--to", str(harness.end_ms))
    process = subprocess.Popen(
        [sys.executable, "-m", "log_ingestion", "run", *span],
        cwd=harness.tmp_path,
        env={**env, "COLUMNS": "160", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown, deadline = b"", time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        code = process.wait(timeout=DEADLINE_S)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return code, shown.decode("utf-8", "replace")


@pytest.mark.parametrize(("level", "expected"), [("INFO", False), ("DEBUG", True)])
def test_window_lines_stay_off_the_bars_at_a_terminal(
    harness: Harness, level: str, expected: bool
) -> None:
    """At INFO the terminal shows the bars and `run.done`, no `window.done`; at DEBUG both."""
    code, shown = at_a_terminal(harness, level)

    assert (code, "windows" in shown, "run.done" in shown) == (0, True, True), shown[-2000:]
    assert expected == ("window.done" in shown)
