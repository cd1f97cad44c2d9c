"""Schema evolution of a Delta table on S3, read back by deltalake, polars and DuckDB: a
column that appears later is merged in, and a value the column's type cannot hold lands
exactly in a sibling column instead of being cast (delta-rs would store 3.5 as 3)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder

from ..support.lake import duckdb_with_delta
from ..support.s3 import S3Bucket
from .test_delta_sink import FIRST, LOG, SECOND, TABLE, batch, commit, lake, started

BIG = 2**53 + 1  # a float64 would round it to 2^53


def two_units(bucket: S3Bucket, first: list[Any], second: list[Any]) -> str:
    """Column `n` committed with `first`'s values in one window, `second`'s in the next."""
    target = lake(bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, len(first), n=first), LOG)
    commit(target, SECOND, batch(SECOND, len(second), first=100, n=second), LOG)
    return target.table(TABLE).uri


def by_reader(uri: str, bucket: S3Bucket, columns: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The columns, in sequence order, as each reader returns them."""
    select = f"SELECT {', '.join(columns)} FROM t ORDER BY sequence_number"  # noqa: S608 - test names
    table = DeltaTable(uri, storage_options=bucket.storage_options())
    found = pa.table(QueryBuilder().register("t", table).execute(select).read_all())
    frame = pl.read_delta(uri, storage_options=bucket.storage_options()).sort("sequence_number")
    with duckdb_with_delta(bucket) as db:
        scanned = db.execute(select.replace("FROM t", "FROM delta_scan(?)"), [uri]).fetchall()
    return {
        "deltalake": [tuple(row.values()) for row in found.to_pylist()],
        "polars": [tuple(row) for row in frame.select(columns).rows()],
        "duckdb": [tuple(row) for row in scanned],
    }


def same_for_all(expected: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    return dict.fromkeys(("deltalake", "polars", "duckdb"), expected)


def test_a_column_that_appears_later_is_merged_in(s3_bucket: S3Bucket) -> None:
    """Rows before it read as null."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 1), LOG)
    commit(target, SECOND, batch(SECOND, 1, first=100, later=["x"]), LOG)
    uri = target.table(TABLE).uri
    assert same_for_all([(None,), ("x",)]) == by_reader(uri, s3_bucket, ["later"])


def test_int64_meeting_float64_keeps_the_floats_exact(s3_bucket: S3Bucket) -> None:
    """int64 -> float64: 3.5 lands in `n__float64`, the integers stay in `n`."""
    uri = two_units(s3_bucket, [1, 2], [3.5, 4.25])
    expected = [(1, None), (2, None), (None, 3.5), (None, 4.25)]
    assert same_for_all(expected) == by_reader(uri, s3_bucket, ["n", "n__float64"])


def test_float64_meeting_text_keeps_the_text(s3_bucket: S3Bucket) -> None:
    """float64 -> string: text lands in `n__string` as it came."""
    uri = two_units(s3_bucket, [0.5, 1.5], ["n/a", "2.5e"])
    expected = [(0.5, None), (1.5, None), (None, "n/a"), (None, "2.5e")]
    assert same_for_all(expected) == by_reader(uri, s3_bucket, ["n", "n__string"])


def test_integers_beyond_2_53_meeting_floats_stay_exact(s3_bucket: S3Bucket) -> None:
    """A float64 column meets 2^53+1: the value lands in `n__string` as its exact digits."""
    uri = two_units(s3_bucket, [0.5], [BIG, 7])
    expected = [(0.5, None), (None, str(BIG)), (None, "7")]
    assert same_for_all(expected) == by_reader(uri, s3_bucket, ["n", "n__string"])


@pytest.mark.parametrize("value", [3.5, True])
def test_nothing_is_ever_cast_into_the_long_column(s3_bucket: S3Bucket, value: Any) -> None:
    """What delta-rs would store as 3 (or 1) is not in `n`: the column holds its integers only."""
    uri = two_units(s3_bucket, [10], [value])
    n = pl.read_delta(uri, storage_options=s3_bucket.storage_options()).sort("sequence_number")
    assert n["n"].to_list() == [10, None]
