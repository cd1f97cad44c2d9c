"""The columns of a Delta table of one log: the event columns it is created with, and how a
unit's rows are fitted to the table's schema before they are written. Pure; no I/O.

A Delta table has one schema, and delta-rs casts what does not fit silently (3.5 into a
long column stores 3) or refuses the whole write. So each unit is compared with the table
first, column by column (the rules of `sink.schema`: `unify`, `exact`):

- a column the table lacks is added (schema merge); one that is all null is left out until
  it holds a value, because Delta has no column type for "nothing yet";
- a value the table's column holds exactly is cast to its type (int64 into float64 up to
  2^53, anything into string as its text, timestamp[ms] into timestamp[us]);
- a column whose values the table's type cannot hold (float64 into long, text into double,
  integers beyond 2^53 into double) lands in a sibling column `<name>__<type>` of the type
  both meet at (`__float64`, `__string`), created on first use: nothing is narrowed,
  rounded or cast away, and old files are never rewritten (ADR 0003).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.naming import PARTITION_KEY
from log_ingestion.sink.schema import TIMESTAMP_COLUMN, exact, unify

TIMESTAMP_US = pa.timestamp("us", tz="UTC")  # Delta's timestamp: microseconds, UTC
EVENT_SCHEMA = pa.schema(
    [
        pa.field(TIMESTAMP_COLUMN, TIMESTAMP_US),
        pa.field("sequence_number", pa.int64()),  # Delta has no unsigned type
        pa.field("log_id", pa.string()),
        pa.field("log_name", pa.string()),
        pa.field("labels", pa.list_(pa.string())),
        pa.field("message", pa.string()),
        pa.field("_parse_error", pa.string()),
        pa.field("_format", pa.string()),
        pa.field(PARTITION_KEY, pa.date32()),
    ]
)
EVENT_COLUMNS = frozenset(EVENT_SCHEMA.names)
SIBLING = "__"
_TYPE_NAMES = {pa.float64(): "float64", pa.string(): "string", pa.int64(): "int64"}
_NOT_A_NAME = re.compile(r"[^a-z0-9]+")
_MOST_SIBLINGS = 3


def predicate(window: Window) -> str:
    """The SQL predicate of a window's rows, as delta-rs parses it (ISO literals with `Z`)."""
    return f"{TIMESTAMP_COLUMN} >= '{_iso(window.start_ms)}' AND {TIMESTAMP_COLUMN} < '{_iso(window.end_ms)}'"


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def sibling_name(column: str, kind: pa.DataType) -> str:
    """`<column>__<type>`: where values go that the column's own type cannot hold."""
    name = _TYPE_NAMES.get(kind) or _NOT_A_NAME.sub("_", str(kind).lower()).strip("_")
    return f"{column}{SIBLING}{name}"


def fitted(rows: pa.Table, table: pa.Schema, big_ints: set[str]) -> pa.Table:
    """`rows` as the table can take them: the event columns cast to the table's types, each
    parsed column cast or moved to its sibling (module doc), the `date` partition added.

    `big_ints` names the columns that held integers beyond +-2^53 in this unit.
    """
    have = {field.name: field.type for field in table}
    names, columns = [], []
    for field in rows.schema:
        column = rows.column(field.name)
        if field.name in EVENT_COLUMNS:
            name, kind = field.name, have.get(field.name, EVENT_SCHEMA.field(field.name).type)
        elif pa.types.is_null(field.type) and field.name not in have:
            continue  # nothing to store yet, and Delta has no type for it
        else:
            name, kind = target(field.name, field.type, have, field.name in big_ints)
        names.append(name)
        columns.append(_cast(column, name, kind))
    fitted_rows = pa.Table.from_arrays(columns, names=names)
    return fitted_rows.append_column(PARTITION_KEY, _dates(fitted_rows.column(TIMESTAMP_COLUMN)))


def target(
    name: str, kind: pa.DataType, have: dict[str, pa.DataType], big_ints: bool
) -> tuple[str, pa.DataType]:
    """The column (the table's own, or a sibling) and the type a parsed column is stored as."""
    column, wanted = name, kind
    for _ in range(_MOST_SIBLINGS):
        existing = have.get(column)
        if existing is None:
            return column, pa.string() if pa.types.is_null(wanted) else wanted
        wide = widened(existing, kind, big_ints=big_ints)
        if wide.equals(existing):
            return column, existing
        wanted, following = wide, sibling_name(name, wide)
        column = following if following != column else sibling_name(name, pa.string())
    return sibling_name(name, pa.string()), pa.string()


def widened(existing: pa.DataType, found: pa.DataType, *, big_ints: bool) -> pa.DataType:
    """The narrowest type holding both exactly (`sink.schema` rules: string when they cannot
    meet, string when integers beyond 2^53 meet floats)."""
    unified = unify([pa.schema([pa.field("c", existing)]), pa.schema([pa.field("c", found)])])
    wide: pa.DataType = exact(unified, {"c"} if big_ints else set()).field("c").type
    return wide


def _cast(column: pa.ChunkedArray, name: str, kind: pa.DataType) -> pa.ChunkedArray:
    if column.type.equals(kind):
        return column
    try:
        return column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        if name == "sequence_number":
            raise StorageError(
                "a sequence number beyond 2^63-1 cannot be stored in a Delta table (its long "
                "is signed); ingest this log with TABLE_FORMAT=parquet to a local OUTPUT_DIR"
            ) from exc
        raise StorageError(
            f"cannot store column {name!r} of type {column.type} as {kind}: {exc}. This is "
            "a bug of the schema fitting; the window was not committed"
        ) from exc


def _dates(timestamps: pa.ChunkedArray) -> pa.ChunkedArray:
    """The UTC day of each timestamp: the `date` partition."""
    return pc.cast(timestamps, pa.date32())
