"""Times on the command line."""

import pytest

from log_ingestion.errors import ConfigError
from log_ingestion.timeparse import LATEST_MS, format_ms, parse_duration_ms, parse_time

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
    with pytest.raises(ConfigError, match=r"^--to: 'yesterdayish' is not a time; use ISO 8601"):
        parse_time("yesterdayish", now_ms=NOW, option="--to")


def test_format_ms():
    """Summaries print UTC ISO times."""
    assert format_ms(NOW) == "2026-01-01T00:00:00Z"


def test_epoch_seconds_are_refused_with_the_fix():
    """1767225600 is epoch seconds, not a duration: say so instead of reading 1970."""
    with pytest.raises(ConfigError, match=r"epoch seconds.*1767225600000"):
        parse_time("1767225600", now_ms=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00000000000", 0),
        ("1970-01-01T00:00:00Z", 0),
        ("9999-12-31T23:59:59.999Z", LATEST_MS),
        (str(LATEST_MS), LATEST_MS),
        ("2026-01-01T00:00:00.999Z", NOW + 999),
    ],
)
def test_the_ends_of_the_range_are_accepted(text, expected):
    """1970-01-01 and 9999-12-31T23:59:59.999Z are the first and last times, to the ms."""
    assert expected == parse_time(text, now_ms=NOW)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("99999999999999999999", "is after 9999-12-31T23:59:59Z"),
        ("9" * 5000, "is after 9999-12-31T23:59:59Z"),
        (str(LATEST_MS + 1), "is after 9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:59-01:00", "is after 9999-12-31T23:59:59Z"),
        ("1969-12-31T23:59:59Z", "is before 1970-01-01T00:00:00Z"),
        ("0001-01-01", "is before 1970-01-01T00:00:00Z"),
        ("100000w", "reaches back before 1970-01-01T00:00:00Z"),
        ("9" * 400 + "d", "reaches back before 1970-01-01T00:00:00Z"),
    ],
)
def test_a_time_outside_1970_to_9999_is_refused_naming_the_option(text, problem):
    """Too early, too late, or a duration reaching before 1970: one line, option first."""
    with pytest.raises(ConfigError, match=rf"^--to: '[^']+' {problem}; give a"):
        parse_time(text, now_ms=NOW, option="--to")


def test_a_long_input_is_cut_short_in_the_message():
    """A pasted blob is quoted by its first 40 characters, so the message stays one short line."""
    with pytest.raises(ConfigError) as caught:
        parse_time("x" * 10_000, now_ms=NOW)

    expected = "--from: '" + "x" * 39 + "…' is not a time"
    assert expected == str(caught.value).split(";")[0]


def test_digits_that_are_not_ascii_are_not_a_time():
    """Superscript digits pass `str.isdigit` but are not epoch milliseconds."""
    with pytest.raises(ConfigError, match=r"is not a time"):
        parse_time("¹⁷⁶⁷²²⁵⁶⁰⁰⁰⁰⁰", now_ms=NOW)


@pytest.mark.parametrize(
    ("text", "ms"), [("1.5s", 1_500), ("0.001s", 1), ("100000w", 60_480_000_000_000)]
)
def test_durations_are_exact_milliseconds(text, ms):
    """Fractions and large counts of a unit give exact integer milliseconds."""
    assert ms == parse_duration_ms(text)


def test_a_duration_of_thousands_of_digits_is_an_int():
    """Far more digits than a float holds gives an int, not an OverflowError."""
    assert parse_duration_ms("9" * 400 + "w") > 10**400
