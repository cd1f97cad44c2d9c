"""Type detectors: tiny pure functions over a column of text, tried in order.

Each detector takes a string array (empty fields already null) and returns the column
converted to its type when *every* non-null value fits, otherwise None. They run on
whole Arrow arrays (RE2 regexes and casts), never value by value in Python.

What counts (the canonical forms, chosen so that a typed value prints back as its text):

- int64: `0` or `-?[1-9][0-9]*` within the int64 range. Leading zeros (`0042`, zip codes,
  serial numbers), a leading `+` and `-0` stay text: converting them would lose characters.
- float64: a decimal with a fraction and/or an exponent (`1.5`, `-0.25`, `6e3`), or an
  integer of at most 15 digits (exact in a double). No `.5`, `1.`, `nan` or `inf`.
- bool: `true` / `false` in any case. `0`/`1` are numbers and `yes`/`no`, `on`/`off` are
  words: treating them as booleans would turn a status column into nonsense.
- timestamp[ms, UTC]: `YYYY-MM-DD` or `YYYY/MM/DD` (either separator in either place), then `T` or a space, `hh:mm:ss`, an
  optional fraction (digits past milliseconds are truncated) and an optional zone (`Z`,
  `+hh:mm`, `+hhmm`). No zone means UTC. Dates alone, times alone, syslog's `Jan  1
  00:00:00` (no year) and epoch numbers stay what they are (text, or int64).
- otherwise text.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

INT64 = pa.int64()
FLOAT64 = pa.float64()
BOOL = pa.bool_()
TIMESTAMP = pa.timestamp("ms", tz="UTC")
STRING = pa.string()

Detector = Callable[[pa.Array], pa.Array | None]

FLOAT_PATTERN = (
    r"^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
    r"|0|-?[1-9][0-9]{0,14})$"
)
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{1,9})?(?:Z|[-+][0-9]{2}:?[0-9]{2})?$"
)


# With skip_nulls=False a null matches the null in the set: empty fields fit any type.
_BOOL_WORDS = pa.array(["true", "false", "True", "False", "TRUE", "FALSE", None])
_NAIVE = pa.timestamp("ms")


def _every(mask: pa.Array) -> bool:
    # Nulls are skipped: an empty field says nothing about the column's type.
    return bool(pc.all(mask, min_count=0).as_py())


def _all_match(values: pa.Array, pattern: str) -> bool:
    return _every(pc.match_substring_regex(values, pattern))


def _cast_or_none(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def as_int64(values: pa.Array) -> pa.Array | None:
    """int64 when every value is a canonical integer in range (overflow gives None)."""
    ints = _cast_or_none(values, INT64)
    # Canonical means it prints back as itself: rejects 007, +7 and -0 without a regex.
    if ints is None or not _every(pc.equal(pc.cast(ints, STRING), values)):
        return None
    return ints


def as_float64(values: pa.Array) -> pa.Array | None:
    """float64 when every value is a finite decimal or an exactly representable integer."""
    if not _all_match(values, FLOAT_PATTERN):
        return None
    floats = _cast_or_none(values, FLOAT64)
    if floats is None or not _every(pc.is_finite(floats)):
        return None  # 1e999 parses as inf, which would not print back as its text
    return floats


def as_bool(values: pa.Array) -> pa.Array | None:
    """bool when every value is `true` or `false`, in any case."""
    if not _every(pc.is_in(values, _BOOL_WORDS, skip_nulls=False)):
        lowered = pc.utf8_lower(values)  # rare spellings such as tRuE
        if not _every(pc.is_in(lowered, _BOOL_WORDS, skip_nulls=False)):
            return None
    return pc.equal(pc.utf8_lower(values), "true")


def as_timestamp(values: pa.Array) -> pa.Array | None:
    """timestamp[ms, UTC] when every value is an ISO-like date and time (see module doc)."""
    if not _all_match(values, TIMESTAMP_PATTERN):
        return None
    lengths = pc.binary_length(values)
    if _every(pc.equal(lengths, 19)):  # no fraction, no zone: the common case
        naive = _cast_or_none(pc.replace_substring(values, "/", "-"), _NAIVE)
        return None if naive is None else pc.cast(naive, TIMESTAMP)  # naive means UTC
    iso = pc.replace_substring(values, "/", "-")
    iso = pc.replace_substring_regex(iso, r"(\.[0-9]{3})[0-9]+", r"\1")
    # Arrow wants a zone for a zoned type: a value ending in its seconds has none.
    iso = pc.replace_substring_regex(iso, r"([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)$", r"\1Z")
    return _cast_or_none(iso, TIMESTAMP)  # also None for 2026-02-30 or 25:00:00


def as_string(values: pa.Array) -> pa.Array:
    return values


# Tried in this order; the first that accepts a column gives its type.
TEXT_DETECTORS: tuple[Detector, ...] = (as_int64, as_float64, as_bool, as_timestamp)
# JSON strings were quoted on purpose ("00123", "true"): only timestamps are recognised.
JSON_STRING_DETECTORS: tuple[Detector, ...] = (as_timestamp,)

CONVERTERS: dict[pa.DataType, Detector] = {
    INT64: as_int64,
    FLOAT64: as_float64,
    BOOL: as_bool,
    TIMESTAMP: as_timestamp,
    STRING: as_string,
}
