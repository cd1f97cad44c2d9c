"""Which format a log is written in, decided once from its first messages.

Votes over a sample of the first non-empty messages: JSON objects first, then key=value
lines, then CSV, otherwise plain text. CSV needs evidence beyond "it has a comma": 70% of the lines are single records of two
or more fields, the commonest width covers 40% of them (a header may change mid-sample),
and with fewer than three lines to go on the first must look like a header. A text log
whose lines each hold one comma can still pass for a two-column CSV; that is the price
of detecting headerless CSV.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import orjson

from log_ingestion.parse.csvrows import split_fields

CSV, CSV_HEADER, JSON, KV, TEXT = "csv", "csv_header", "json", "kv", "text"
FORMATS = (CSV, JSON, KV, TEXT)
SAMPLE_SIZE = 200

# A key=value line: pairs separated by blanks, values bare or double-quoted with escapes.
KV_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*"
KV_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s"]\S*|)'
KV_PAIR = re.compile(rf"({KV_KEY})=({KV_VALUE})(?:\s+|$)", re.DOTALL)
KV_LINE_PATTERN = rf"^\s*(?:{KV_KEY}={KV_VALUE}(?:\s+|$))+$"
_KV_LINE = re.compile(KV_LINE_PATTERN, re.DOTALL)

# A header field: a name, not a value. A letter or underscore comes before any other
# character but digits ("1st" is a name, "10.0.0.1" is not); it may hold the spaces and
# punctuation that exported headers use ("Receive Time", "Serial #").
_NAME = r"[0-9]*[A-Za-z_][A-Za-z0-9_ .\-/#()%]*"
HEADER_NAME = re.compile(_NAME)
MAX_NAME_LENGTH = 128
# A cheap filter (RE2, whole batch) for lines that might be a header. No counted
# repetition: RE2 expands `{0,127}` and compiling that costs half a millisecond.
HEADER_LINE_PATTERN = rf'^\x{{FEFF}}?"?(?:{_NAME})?"?(?:,"?(?:{_NAME})?"?)+$'


def detect_format(messages: Sequence[str]) -> str | None:
    """The format of a log from its first messages; None when none has content yet."""
    sample = [message for message in messages if message and not message.isspace()]
    sample = sample[:SAMPLE_SIZE]
    if not sample:
        return None
    majority = len(sample) / 2
    if sum(_is_json_object(message) for message in sample) > majority:
        return JSON
    if sum(_is_kv_line(message) for message in sample) > majority:
        return KV
    if _is_csv(sample):
        return CSV
    return TEXT


def _is_json_object(message: str) -> bool:
    if not message.lstrip().startswith("{"):
        return False
    try:
        return isinstance(orjson.loads(message), dict)
    except orjson.JSONDecodeError:
        return False


def _is_kv_line(message: str) -> bool:
    # Two pairs at least: "note=see below" is a sentence, not a key=value log.
    return _KV_LINE.match(message) is not None and len(KV_PAIR.findall(message)) >= 2


def _is_csv(sample: Sequence[str]) -> bool:
    widths = [len(fields) for fields in map(_fields_or_empty, sample) if len(fields) >= 2]
    if len(widths) < 0.7 * len(sample):
        return False
    if len(sample) < 3:
        return is_header(_fields_or_empty(sample[0]))
    most_common_count = Counter(widths).most_common(1)[0][1]
    return most_common_count >= 0.4 * len(sample)  # allows for a header change mid-sample


def _fields_or_empty(message: str) -> list[str]:
    try:
        return split_fields(message)
    except ValueError:
        return []


def is_header(fields: Sequence[str]) -> bool:
    """Two or more distinct names, none a number or a date; unnamed (empty) ones allowed.

    Exports often end their header with a comma; such a column is named `col_<n>`.
    """
    names = [field.lstrip("\ufeff") for field in fields if field]
    if len(names) < 2 or not all(map(_is_name, names)):
        return False
    return len(set(names)) == len(names)


def _is_name(field: str) -> bool:
    return len(field) <= MAX_NAME_LENGTH and HEADER_NAME.fullmatch(field) is not None


def _all_names(fields: Sequence[str]) -> bool:
    return all(map(_is_name, fields))


def first_header(rows: Sequence[Sequence[str]]) -> list[str] | None:
    """The header opening a CSV log, if its first record is one.

    A header is a line of names followed by data that mostly is not: most later records
    hold a number, a date or an empty field somewhere. A log whose every field is a word
    ("alice,login") gives no such evidence and is read as headerless. Alone, a line of
    names is taken as a header (a log's first batch may hold just the header).
    """
    if not rows or not is_header(rows[0]):
        return None
    data = rows[1:]
    if not data:
        return list(rows[0])
    return list(rows[0]) if sum(map(_all_names, data)) < len(data) / 2 else None


def replaces_header(current: Sequence[str], candidate: Sequence[str]) -> bool:
    """Whether a line of names mid-log is a new header rather than a record.

    It repeats the current header's names (a rotation re-wrote it), adds to them (a new
    column) or drops some (a removed column). A renamed column is not recognised: such a
    line reads as a record, its fields land as text and nothing is lost.
    """
    if not is_header(candidate):
        return False
    old = {name.lstrip("\ufeff").casefold() for name in current if name}
    new = {name.lstrip("\ufeff").casefold() for name in candidate if name}
    return new >= old or new <= old
