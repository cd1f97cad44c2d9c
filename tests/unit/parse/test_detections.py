"""Each type detector agrees with a slow, obviously correct reference on generated values."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from log_ingestion.parse.detections import as_bool, as_float64, as_int64, as_timestamp

DIGITS = "0123456789"
ZONE = re.compile(r"(Z|([-+])([0-9]{2}):?([0-9]{2}))?")
STAMP = re.compile(
    r"([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(.*)"
)
CYCLE_DAYS = 146_097  # the Gregorian calendar repeats every 400 years


def int_reference(text: str) -> int | None:
    if not re.fullmatch(r"0|-?[1-9][0-9]*", text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def float_reference(text: str) -> float | None:
    decimal = re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", text)
    has_point_or_exponent = "." in text or "e" in text.lower()
    short_integer = re.fullmatch(r"0|-?[1-9][0-9]{0,14}", text)
    if not (decimal and has_point_or_exponent) and not short_integer:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def bool_reference(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


def timestamp_reference(text: str) -> int | None:
    """Epoch milliseconds, fraction truncated, no zone meaning UTC."""
    stamp = STAMP.fullmatch(text)
    if not stamp:
        return None
    year, month, day, hour, minute, second = (int(part) for part in stamp.groups()[:6])
    zone = ZONE.fullmatch(stamp.group(8))
    if not zone:
        return None
    cycles = 1 if year == 0 else 0  # datetime has no year 0 (Arrow has): 400 years later
    try:
        moment = dt.datetime(year + 400 * cycles, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None
    offset_ms = 0
    if zone.group(2):
        offset_hours, offset_minutes = int(zone.group(3)), int(zone.group(4))
        if offset_hours > 23 or offset_minutes > 59:
            return None
        sign = 1 if zone.group(2) == "+" else -1
        offset_ms = sign * (offset_hours * 60 + offset_minutes) * 60_000
    millis = int((stamp.group(7) or ".0")[1:4].ljust(3, "0"))
    # the offset is applied in milliseconds: on a datetime, 0001-01-01T00:00+01:00 overflows
    epoch_ms = int(moment.timestamp()) * 1000 + millis - offset_ms
    return epoch_ms - cycles * CYCLE_DAYS * 86_400_000


def arrow_value(detector: Callable[[pa.Array], pa.Array | None], text: str) -> Any:
    converted = detector(pa.array([text], pa.string()))
    if converted is None:
        return None
    if pa.types.is_timestamp(converted.type):
        return converted.cast(pa.int64())[0].as_py()
    return converted[0].as_py()


numbers = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=DIGITS + "-+.eE", max_size=24),
    st.from_regex(r"-?0*[0-9]{1,22}(\.[0-9]{0,4})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
)
words = st.one_of(
    st.sampled_from(["true", "FALSE", "True", "tRuE", "yes", "no", "0", "1", "t", " true"]),
    st.text(alphabet="truefalsTRUEFALS ", max_size=6),
)
timestamps = st.builds(
    "{:04d}{}{:02d}{}{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 9999),
    st.sampled_from("-/"),
    st.integers(0, 13),
    st.sampled_from("-/"),
    st.integers(0, 32),
    st.sampled_from("T t"),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".1", ".12", ".123", ".123456", ".123456789", ".1234567891"]),
    st.sampled_from(["", "Z", "+01:00", "-0530", "+23:59", "+24:00", "+0099", "z", "+1", " Z"]),
)
anything = st.one_of(numbers, words, timestamps, st.text(max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.one_of(numbers, st.text(max_size=12)))
def test_int64_detector_agrees_with_reference(text: str) -> None:
    """as_int64 accepts exactly the canonical int64 texts, with their values."""
    assert int_reference(text) == arrow_value(as_int64, text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(numbers, st.text(max_size=12)))
def test_float64_detector_agrees_with_reference(text: str) -> None:
    """as_float64 accepts exactly the finite decimals and short integers, with their values."""
    assert float_reference(text) == arrow_value(as_float64, text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(words, st.text(max_size=8)))
def test_bool_detector_agrees_with_reference(text: str) -> None:
    """as_bool accepts exactly true/false in any case."""
    assert bool_reference(text) == arrow_value(as_bool, text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(timestamps, st.text(max_size=30)))
def test_timestamp_detector_agrees_with_reference(text: str) -> None:
    """as_timestamp accepts exactly the documented date-time forms, with their instants."""
    assert timestamp_reference(text) == arrow_value(as_timestamp, text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), anything), max_size=6))
def test_detectors_accept_a_column_only_when_every_value_fits(texts: list[str | None]) -> None:
    """A column is accepted when each non-null value is, and nulls never decide."""
    column = pa.array(texts, pa.string())
    present = [text for text in texts if text is not None]
    references = (
        (as_int64, int_reference),
        (as_float64, float_reference),
        (as_bool, bool_reference),
        (as_timestamp, timestamp_reference),
    )
    for detector, reference in references:
        expected = all(reference(text) is not None for text in present)
        assert expected == (detector(column) is not None)
