"""Arrow schemas of the output: unify as columns appear and types widen, conform batches.

Pure functions on Arrow values; no I/O.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.naming import PARTITION_KEY

TIMESTAMP = pa.timestamp("ms", tz="UTC")
TIMESTAMP_COLUMN = "timestamp"


def unify(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema that every given schema can be cast to, columns in first-seen order.

    Types widen as Arrow's permissive promotion allows (int32 -> int64 -> double, null ->
    anything); a column whose types cannot meet (int64 and string) becomes string, so a
    surprising value never stops ingestion. Every column is nullable: a later batch may
    lack it.
    """
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        unified = _unify_field_by_field(schemas)
    return pa.schema([field.with_nullable(True) for field in unified])


def _unify_field_by_field(schemas: list[pa.Schema]) -> pa.Schema:
    groups: dict[str, list[pa.Field]] = {}
    for schema in schemas:
        for field in schema:
            groups.setdefault(field.name, []).append(field)
    return pa.schema([_unify_fields(fields) for fields in groups.values()])


def _unify_fields(fields: list[pa.Field]) -> pa.Field:
    try:
        one_each = [pa.schema([field]) for field in fields]
        return pa.unify_schemas(one_each, promote_options="permissive").field(0)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.field(fields[0].name, pa.string())


EXACT_IN_DOUBLE = 2**53  # integers up to this magnitude are exact in a float64


def big_int_columns(table: pa.Table) -> set[str]:
    """Integer columns holding a value a float64 cannot hold exactly (beyond +-2^53)."""
    names = set()
    for field in table.schema:
        if not pa.types.is_integer(field.type) or field.type.bit_width < 54:
            continue
        bounds = pc.min_max(table.column(field.name))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is not None and (low < -EXACT_IN_DOUBLE or high > EXACT_IN_DOUBLE):
            names.add(field.name)
    return names


def exact(schema: pa.Schema, big_ints: set[str]) -> pa.Schema:
    """`schema`, with each floating column named in `big_ints` widened to string instead.

    Those columns held integers a float64 would round (Arrow's safe cast refuses them); as
    string every value stays exact as its text. The parser widens the same way.
    """
    return pa.schema(
        [
            field.with_type(pa.string())
            if pa.types.is_floating(field.type) and field.name in big_ints
            else field
            for field in schema
        ]
    )


def unify_exact(schemas: list[pa.Schema], big_ints: set[str]) -> pa.Schema:
    """`unify`, then `exact`: the schema rows of all `schemas` are stored with, where the
    columns in `big_ints` (`big_int_columns` of those rows) stay exact."""
    return exact(unify(schemas), big_ints)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly `schema`'s columns, in order: cast, missing ones null.

    A value that cannot be cast (Arrow refuses, never rounds) is a `StorageError` naming
    the column and both types, not a raw Arrow exception.
    """
    if table.schema.equals(schema):
        return table
    columns = [
        _cast(table.column(field.name), field)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _cast(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise StorageError(
            f"cannot store column {field.name!r} of type {column.type} as {field.type}, "
            f"the type earlier rows of the window gave it: {exc}. This is a bug of the "
            "schema unification; the window was not published"
        ) from exc


def for_file(schema: pa.Schema) -> pa.Schema:
    """The schema a file is written with: no Arrow null type, which many readers reject."""
    return pa.schema(
        [
            field.with_type(pa.string()) if pa.types.is_null(field.type) else field
            for field in schema
        ]
    )


def without_partition_key(table: pa.Table) -> pa.Table:
    """Rename a data column that readers would shadow with the Hive `date=` partition.

    DuckDB and pyarrow replace a file's `date` column with the directory's value, so a
    parsed field called `date` (in any case) is kept as `date_` instead.
    """
    taken = {name.lower() for name in table.column_names}
    names = []
    for name in table.column_names:
        if name.lower() == PARTITION_KEY:
            while name.lower() in taken:
                name += "_"
            taken.add(name.lower())
        names.append(name)
    return table.rename_columns(names) if names != table.column_names else table


def with_event_timestamp(table: pa.Table) -> tuple[pa.Table, int, int]:
    """`table` whose `timestamp` is timestamp[ms, UTC], and its lowest and highest value.

    A null or missing timestamp is refused as a bug of the caller: the time decides the
    partition and the window a row belongs to.
    """
    if TIMESTAMP_COLUMN not in table.column_names:
        raise ValueError("a batch needs a `timestamp` column")
    column = table.column(TIMESTAMP_COLUMN)
    if not pa.types.is_timestamp(column.type):
        raise ValueError(f"`timestamp` must be a timestamp column, not {column.type}")
    if column.null_count:
        raise ValueError(f"`timestamp` has {column.null_count} null values")
    if column.type != TIMESTAMP:
        column = column.cast(TIMESTAMP)
        table = table.set_column(
            table.column_names.index(TIMESTAMP_COLUMN), TIMESTAMP_COLUMN, column
        )
    bounds = pc.min_max(column.cast(pa.int64()))
    return table, bounds["min"].as_py(), bounds["max"].as_py()


def check_inside(window: Window, low: int | None, high: int | None) -> None:
    """Rows outside the window would land in files the window does not own and survive a
    replacement of the window, so they are refused as a bug of the caller."""
    if low is None or high is None:
        return
    if not (window.contains(low) and window.contains(high)):
        raise ValueError(
            f"rows from {low} to {high} ms lie outside the window [{window.start_ms}, {window.end_ms})"
        )
