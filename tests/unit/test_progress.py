"""The progress display for a person at a terminal, and the log lines beside it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog
from rich.console import Console

from log_ingestion.logging import configure_logging, get_logger
from log_ingestion.models import LogInfo
from log_ingestion.progress import TerminalProgress
from log_ingestion.stats import Counts

LOG = LogInfo(id="0c24fcd2", name="firewall-traffic")


def test_progress_shows_windows_and_events():
    """Each log's bar shows windows done of total and the events landed so far."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140)
    with TerminalProgress(console) as progress:
        progress.log_started(LOG, 2)
        progress.window_done(LOG, Counts(rows=150))
        progress.log_started(LOG, 3)  # a follow cycle re-plans the same log
        progress.window_done(LOG, Counts(rows=50))
    text = screen.getvalue()
    assert "firewall-traffic" in text
    assert "200 events" in text
    assert "1/3" in text


@pytest.fixture
def _plain_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("_plain_logging")
@pytest.mark.parametrize(("level", "expected"), [("INFO", False), ("DEBUG", True)])
def test_window_lines_are_debug_while_bars_show(level: str, expected: bool) -> None:
    """Under the bars `window.done` is DEBUG (hidden at INFO); warnings still show; once the
    bars are gone it is INFO again."""
    lines = io.StringIO()
    configure_logging(level, "console", lines)
    bars = Console(file=io.StringIO(), force_terminal=True, width=140)

    with TerminalProgress(bars):
        get_logger().info("window.done", rows=111)
        get_logger().warning("window.count_mismatch", rows=222)
    get_logger().info("window.done", rows=333)

    text = lines.getvalue()
    assert (expected, True, True) == ("rows=111" in text, "rows=222" in text, "rows=333" in text)
