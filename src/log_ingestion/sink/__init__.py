"""Arrow tables -> Hive-partitioned Parquet, published a window at a time, crash-safe.

Use::

    sink = ParquetSink(root, compression="snappy", row_group_rows=128_000, filesystem=None)
    report = sink.recover()                  # at start, before any writer: see below
    writer = sink.open_window(table, window) # table: a name from table_dir_name()
    writer.write(batch)                      # any number of times
    result = writer.commit()                 # CommitResult(files, rows, bytes, replaced)
    writer.abort()                           # instead of commit, or after an error; never raises

`root` is a local path or a URI that `pyarrow.fs` understands (or a path inside the given
`filesystem`). Writers of different tables, or different windows, may run in threads at
once; two processes must not write the same root at the same time.

Batches need a `timestamp` column (any timestamp type; stored as timestamp[ms, UTC]) whose
every value lies inside the window: a row outside would survive the window's replacement,
so it is a `ValueError`. Other columns pass through. Batches may add columns or widen
types: a file's schema is fixed once its first row group is written, and a widening batch
then starts another file; a batch that only lacks columns is filled with nulls. Columns
whose types cannot meet become string, and so does a column where integers beyond 2^53
(which a double would round) meet floats; a cast that still fails is a `StorageError`.
A data column named `date` (the partition key, which readers would shadow) is renamed
`date_`. All-null columns are written as string.

Layout::

    <root>/<table>/date=YYYY-MM-DD/part-<start_ms>-<end_ms>-<token>-<n>.parquet
    <root>/<table>/_staging/part-<start_ms>-<end_ms>-<token>-<n>.parquet.tmp
    <root>/<table>/_staging/journal-<start_ms>-<end_ms>-<token>.json

Read a table with `open_dataset(<root>/<table>)`, or DuckDB's
`read_parquet('<root>/<table>/**/*.parquet', hive_partitioning=true, union_by_name=true)`.

Publish protocol of `commit()` (a SIGKILL at any point leaves, after `recover()`, either the
window's complete old set of files or its complete new set, never both, never half a file):

1. Row groups were written to temps in `_staging`; the temps are closed and fsynced, then
   the staging directory. *Crash*: old set visible; `recover()` deletes the temps.
2. Journals of earlier failed publishes of the table are applied (step 4-6 for them).
3. The window's old files are listed (any other token whose `part-<start>-<end>-` lies
   inside the window: a smaller grid's files are replaced too; a file reaching outside the
   window, of a larger or shifted grid, is a `StorageError` and nothing changes) and
   a journal of renames and deletions is written atomically (temp, fsync, rename, directory
   fsync). This is the commit point. *Crash before the rename*: as in 1. *After*: `recover()`
   carries the journal out.
4. Each temp is renamed into its partition (directories created as needed), then the
   partition directories are fsynced. *Crash*: some new files are visible next to the old
   ones until `recover()` renames the rest and deletes the old ones.
5. Old files are deleted, their directories fsynced. *Crash*: `recover()` deletes the rest.
6. The journal is deleted, the staging directory fsynced. *Crash*: `recover()` finds every
   step done and deletes the journal.

Only `recover()` heals a crash; a reader looking between the crash and the next start can
see old and new files of one window together (each file itself is whole). An `OSError` in
step 4 rolls the publish back (through an `undo` journal, itself crash-safe), and so does a
temp found missing there (another process's `recover()` took it for stale), so `commit()`
raising `StorageError` leaves the old set visible; one in step 5 or 6 leaves the new set,
completed by the next `recover()`. Files are created 0o640 and directories 0o750, both
masked by the umask; fsyncs happen where the filesystem is local.
"""

from log_ingestion.sink.naming import table_dir_name
from log_ingestion.sink.read import open_dataset
from log_ingestion.sink.writer import (
    COMPRESSIONS,
    CommitResult,
    ParquetSink,
    RecoveryReport,
    WindowWriter,
)

__all__ = [
    "COMPRESSIONS",
    "CommitResult",
    "ParquetSink",
    "RecoveryReport",
    "WindowWriter",
    "open_dataset",
    "table_dir_name",
]
