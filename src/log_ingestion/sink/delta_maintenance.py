"""Maintenance of a Delta table: small files compacted, unreferenced ones vacuumed.

Both are commits of the table (`LakeTable.maintain`) given a copy of the log's checkpoint,
marked `log_ingestion.carried`, and its application transaction, and both run beside
ingesting workers. The vacuum keeps the transaction, so a commit of the log racing it makes
one of the two lose and try again. delta-rs' compaction drops it: what keeps its rows apart
from a window's commit is that both remove the files they rewrite, so when they rewrite the
same one the later fails (ConcurrentDeleteDelete) and tries again; no reader ever sees a
partition twice or half. Its checkpoint copy may then be a window behind, which the mark
says (`state.in_table`). After a compaction the table gets a Delta checkpoint, so that
opening it reads one file instead of every commit.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from deltalake import CommitProperties, DeltaTable

from log_ingestion.sink.compact import Compacted
from log_ingestion.sink.delta_table import LakeTable
from log_ingestion.sink.naming import PARTITION_KEY

# A file in no commit may be one a writer is writing now and commits next: younger than
# this, it is kept whatever the retention.
ORPHAN_FLOOR_HOURS = 1


def compact_lake_table(table: LakeTable, *, before_ms: int | None, target_bytes: int) -> Compacted:
    """Merge each date partition's small files (those before `before_ms`) into files near
    `target_bytes`; then write a Delta checkpoint of the table."""
    filters = None
    if before_ms is not None:
        before = dt.datetime.fromtimestamp(before_ms / 1000, tz=dt.UTC).date().isoformat()
        filters = [(PARTITION_KEY, "<", before)]

    def run(delta: DeltaTable, properties: CommitProperties) -> dict[str, Any]:
        metrics = delta.optimize.compact(
            partition_filters=filters, target_size=target_bytes, commit_properties=properties
        )
        delta.create_checkpoint()
        return metrics

    metrics = table.maintain(run)
    return Compacted(
        int(metrics.get("partitionsOptimized", 0)),
        int(metrics.get("numFilesRemoved", 0)),
        int(metrics.get("numFilesAdded", 0)),
    )


def vacuum_lake_table(table: LakeTable, *, retention_ms: int) -> int:
    """Remove the files no version newer than `retention_ms` ago references, and the files
    no commit ever named (a crashed writer's) older than that and ORPHAN_FLOOR_HOURS; how
    many.

    The retention is the command's (`--retention`, at least a day unless forced), not the
    table's `delta.deletedFileRetentionDuration`: delta-rs would refuse anything under that
    (7 days by default) with an error of its own. Files a commit removed are never a
    writer's, so a forced shorter retention still applies to them."""
    hours = math.ceil(retention_ms / 3_600_000)
    removed = _vacuum(table, max(hours, ORPHAN_FLOOR_HOURS), full=True)
    if hours < ORPHAN_FLOOR_HOURS:
        removed += _vacuum(table, hours, full=False)
    return removed


def _vacuum(table: LakeTable, hours: int, *, full: bool) -> int:
    """A vacuum of files removed by commits (`full`: and of files in no commit at all,
    which delta-rs' default "lite" mode never looks at)."""

    def run(delta: DeltaTable, properties: CommitProperties) -> list[str]:
        return delta.vacuum(
            retention_hours=hours,
            dry_run=False,
            enforce_retention_duration=False,
            commit_properties=properties,
            full=full,
        )

    return len(table.maintain(run))
