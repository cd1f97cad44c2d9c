"""Times on the command line."""

import pytest

from log_ingestion.errors import ConfigError
from log_ingestion.timeparse import format_ms, parse_time

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("24h", NOW - 86_400_000),
        ("7d", NOW - 7 * 86_400_000),
        ("1767225600000", NOW),
        ("2026-01-01T00:00:00Z", NOW),
        ("2026-01-01T01:00:00+01:00", NOW),
        ("2026-01-01", NOW),
    ],
)
def test_forms(text, expected):
    """ISO 8601 (UTC when no zone), epoch ms, `now`, durations ago."""
    assert parse_time(text, now_ms=NOW) == expected


def test_unreadable_time_names_option_and_forms():
    """A typo says which option and what is accepted."""
    with pytest.raises(ConfigError, match=r"--to: cannot read 'yesterdayish'.*ISO 8601"):
        parse_time("yesterdayish", now_ms=NOW, option="--to")


def test_format_ms():
    """Summaries print UTC ISO times."""
    assert format_ms(NOW) == "2026-01-01T00:00:00Z"


def test_epoch_seconds_are_refused_with_the_fix():
    """1767225600 is epoch seconds, not a duration: say so instead of reading 1970."""
    with pytest.raises(ConfigError, match=r"epoch seconds.*1767225600000"):
        parse_time("1767225600", now_ms=NOW)
