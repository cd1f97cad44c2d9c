"""The progress display for a person at a terminal."""

import io

from rich.console import Console

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
