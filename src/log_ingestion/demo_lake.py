"""`log-ingestion demo --lake`: the emulator and a local S3 server (SeaweedFS) on loopback,
the sample logs ingested into Delta tables on it, a look at the result, both stopped.

The whole path of a production run on object storage, with one command: S3 credentials,
the conditional-write probe, one Delta commit per unit carrying its checkpoint, and the
tables read back by deltalake's own engine while the server still runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
from rich.console import Console
from rich.table import Table

from log_ingestion.config import Settings, load_settings
from log_ingestion.demo import (
    SAMPLE_WHOLE,
    SHOWN_COLUMNS,
    SHOWN_WIDTH,
    parse_errors_note,
    sample_dataset,
    start_emulator,
)
from log_ingestion.emulator import DEFAULT_API_KEY
from log_ingestion.ingest import execute
from log_ingestion.pipeline import RunSummary
from log_ingestion.progress import TerminalProgress
from log_ingestion.report import print_summary
from log_ingestion.seaweed import SeaweedServer
from log_ingestion.sink.lake_store import lake_options
from log_ingestion.wiring import build_request

BUCKET = "lake"
PREFIX = "demo"
SHOWN_QUERY = "SELECT * FROM t WHERE _format <> 'csv_header' ORDER BY timestamp LIMIT 5"


def lake_settings(emulator_url: str, server: SeaweedServer, log_level: str) -> Settings:
    """Settings for the emulator and the local S3 server; nothing of the caller's AWS setup."""
    return load_settings(
        require_output=True,
        rapid7_api_key=DEFAULT_API_KEY,
        rapid7_api_endpoint=emulator_url,
        rapid7_log_ids=[],
        output_dir=f"s3://{BUCKET}/{PREFIX}",
        state_dir=None,
        table_format="delta",
        aws_endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        aws_session_token=None,
        aws_profile=None,
        aws_region=server.region,
        aws_allow_http=True,
        poll_interval=0.02,
        rate_limit=1_000_000,
        window_size="6h",
        log_level=log_level,
        **SAMPLE_WHOLE,
    )


def run_lake_demo(
    console: Console,
    events_per_log: int,
    start_logging: Callable[[Settings], None],
    progress: Callable[[Settings], TerminalProgress | None],
) -> RunSummary:
    """Start both servers, ingest, print the summary and rows read back, stop both."""
    dataset = sample_dataset(events_per_log)
    with (
        tempfile.TemporaryDirectory(prefix="log-ingestion-lake-") as folder,
        start_emulator(dataset) as emulator,
        SeaweedServer(Path(folder)).start() as server,
    ):
        server.create_bucket(BUCKET)
        settings = lake_settings(emulator.url, server, log_level="WARNING")
        start_logging(settings)
        console.print(
            f"emulator serving 6 sample logs at {emulator.url}; S3 server (SeaweedFS) at "
            f"{server.endpoint_url}; ingesting into Delta tables at {settings.output_dir}/",
            markup=False,
        )
        request = build_request(settings, str(dataset.start_ms), str(dataset.end_ms), rescan=True)
        summary = execute(settings, request, progress=progress(settings))
        print_summary(console, summary)
        note = parse_errors_note(summary)
        if note is not None:
            console.print(note, markup=False)
        show_lake_rows(console, summary, settings)
    return summary


def show_lake_rows(console: Console, summary: RunSummary, settings: Settings) -> None:
    """A few rows of the first CSV table, read back from the Delta table on the server."""
    chosen = next((log for log in summary.logs if log.table.startswith("firewall")), None)
    if chosen is None or not chosen.counts.rows:
        return
    uri = f"{settings.output_dir}/{chosen.table}"
    table = DeltaTable(uri, storage_options=lake_options(settings).storage_options())
    parsed = [name for name in table.schema().to_arrow().names if not name.startswith("_")][6:]
    columns = ["sequence_number", *[name for name in parsed if name != "date"]][:SHOWN_COLUMNS]
    found = QueryBuilder().register("t", table).execute(SHOWN_QUERY).read_all()
    rows = pa.table(found).select(columns)
    view = Table(title=f"{chosen.log.name}: first rows read back from {uri}")
    for name in columns:
        view.add_column(name, overflow="ellipsis", max_width=SHOWN_WIDTH, no_wrap=True)
    for row in rows.to_pylist():
        view.add_row(*(str(row[name]) for name in columns))
    console.print(view)
    hint = f"delta_scan('{uri}') in DuckDB, or polars.read_delta('{uri}', storage_options=...)"
    console.print(f"Read it with {hint}; the README shows how (Delta Lake on S3)", markup=False)
