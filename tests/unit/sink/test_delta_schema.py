"""Fitting a unit's rows to a Delta table's schema: cast what the table holds exactly, move
what it cannot into a sibling column, never narrow or round."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.delta_schema import EVENT_SCHEMA, fitted, predicate, sibling_name

MIDNIGHT = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BIG = 2**53 + 1  # the first integer a float64 cannot hold


def rows(**columns: Any) -> pa.Table:
    """Two rows, a second before and at midnight, with the columns given."""
    data: dict[str, Any] = {
        "timestamp": pa.array([MIDNIGHT - 1000, MIDNIGHT], pa.timestamp("ms", tz="UTC")),
        "sequence_number": pa.array([1, 2], pa.uint64()),
    }
    data.update(columns)
    return pa.table(data)


def table_with(**types: pa.DataType) -> pa.Schema:
    return pa.schema([*EVENT_SCHEMA, *(pa.field(name, kind) for name, kind in types.items())])


def stored(batch: pa.Table, table: pa.Schema, big: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The parsed columns as they would be written: name -> (type, values)."""
    fitted_rows = fitted(batch, table, set(big))
    return {
        field.name: (field.type, fitted_rows.column(field.name).to_pylist())
        for field in fitted_rows.schema
        if field.name not in EVENT_SCHEMA.names
    }


def test_the_predicate_is_the_window_in_iso_utc_with_milliseconds():
    """delta-rs parses ISO literals with `Z`; the end is exclusive."""
    expected = "timestamp >= '2026-01-01T00:00:00.000Z' AND timestamp < '2026-01-01T01:00:00.250Z'"
    assert expected == predicate(Window(MIDNIGHT, MIDNIGHT + 3_600_250))


def test_event_columns_take_the_table_types():
    """Timestamps become microseconds (Delta's unit), sequence numbers Delta's long."""
    fitted_rows = fitted(rows(), EVENT_SCHEMA, set())
    types = {name: fitted_rows.schema.field(name).type for name in ("timestamp", "sequence_number")}
    assert {"timestamp": pa.timestamp("us", tz="UTC"), "sequence_number": pa.int64()} == types


def test_the_date_partition_is_the_utc_day_of_each_row():
    """A unit that spans midnight lands in two `date` partitions."""
    dates = fitted(rows(), EVENT_SCHEMA, set()).column("date").to_pylist()
    assert [str(day) for day in dates] == ["2025-12-31", "2026-01-01"]


def test_a_sequence_number_beyond_a_signed_long_is_refused():
    """Delta has no unsigned type: a value past 2^63-1 is a clear error, never wrapped."""
    batch = rows(sequence_number=pa.array([1, 2**63], pa.uint64()))
    with pytest.raises(StorageError, match="beyond 2\\^63-1"):
        fitted(batch, EVENT_SCHEMA, set())


def test_a_new_column_is_added_with_its_type():
    """A column the table lacks is written as it is; the write merges it into the schema."""
    assert {"n": (pa.int64(), [1, 2])} == stored(rows(n=[1, 2]), EVENT_SCHEMA)


def test_an_all_null_new_column_waits_for_a_value():
    """Delta has no type for "nothing yet", which DuckDB refuses to read: left out."""
    assert stored(rows(n=pa.nulls(2)), EVENT_SCHEMA) == {}


def test_an_all_null_known_column_is_written_as_nulls_of_its_type():
    """A column the table has is kept, with its own type."""
    assert {"n": (pa.float64(), [None, None])} == stored(
        rows(n=pa.nulls(2)), table_with(n=pa.float64())
    )


def test_integers_into_a_float_column_are_cast_exactly():
    """int64 values within 2^53 are held exactly by a float64 column."""
    assert {"n": (pa.float64(), [1.0, 2.0])} == stored(rows(n=[1, 2]), table_with(n=pa.float64()))


def test_floats_meeting_a_long_column_land_in_a_float64_sibling():
    """int64 -> float64: 3.5 is never written into the long column as 3."""
    assert {"n__float64": (pa.float64(), [3.5, 4.0])} == stored(
        rows(n=[3.5, 4.0]), table_with(n=pa.int64())
    )


def test_text_meeting_a_float_column_lands_in_a_string_sibling():
    """float64 -> string: the text is kept whole in `<name>__string`."""
    assert {"n__string": (pa.string(), ["3.5x", "n/a"])} == stored(
        rows(n=["3.5x", "n/a"]), table_with(n=pa.float64())
    )


def test_integers_beyond_2_53_meeting_floats_land_as_exact_text():
    """A float64 would round 2^53+1: the value goes to `<name>__string`, exact."""
    assert {"n__string": (pa.string(), [str(BIG), "1"])} == stored(
        rows(n=[BIG, 1]), table_with(n=pa.float64()), frozenset({"n"})
    )


def test_a_sibling_already_made_is_used_again():
    """Later floats go to the `__float64` column the first ones created."""
    table = table_with(n=pa.int64(), n__float64=pa.float64())
    assert {"n__float64": (pa.float64(), [0.5, 1.5])} == stored(rows(n=[0.5, 1.5]), table)


def test_values_the_column_holds_keep_going_to_the_column():
    """Integers still go to the long column once its float sibling exists."""
    table = table_with(n=pa.int64(), n__float64=pa.float64())
    assert {"n": (pa.int64(), [7, 8])} == stored(rows(n=[7, 8]), table)


def test_anything_into_a_string_column_is_its_text():
    """A string column holds any scalar as its text."""
    assert {"n": (pa.string(), ["7", "8"])} == stored(rows(n=[7, 8]), table_with(n=pa.string()))


def test_sibling_names_use_the_type_names_of_the_parser():
    """`__float64` and `__string`, as the columns' types are named in the README."""
    assert [
        sibling_name("n", pa.float64()),
        sibling_name("n", pa.string()),
    ] == ["n__float64", "n__string"]
