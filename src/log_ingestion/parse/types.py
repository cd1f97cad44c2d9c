"""Column types of one log: locked by the first values, only ever widened.

The lattice: null (nothing seen yet) -> int64 -> float64 -> string; bool -> string;
timestamp -> string. Once widened a column stays widened, so a later batch can always be
cast to the log's current schema. Widening to string keeps each value's original text.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from log_ingestion.parse.detections import (
    BOOL,
    CONVERTERS,
    FLOAT64,
    INT64,
    STRING,
    TIMESTAMP,
    Detector,
)

NULL = pa.null()
TYPE_NAMES: dict[str, pa.DataType] = {
    "null": NULL,
    "int64": INT64,
    "float64": FLOAT64,
    "bool": BOOL,
    "timestamp": TIMESTAMP,
    "string": STRING,
}
NAME_OF_TYPE: dict[pa.DataType, str] = {value: key for key, value in TYPE_NAMES.items()}
_NUMBERS = frozenset((INT64, FLOAT64))


def widen(locked: pa.DataType, found: pa.DataType) -> pa.DataType:
    """The narrowest type that holds values of both types."""
    if locked == found or found == NULL:
        return locked
    if locked == NULL:
        return found
    if locked in _NUMBERS and found in _NUMBERS:
        return FLOAT64
    return STRING


def type_text(
    values: pa.Array, locked: pa.DataType, detectors: Sequence[Detector]
) -> tuple[pa.Array, pa.DataType]:
    """Text values (nulls for empty fields) typed as `locked`, or as `locked` widened.

    The steady state costs one check: the locked type's converter accepts the batch.
    A string column is never looked at again.
    """
    if values.null_count == len(values):
        return pa.nulls(len(values), locked), locked
    if locked == STRING:
        return values, STRING
    allowed = [detector for detector in detectors if detector is CONVERTERS.get(locked)]
    if allowed:
        converted = allowed[0](values)
        if converted is not None:
            return converted, locked
    found, detected = _detect(values, detectors)
    wide = widen(locked, found)
    if wide == found:
        return detected, found
    converted = CONVERTERS[wide](values)  # int64 locked + float64 found: floats
    if converted is None:  # e.g. 19-digit integers that a double cannot hold exactly
        return values, STRING
    return converted, wide


def _detect(values: pa.Array, detectors: Sequence[Detector]) -> tuple[pa.DataType, pa.Array]:
    for detector in detectors:
        converted = detector(values)
        if converted is not None:
            return converted.type, converted
    return STRING, values


def type_native(values: pa.Array, locked: pa.DataType) -> tuple[pa.Array, pa.DataType]:
    """Natively typed values (JSON numbers and booleans) cast to `locked` widened."""
    wide = widen(locked, values.type)
    if values.type == wide:
        return values, wide
    return values.cast(wide), wide
