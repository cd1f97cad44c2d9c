"""JSON and key=value messages -> one Python dict per message -> columns.

Decoding is one orjson call (or one regex scan) per message; there is no per-field work
in Python beyond placing each value in its column's list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.parse.detections import BOOL, FLOAT64, INT64, STRING
from log_ingestion.parse.formats import KV_PAIR
from log_ingestion.parse.names import Key

# Raw key -> value. A key=value line that repeats a key stores the n-th repeat under
# `key + OCCURRENCE + str(n)`; keys never hold OCCURRENCE (the kv key regex excludes it,
# and JSON keys are always taken whole).
Record = dict[str, Any]
OCCURRENCE = "\x00"
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def decode_json(message: str) -> tuple[Record | None, str | None]:
    """The top-level keys of a JSON object message, or why there are none."""
    if not message:
        return None, "empty message"
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError as error:
        return None, f"invalid JSON: {str(error).split(':', 1)[0]}"
    if not isinstance(value, dict):
        return None, f"JSON {type(value).__name__} is not an object"
    return value, None


def decode_kv(message: str) -> tuple[Record | None, str | None]:
    """The pairs of a key=value message (the caller has checked it is one)."""
    pairs = KV_PAIR.findall(message)
    record: Record = dict(pairs)
    if len(record) != len(pairs):
        record = _with_repeats(pairs)
    for key, value in record.items():
        if not value or value[0] == '"':  # most values are bare: leave them alone
            record[key] = _unquote(value)
    return record, None


def _with_repeats(pairs: list[tuple[str, str]]) -> Record:
    """`a=1 a=2` keeps both values, as a and a_2."""
    record: Record = {}
    for key, value in pairs:
        slot, occurrence = key, 1
        while slot in record:
            occurrence += 1
            slot = f"{key}{OCCURRENCE}{occurrence}"
        record[slot] = value
    return record


def _unquote(value: str) -> str | None:
    if value.startswith('"'):
        value = _ESCAPE.sub(r"\1", value[1:-1])
    return value or None


def split_key(slot: str, whole: bool) -> Key:
    """The (name, occurrence) key of a record slot; `whole` for JSON keys, taken as they are."""
    if whole or OCCURRENCE not in slot:
        return slot, 1
    name, occurrence = slot.split(OCCURRENCE)
    return name, int(occurrence)


def to_columns(records: Sequence[Record | None]) -> dict[str, list[Any]]:
    """Per key, its value in each record (None where absent), keys in first-seen order."""
    columns: dict[str, list[Any]] = {}
    count = len(records)
    for row, record in enumerate(records):
        if not record:
            continue
        for key, value in record.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * count
            column[row] = value
    return columns


def json_array(values: list[Any]) -> tuple[pa.Array, bool]:
    """A column of JSON values as Arrow, and whether it is text to run detectors on.

    Numbers and booleans keep their JSON type; strings are text ("" is null, as an empty
    CSV field is); a column mixing kinds, or holding objects or arrays, becomes compact
    JSON text (strings as themselves), typed as string.
    """
    kinds = {type(value) for value in values} - {type(None)}
    if kinds <= {str}:
        return _empty_as_null(pa.array(values, STRING)), True
    native = _native_type(kinds)
    if native is not None:
        try:
            return pa.array(values, native), False
        except (OverflowError, pa.ArrowInvalid):
            pass  # an integer beyond int64: kept exactly as text
    return _empty_as_null(pa.array([_as_text(value) for value in values], STRING)), False


def _empty_as_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, STRING), values)


def _native_type(kinds: set[type]) -> pa.DataType | None:
    if kinds == {bool}:
        return BOOL
    if kinds == {int}:
        return INT64
    if kinds <= {int, float}:
        return FLOAT64
    return None


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
