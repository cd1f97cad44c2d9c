"""Properties of the whole parser: CSV values survive, and no input makes it raise."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from log_ingestion.parse import MessageParser
from log_ingestion.parse.csvrows import split_fields
from log_ingestion.parse.formats import replaces_header

from .test_detections import timestamp_reference

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "42", "-7", "1.5", "true", "FALSE", "2026-01-01T00:00:00Z"]),
    st.sampled_from(["2026/01/01 00:00:00", '"', ",", "\n", "\r\n", ' "a, b" ', "007"]),
)


def csv_record(fields: list[str]) -> str:
    """One record as Python's csv module writes it, without its line ending."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(fields)
    return out.getvalue()[: -len("\r\n")]


def same_value(text: str, value: Any) -> bool:
    """Whether a typed cell holds what its text says."""
    if value is None or isinstance(value, str):
        return (text or None) == value
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, float):
        return math.isclose(float(text), value, rel_tol=0, abs_tol=0)
    assert isinstance(value, dt.datetime)
    return timestamp_reference(text) == int(value.timestamp() * 1000)


@st.composite
def csv_logs(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    header = draw(st.lists(names, min_size=2, max_size=5, unique=True))
    row = st.lists(cells, min_size=len(header), max_size=len(header))
    rows = draw(st.lists(row, min_size=1, max_size=8))
    for fields in rows:  # a record made of the header's own names reads as a new header
        assume(not replaces_header(header, fields))
    return header, rows


@SETTINGS
@given(csv_logs(), st.integers(1, 4))
def test_csv_values_come_back(log: tuple[list[str], list[list[str]]], batches: int) -> None:
    """Records written by Python's csv module come back field for field, whatever they hold."""
    header, rows = log
    parser = MessageParser()
    parser.parse([csv_record(header)])
    messages = [csv_record(fields) for fields in rows]
    size = -(-len(messages) // batches)
    tables = [parser.parse(messages[i : i + size]) for i in range(0, len(messages), size)]
    parsed = [row for table in tables for row in table.to_pylist()]
    for fields, row in zip(rows, parsed, strict=True):
        assert row["_parse_error"] is None
        assert [True] * len(header) == [
            same_value(text, row[name]) for text, name in zip(fields, header, strict=True)
        ]


def primed(kind: str) -> MessageParser:
    """A parser that has learnt a log of the given format (seen enough to decide it)."""
    first = {
        "csv": ["a,b,c", *["1,2,3", "4,5,6"] * 10],
        "json": ['{"a":1}', '{"a":2}'] * 10,
        "kv": ["a=1 b=2", "a=3 b=4"] * 10,
        "text": ["Jan  1 00:00:00 host sshd[1]: hello"] * 20,
    }[kind]
    parser = MessageParser()
    parser.parse(first)
    assert (kind, None) == (parser.format, parser.state()["sample"])
    return parser


def fits(kind: str, message: str | None, width: int = 3) -> bool:
    """Reference: does the message parse in a log of this format (from `primed`), whose CSV
    header has `width` columns?"""
    if kind == "text":
        return True
    if not message:
        return False
    if kind == "json":
        try:
            return isinstance(orjson.loads(message), dict)
        except orjson.JSONDecodeError:
            return False
    if kind == "csv":
        try:
            return len(split_fields(message)) == width
        except ValueError:
            return False
    return True  # kv: the error is checked against the kv regex elsewhere


texts = st.one_of(
    st.none(),
    st.text(),
    st.binary().map(lambda raw: raw.decode("utf-8", "replace")),
    st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.sampled_from(['{"a":', "a=", '"', '""",', "\x00", "\ufeffa,b,c", "x" * 70_000, "a,b"]),
)


@SETTINGS
@given(st.sampled_from(["csv", "json", "kv", "text"]), st.lists(texts, max_size=12))
def test_parser_never_raises_and_flags_what_it_cannot_parse(
    kind: str, messages: list[str | None]
) -> None:
    """Any text gives one row per message; a row that does not fit has `_parse_error`."""
    parser = primed(kind)
    table = parser.parse(messages)
    assert len(messages) == table.num_rows
    width = 3
    for message, row in zip(messages, table.to_pylist(), strict=True):
        assert not (row["_parse_error"] or "").startswith("parser failure")
        if row["_format"] == "csv_header":
            width = len(split_fields(message or ""))  # the log's columns changed
            continue
        if not fits(kind, message, width):
            assert row["_parse_error"] is not None
        if row["_parse_error"] is not None:
            assert [None] * (len(row) - 2) == list(row.values())[2:]


@SETTINGS
@given(st.lists(texts, max_size=12))
def test_first_batch_of_anything_never_raises(messages: list[str | None]) -> None:
    """Format detection on arbitrary text never raises and keeps one row per message."""
    table = MessageParser().parse(messages)
    assert len(messages) == table.num_rows
