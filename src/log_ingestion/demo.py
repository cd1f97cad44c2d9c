"""`log-ingestion demo`: the bundled emulator, its sample logs, one ingest, a look at the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from log_ingestion.config import Settings, load_settings
from log_ingestion.emulator import DEFAULT_API_KEY, Dataset, Emulator
from log_ingestion.pipeline import RunSummary
from log_ingestion.sink import open_dataset

SHOWN_COLUMNS = 5
SHOWN_ROWS = 5
SHOWN_WIDTH = 24


# what of an operator's `.env` would change which sample rows the demo lands or shows
SAMPLE_WHOLE: dict[str, Any] = {
    "rapid7_query": "",
    "shard": None,
    "keep_message": "always",
    "verify_counts": True,
}


def demo_settings(emulator_url: str, output: Path, log_level: str) -> Settings:
    """Settings for the local emulator: no real key, fast polls, no client-side throttle,
    every sample log whole into Parquet whatever `.env` says."""
    return load_settings(
        require_output=True,
        rapid7_api_key=DEFAULT_API_KEY,
        rapid7_api_endpoint=emulator_url,
        rapid7_log_ids=[],
        output_dir=str(output),
        state_dir=None,
        table_format="parquet",
        poll_interval=0.02,
        rate_limit=1_000_000,
        window_size="6h",
        log_level=log_level,
        **SAMPLE_WHOLE,
    )


def sample_dataset(events_per_log: int) -> Dataset:
    return Dataset(seed=0, events_per_log=events_per_log)


def start_emulator(dataset: Dataset) -> Emulator:
    return Emulator(dataset).start()


# The sample firewall log holds two malformed CSV lines on purpose (an unbalanced quote, a
# row with too many fields), to show that such lines land raw with a `_parse_error`.
DELIBERATE_PARSE_ERRORS = {"firewall-traffic": 2}


def parse_errors_note(summary: RunSummary) -> str | None:
    """Why the demo's summary shows parse errors: they are the sample's deliberate ones."""
    found = {
        log.log.name: log.counts.parse_errors for log in summary.logs if log.counts.parse_errors
    }
    if not found:
        return None
    if found == DELIBERATE_PARSE_ERRORS:
        return (
            "The 2 parse errors are the sample's deliberately malformed lines in firewall-traffic "
            "(an unbalanced quote, a row with too many fields): they land with their raw "
            "message and `_parse_error` set, as any line that does not parse would."
        )
    total = sum(found.values())
    return f"{total:,} parse errors: rows kept with their raw message and `_parse_error` set."


def show_rows(console: Console, summary: RunSummary, output: Path) -> None:
    """A few rows of the first CSV table, read back from the Parquet files."""
    chosen = next((log for log in summary.logs if log.table.startswith("firewall")), None)
    if chosen is None or not chosen.counts.rows:
        return
    table_dir = output.resolve() / chosen.table
    rows = open_dataset(str(table_dir)).head(SHOWN_ROWS + 1)
    parsed = [name for name in rows.column_names if not name.startswith("_")][6:]
    columns = ["sequence_number", *parsed][:SHOWN_COLUMNS]
    view = Table(title=f"{chosen.log.name}: first rows read back from {output / chosen.table}")
    for name in columns:
        view.add_column(name, overflow="ellipsis", max_width=SHOWN_WIDTH, no_wrap=True)
    for row in rows.select(columns).to_pylist()[1:]:
        view.add_row(*(str(row[name]) for name in columns))
    console.print(view)
    glob = f"{output}/{chosen.table}/**/*.parquet"
    console.print(
        f"Read it with DuckDB: read_parquet('{glob}', union_by_name=true, hive_partitioning=true)"
    )
