"""Table maintenance as the `compact` command runs it: which tables, and what was done."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from log_ingestion import process
from log_ingestion.config import Settings
from log_ingestion.errors import ConfigError, StopRequestedError
from log_ingestion.sink import ParquetSink
from log_ingestion.sink.compact import Compacted, compact_table
from log_ingestion.state import LogCheckpoint
from log_ingestion.wiring import build_sink

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class TableDone:
    log_name: str
    table: str
    compacted: Compacted
    vacuumed: int = 0  # files removed


def check_retention(retention_ms: int, *, force: bool) -> None:
    """A retention shorter than a day may remove files a long query still reads."""
    if retention_ms < DAY_MS and not force:
        raise ConfigError(
            "--retention: less than 1d may delete files that a reader's query running that long "
            "still needs; give 1d or more, or add --force"
        )


def compact(
    settings: Settings,
    log: str | None,
    *,
    before_ms: int | None,
    target_bytes: int,
    vacuum_ms: int | None = None,
) -> list[TableDone]:
    """Compact every table (or the one of `log`, by id or name) of the output, its date
    partitions before the UTC date of `before_ms` (all when None), and with `vacuum_ms`
    remove the files no version that recent references (Delta tables)."""
    sink, store = build_sink(settings)
    if not isinstance(sink, ParquetSink):
        # A compaction is a commit: on a store that ignores conditional writes it could
        # overwrite a worker's commit, so the store is probed as a run probes it.
        sink.ensure_root()
    checkpoints = _chosen(store.list(), log)
    if isinstance(sink, ParquetSink):
        return [
            TableDone(
                cp.log_name,
                cp.table,
                compact_table(sink, cp.table, before_ms=before_ms, target_bytes=target_bytes),
            )
            for cp in _until_stopped(checkpoints)
        ]
    from log_ingestion.sink.delta_maintenance import compact_lake_table, vacuum_lake_table

    done = []
    for cp in _until_stopped(checkpoints):
        table = sink.lake.table(cp.table)
        compacted = compact_lake_table(table, before_ms=before_ms, target_bytes=target_bytes)
        removed = vacuum_lake_table(table, retention_ms=vacuum_ms) if vacuum_ms is not None else 0
        done.append(TableDone(cp.log_name, cp.table, compacted, removed))
    return done


def _chosen(checkpoints: list[LogCheckpoint], log: str | None) -> list[LogCheckpoint]:
    """The checkpoints of the tables to maintain: every one, or those of `log` (id or name)."""
    checkpoints = [cp for cp in checkpoints if cp.table]
    if log is None:
        return checkpoints
    wanted = log.lower()
    checkpoints = [cp for cp in checkpoints if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not checkpoints:
        raise ConfigError(f"--log: no table for {log!r}; `log-ingestion state` lists them")
    return checkpoints


def _until_stopped(checkpoints: list[LogCheckpoint]) -> Iterator[LogCheckpoint]:
    """Each table in turn; a stop (SIGTERM) ends the command between two tables."""
    for checkpoint in checkpoints:
        if process.STOP.is_set():
            raise StopRequestedError("stopped between two tables")
        yield checkpoint
