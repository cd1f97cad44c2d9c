"""Where rows land: the `Sink` seam, and the Parquet folder that implements it.

A sink stages a window's rows out of sight and commits them at once, together with the
log's checkpoint: a reader sees a window's old rows or its new rows, never both, and the
checkpoint never describes rows that are not in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from log_ingestion.sink.naming import table_dir_name
from log_ingestion.sink.parquet_dir import ParquetSink, RecoveryReport, WindowWriter
from log_ingestion.sink.publish import Published
from log_ingestion.sink.read import open_dataset

if TYPE_CHECKING:
    import pyarrow as pa

    from log_ingestion.models import Window
    from log_ingestion.state import LogCheckpoint


class Staged(Protocol):
    """Rows written but not visible until `commit`."""

    def write(self, rows: pa.Table) -> None: ...

    def commit(self, window: Window, checkpoint: LogCheckpoint | None = None) -> Published:
        """Make the rows visible as the rows of `window`, replacing its earlier rows, and
        the checkpoint durable with them (when given)."""
        ...

    def abort(self) -> None:
        """Drop the rows; never raises."""
        ...


class Sink(Protocol):
    """One table per log; rows staged, then committed whole as a window's."""

    def recover(self) -> RecoveryReport:
        """Finish or roll back what a crash interrupted; call before staging anything."""
        ...

    def stage(self, table: str) -> Staged:
        """A writer of the table's rows; every row must lie in the window it commits."""
        ...


__all__ = [
    "ParquetSink",
    "Published",
    "RecoveryReport",
    "Sink",
    "Staged",
    "WindowWriter",
    "open_dataset",
    "table_dir_name",
]
