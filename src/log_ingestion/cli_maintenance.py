"""The `compact` command: a table's small files merged into few, beside running ingests.

Registered on the app by `cli`, whose helpers (`settings_for`, `guarded`, `out`) it imports
when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from log_ingestion.cli_state import ApiKeyOption

if TYPE_CHECKING:
    from log_ingestion.maintenance import TableDone

LogOption = Annotated[str | None, typer.Option("--log", help="Log id or name (default: all).")]
BeforeOption = Annotated[
    str | None,
    typer.Option(
        "--before",
        help="Only date partitions before this time's UTC date (ISO 8601, or 1d ago); "
        "default: today's, whose partition is still being written.",
    ),
]
TargetOption = Annotated[
    int, typer.Option("--target-mb", min=1, max=4096, help="Size of the merged files, MB.")
]
VacuumOption = Annotated[
    bool, typer.Option("--vacuum", help="Also remove files no table references any more.")
]
RetentionOption = Annotated[
    str, typer.Option("--retention", help="With --vacuum: keep files replaced this recently.")
]
ForceOption = Annotated[bool, typer.Option("--force", help="Allow a --retention below 1d.")]


def compact(
    log: LogOption = None,
    before: BeforeOption = None,
    target_mb: TargetOption = 128,
    vacuum: VacuumOption = False,
    retention: RetentionOption = "7d",
    force: ForceOption = False,
    api_key: ApiKeyOption = None,
) -> None:
    """Merge each date partition's small files into few, beside running ingests."""
    from log_ingestion import cli

    def body() -> None:
        from log_ingestion import maintenance
        from log_ingestion.timeparse import now_ms, parse_duration, parse_time

        settings = cli.settings_for(api_key, require_key=False, require_output=True)
        retention_ms = parse_duration(retention, option="--retention")
        maintenance.check_retention(retention_ms, force=force)
        now = now_ms()
        before_ms = parse_time(before, now_ms=now, option="--before") if before else now
        done = maintenance.compact(
            settings,
            log,
            before_ms=before_ms,
            target_bytes=target_mb * 2**20,
            vacuum_ms=retention_ms if vacuum else None,
        )
        for table in done:
            cli.out().print(_described(table, vacuum=vacuum), markup=False)
        if vacuum and settings.resolved_table_format == "parquet":
            cli.out().print(
                "nothing to vacuum: the Parquet folder deletes replaced files as it publishes"
            )

    cli.guarded(body)


def _described(table: TableDone, *, vacuum: bool) -> str:
    merged = table.compacted
    rows = f" ({merged.rows:,} rows)" if merged.rows else ""  # Delta's compaction does not say
    line = (
        f"{table.log_name}: {merged.files_before} files in {merged.partitions} partitions "
        f"merged into {merged.files_after}{rows}"
    )
    return f"{line}; {table.vacuumed} unreferenced files removed" if vacuum else line
