"""Delta tables read back three ways, to compare with the emulator's ground truth: deltalake
(its own query engine, to Arrow), `polars.read_delta`, and DuckDB's `delta_scan`.

    rows = read_all(bucket.uri("lake", table), bucket)   # {"deltalake": [...], "polars": ...}

Nothing here reads through `DeltaTable.to_pyarrow_*`: a process that wrote with a predicate
overwrite and then read that way can abort as it exits, which would fail the whole test run.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
from deltalake.fs import DeltaStorageHandler
from pyarrow import fs

from .s3 import S3Bucket

Row = tuple[str, int, str]  # (log_id, sequence_number, message)
COLUMNS = "log_id, sequence_number, message"


def options(bucket: S3Bucket | None) -> dict[str, str]:
    return {} if bucket is None else bucket.storage_options()


def rows_deltalake(uri: str, bucket: S3Bucket | None) -> list[Row]:
    table = DeltaTable(uri, storage_options=options(bucket))
    query = QueryBuilder().register("t", table)
    found = query.execute(f"SELECT {COLUMNS} FROM t").read_all()  # noqa: S608 - fixed columns
    return _rows(pa.table(found).to_pylist())


def rows_polars(uri: str, bucket: S3Bucket | None) -> list[Row]:
    frame = pl.read_delta(uri, storage_options=options(bucket) or None)
    return _rows(frame.select(["log_id", "sequence_number", "message"]).to_dicts())


def rows_duckdb(uri: str, bucket: S3Bucket | None) -> list[Row]:
    with duckdb_with_delta(bucket) as db:
        query = f"SELECT {COLUMNS} FROM delta_scan(?)"  # noqa: S608 - fixed columns
        found = db.execute(query, [uri]).fetchall()
    return sorted((str(a), int(b), str(c)) for a, b, c in found)


def read_all(uri: str, bucket: S3Bucket | None) -> dict[str, list[Row]]:
    """The table's rows by each reader, sorted: all three should equal the ground truth."""
    return {
        "deltalake": rows_deltalake(uri, bucket),
        "polars": rows_polars(uri, bucket),
        "duckdb": rows_duckdb(uri, bucket),
    }


def keys(rows: Iterable[Row]) -> Counter[tuple[str, int]]:
    """`(log_id, sequence_number)` counted: a duplicate counts 2."""
    return Counter((log_id, sequence) for log_id, sequence, _ in rows)


def duckdb_with_delta(bucket: S3Bucket | None) -> duckdb.DuckDBPyConnection:
    """DuckDB with the delta and httpfs extensions of their wheels (nothing downloaded) and,
    for a bucket, an S3 secret for its endpoint."""
    db = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name in ("httpfs", "delta"):
        db.execute(f"LOAD '{extension(name)}'")
    if bucket is not None:
        host = bucket.endpoint_url.removeprefix("http://")
        db.execute(
            f"CREATE SECRET s3 (TYPE s3, KEY_ID '{bucket.access_key}', "
            f"SECRET '{bucket.secret_key}', ENDPOINT '{host}', URL_STYLE 'path', "
            f"USE_SSL false, REGION '{bucket.region}')"
        )
    return db


def extension(name: str) -> Path:
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    assert spec is not None, f"no duckdb-extension-{name}"
    assert spec.submodule_search_locations, f"no duckdb-extension-{name}"
    folder = Path(next(iter(spec.submodule_search_locations)))
    return next(folder.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))


def tables(bucket: S3Bucket, *prefix: str) -> list[str]:
    """The table folders under `s3://bucket/prefix`."""
    handler = DeltaStorageHandler(bucket.uri(*prefix), bucket.storage_options())
    infos = handler.get_file_info_selector(fs.FileSelector("", recursive=False))
    return sorted(
        info.base_name
        for info in infos
        if info.type == fs.FileType.Directory and not info.base_name.startswith("_")
    )


def objects(bucket: S3Bucket) -> list[str]:
    """Every object key in the bucket."""
    store = bucket.filesystem()
    infos = store.get_file_info(fs.FileSelector(bucket.name, recursive=True))
    return sorted(info.path for info in infos if info.type == fs.FileType.File)


def _rows(records: list[dict[str, object]]) -> list[Row]:
    return sorted(
        (str(row["log_id"]), int(row["sequence_number"]), str(row["message"]))  # type: ignore[call-overload]
        for row in records
    )
