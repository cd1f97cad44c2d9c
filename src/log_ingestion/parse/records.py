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

from log_ingestion.parse.detections import BOOL, FLOAT64, INT64, STRING
from log_ingestion.parse.formats import KV_PAIR
from log_ingestion.parse.names import Key

Record = dict[Key, Any]
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
    return {(key, 1): item for key, item in value.items()}, None


def decode_kv(message: str) -> tuple[Record | None, str | None]:
    """The pairs of a key=value message (the caller has checked it is one)."""
    record: Record = {}
    for key, value in KV_PAIR.findall(message):
        occurrence = 1
        while (key, occurrence) in record:  # `a=1 a=2` keeps both, as a and a_2
            occurrence += 1
        record[key, occurrence] = _unquote(value)
    return record, None


def _unquote(value: str) -> str | None:
    if value.startswith('"'):
        value = _ESCAPE.sub(r"\1", value[1:-1])
    return value or None


def to_columns(records: Sequence[Record | None]) -> dict[Key, list[Any]]:
    """Per key, its value in each record (None where absent), keys in first-seen order."""
    columns: dict[Key, list[Any]] = {}
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
    values = [None if value == "" else value for value in values]
    kinds = {type(value) for value in values} - {type(None)}
    if kinds <= {str}:
        return pa.array(values, STRING), True
    native = _native_type(kinds)
    if native is not None:
        try:
            return pa.array(values, native), False
        except (OverflowError, pa.ArrowInvalid):
            pass  # an integer beyond int64: kept exactly as text
    return pa.array([_as_text(value) for value in values], STRING), False


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
