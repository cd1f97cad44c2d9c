"""The Delta Lake sink: one Delta table per log under a root, a local folder or `s3://`.

    lake = Lake(LakeOptions("s3://bucket/prefix", aws={...}))
    sink = DeltaSink(lake)
    sink.ensure_root()                  # at start: the bucket answers, conditional writes hold
    staged = sink.stage(table)          # rows buffered, nothing visible
    staged.write(rows)                  # any number of times
    staged.commit(window, checkpoint)   # one Delta commit: the window's rows replaced, the
                                        # checkpoint in its metadata
    staged.abort()                      # instead of commit; never raises

A unit's rows (at most about ROW_GROUP_ROWS) are held in memory and written by one
`write_deltalake` at commit. Nothing is kept on local disk: the table is the state
(`state.in_table`, `state.delta_store`). Choices and alternatives: ADR 0003.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import WriterProperties
from deltalake.fs import DeltaStorageHandler

from log_ingestion.errors import ConfigError, StorageError
from log_ingestion.models import Window
from log_ingestion.sink.conditional_put import PROBE_DIR, probe_conditional_put
from log_ingestion.sink.delta_schema import EVENT_SCHEMA
from log_ingestion.sink.delta_table import LakeTable
from log_ingestion.sink.lake_store import LakeOptions, translated
from log_ingestion.sink.naming import check_table
from log_ingestion.sink.parquet_dir import RecoveryReport
from log_ingestion.sink.publish import Published
from log_ingestion.sink.schema import (
    big_int_columns,
    check_inside,
    conform,
    unify_exact,
    with_event_timestamp,
    without_partition_key,
)
from log_ingestion.state.checkpoint import LogCheckpoint

# A unit is held in memory until its commit, and delta-rs holds about as much again while it
# writes: units of one window, or of up to this many rows of sparse windows, keep the peak
# near the Parquet folder's (benchmarks/delta.py).
UNIT_ROWS = 32_768
CODECS = {
    "snappy": "SNAPPY",
    "zstd": "ZSTD",
    "gzip": "GZIP",
    "lz4": "LZ4_RAW",
    "none": "UNCOMPRESSED",
}
LEVELLED = frozenset({"zstd", "gzip"})


def writer_properties(compression: str, level: int | None, row_group_rows: int) -> WriterProperties:
    """Parquet settings of the table's files, from PARQUET_COMPRESSION(_LEVEL), ROW_GROUP_ROWS."""
    codec = compression.lower()
    if level is not None and codec not in LEVELLED:
        raise ConfigError(
            f"PARQUET_COMPRESSION_LEVEL: TABLE_FORMAT=delta takes a level with zstd or gzip only, not {codec}"
        )
    try:
        return WriterProperties(
            compression=CODECS[codec],  # type: ignore[arg-type]
            compression_level=level,
            max_row_group_size=row_group_rows,
        )
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"PARQUET_COMPRESSION_LEVEL: not usable for Delta ({exc})") from None


class Lake:
    """The root of the tables: one shared `LakeTable` per table, the listing, the start check."""

    def __init__(self, options: LakeOptions, writer: WriterProperties | None = None) -> None:
        self.options = options
        self._writer = writer or WriterProperties()
        self._tables: dict[str, LakeTable] = {}
        self._guard = threading.Lock()
        self._checked = False

    def table(self, name: str) -> LakeTable:
        with self._guard:
            if name not in self._tables:
                self._tables[name] = LakeTable(self.options, check_table(name), self._writer)
            return self._tables[name]

    def names(self) -> list[str]:
        """The table folders under the root, sorted (`_`- and `.`-prefixed ones are not tables)."""
        selector = pafs.FileSelector("", recursive=False, allow_not_found=True)
        with translated("list the tables", self.options):
            if not self.options.on_object_store and not os.path.isdir(self.options.root):
                return []
            found = DeltaStorageHandler(self.options.root, self.options.storage_options())
            infos = found.get_file_info_selector(selector)
        return sorted(
            info.base_name
            for info in infos
            if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", "."))
        )

    def ensure_root(self) -> None:
        """Once per run: a local root is made; on `s3://` the bucket is listed (reachable,
        credentials accepted, bucket there) and conditional writes are probed."""
        if self._checked:
            return
        if not self.options.on_object_store:
            try:
                os.makedirs(self.options.root, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the output folder {self.options.root}: {exc.strerror}"
                ) from None
        else:
            self.names()
            with translated("probe conditional writes", self.options):
                probe_conditional_put(self.options.root, self.options.storage_options())
        self._checked = True


class DeltaSink:
    """Writes each window of a log as one commit to the log's Delta table; see the module doc."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def ensure_root(self) -> None:
        self.lake.ensure_root()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Nothing to hold: workers share a Delta table, and its commit protocol decides.
        The output is checked (reachable, conditional writes honoured) before a run uses it."""
        self.lake.ensure_root()
        yield

    def recover(self) -> RecoveryReport:
        """Nothing to finish: a Delta commit is atomic. Files a crash left uncommitted are
        in no commit, so no reader sees them; a vacuum removes them."""
        return RecoveryReport()

    def stage(self, table: str) -> DeltaStaged:
        return DeltaStaged(self.lake.table(table))


_OPEN, _COMMITTING, _COMMITTED, _ABORTED = "open", "committing", "committed", "aborted"


class DeltaStaged:
    """A unit's rows, held until `commit` writes them in one commit; `abort` drops them."""

    def __init__(self, table: LakeTable) -> None:
        self._table = table
        self._batches: list[pa.Table] = []
        self._schema: pa.Schema | None = None
        self._big_ints: set[str] = set()
        self._low: int | None = None
        self._high: int | None = None
        self._state = _OPEN

    def write(self, rows: pa.Table) -> None:
        """Add rows (any schema: the unit's schemas are unified as `sink.schema` does)."""
        self._require_open("write")
        if not rows.num_rows:
            return
        rows, low, high = with_event_timestamp(rows)
        rows = without_partition_key(rows)
        self._low = low if self._low is None else min(self._low, low)
        self._high = high if self._high is None else max(self._high, high)
        self._big_ints |= big_int_columns(rows)
        schemas = [rows.schema] if self._schema is None else [self._schema, rows.schema]
        self._schema = unify_exact(schemas, self._big_ints)
        self._batches.append(rows)

    def commit(self, window: Window, checkpoint: LogCheckpoint | None = None) -> Published:
        """Replace the rows of `window` with the rows written, and make `checkpoint` the
        table's, in one commit. On a `StorageError` nothing of it is visible."""
        self._require_open("commit")
        check_inside(window, self._low, self._high)
        self._state = _COMMITTING
        rows = self._rows()
        self._batches = []
        published = self._table.commit(window, rows, self._big_ints, checkpoint)
        self._state = _COMMITTED
        return published

    def abort(self) -> None:
        """Drop the rows; never raises."""
        if self._state == _OPEN:
            self._batches = []
            self._state = _ABORTED

    def _rows(self) -> pa.Table:
        if self._schema is None:
            return EVENT_SCHEMA.remove(EVENT_SCHEMA.get_field_index("date")).empty_table()
        return pa.concat_tables([conform(batch, self._schema) for batch in self._batches])

    def _require_open(self, action: str) -> None:
        if self._state != _OPEN:
            raise RuntimeError(f"cannot {action}: the writer is {self._state}")


__all__ = ["PROBE_DIR", "UNIT_ROWS", "DeltaSink", "DeltaStaged", "Lake", "writer_properties"]
