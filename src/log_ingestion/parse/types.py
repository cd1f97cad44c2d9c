"""Column types of one log: locked by the first values, only ever widened.

The lattice: null (nothing seen yet) -> int64 -> float64 -> string; bool -> string;
timestamp -> string. Once widened a column stays widened, so a later batch can always be
cast to the log's current schema. Widening to string keeps each value's original text.

An int64 column that has held a value beyond +-2^53 skips float64: a double cannot hold
such a value exactly (Arrow's safe cast refuses it), so meeting floats it becomes string,
where every value stays exact as text. The sink widens the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

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
EXACT_IN_DOUBLE = 2**53  # integers up to this magnitude are exact in a float64


def widen(locked: pa.DataType, found: pa.DataType, *, big_ints: bool = False) -> pa.DataType:
    """The narrowest type that holds values of both types.

    `big_ints`: the int64 values involved (seen before or now) exceed +-2^53, so int64 and
    float64 meet as string rather than as a float64 that would round them.
    """
    if locked == found or found == NULL:
        return locked
    if locked == NULL:
        return found
    if locked in _NUMBERS and found in _NUMBERS:
        return STRING if big_ints else FLOAT64
    return STRING


def has_big_ints(values: pa.Array) -> bool:
    """Whether an int64 array holds a value a float64 cannot hold exactly."""
    if values.type != INT64 or values.null_count == len(values):
        return False
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return bool(low < -EXACT_IN_DOUBLE or high > EXACT_IN_DOUBLE)


def type_text(
    values: pa.Array,
    locked: pa.DataType,
    detectors: Sequence[Detector],
    *,
    big_ints: bool = False,
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
    wide = widen(locked, found, big_ints=big_ints or has_big_ints(detected))
    if wide == found:
        return detected, found
    if wide == STRING:
        return values, STRING
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


def type_native(
    values: pa.Array, locked: pa.DataType, *, big_ints: bool = False
) -> tuple[pa.Array, pa.DataType]:
    """Natively typed values (JSON numbers and booleans) cast to `locked` widened."""
    wide = widen(locked, values.type, big_ints=big_ints or has_big_ints(values))
    if values.type == wide:
        return values, wide
    try:
        return values.cast(wide), wide
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values.cast(STRING), STRING  # never a rounded or failed cast: exact text
