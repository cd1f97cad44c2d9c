"""Reading a table back as one dataset, whatever schema each of its files has."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from log_ingestion.sink.naming import PARQUET_SUFFIX, PARTITION_KEY
from log_ingestion.sink.schema import unify


def open_dataset(table_dir: str, *, filesystem: pafs.FileSystem | None = None) -> ds.Dataset:
    """A pyarrow dataset over a table's published files, with the `date` partition column.

    pyarrow takes a dataset's schema from its first file; files of later windows may have
    more columns or wider types, so their schemas are unified first. Staging files are not
    read: `_`-prefixed directories are skipped and temps do not end in `.parquet`.
    """
    filesystem = filesystem or pafs.LocalFileSystem()
    selector = pafs.FileSelector(table_dir, recursive=True, allow_not_found=True)
    files = sorted(
        info.path
        for info in filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.endswith(PARQUET_SUFFIX)
        and "/_" not in info.path[len(table_dir) :]
    )
    schemas = [pq.read_schema(path, filesystem=filesystem) for path in files]
    partition = pa.field(PARTITION_KEY, pa.date32())
    partitioning = ds.partitioning(pa.schema([partition]), flavor="hive")
    schema = unify(schemas).append(partition) if schemas else pa.schema([partition])
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        filesystem=filesystem,
        partitioning=partitioning,
        partition_base_dir=table_dir,
    )
