"""What the commands print: lags in days and hours, names printed as they are."""

import io

import pytest
from rich.console import Console

from log_ingestion.models import LogInfo
from log_ingestion.pipeline import LogSummary, RunSummary
from log_ingestion.report import lag_text, print_summary

HOUR = 3_600_000


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (8012 * HOUR + 30 * 60_000, "333d 20h"),
        (5 * HOUR + 12 * 60_000, "5h 12m"),
        (42 * 60_000, "42m"),
        (-1, "ahead"),
    ],
)
def test_lag_reads_in_days_hours_and_minutes(ms, text):
    """8012.5 hours behind is shown as 333 days and 20 hours."""
    assert text == lag_text(ms)


def test_names_with_brackets_print_as_themselves():
    """A log called `fw [dc1]` is not taken for rich markup."""
    screen = io.StringIO()
    summary = RunSummary((LogSummary(LogInfo("L", "fw [dc1]"), windows=1),))
    print_summary(Console(file=screen, width=200), summary)
    assert "fw [dc1]" in screen.getvalue()
