"""Maintenance of a Delta table: small files compacted, unreferenced ones vacuumed.

Both are commits of the table that carry the log's checkpoint and its application
transaction (`LakeTable.maintain`), so they run beside ingesting workers: a commit of the
log racing them makes one of the two lose and try again, and no reader ever sees a
partition twice or half. After a compaction the table gets a Delta checkpoint, so that
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
    """Remove the files no version newer than `retention_ms` ago references; how many.

    The retention is the command's (`--retention`, at least a day unless forced), not the
    table's `delta.deletedFileRetentionDuration`: delta-rs would refuse anything under that
    (7 days by default) with an error of its own."""
    hours = math.ceil(retention_ms / 3_600_000)

    def run(delta: DeltaTable, properties: CommitProperties) -> list[str]:
        return delta.vacuum(
            retention_hours=hours,
            dry_run=False,
            enforce_retention_duration=False,
            commit_properties=properties,
        )

    return len(table.maintain(run))
