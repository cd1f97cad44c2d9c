"""The `demo` command: the bundled emulator's sample logs into tables, a summary, rows read
back. Registered on the app by `cli`, whose helpers it imports when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from log_ingestion.pipeline import RunSummary

OutputOption = Annotated[Path, typer.Option(help="Folder for the Parquet tables.")]
EventsOption = Annotated[int, typer.Option(min=1, help="Sample events in each of the 6 logs.")]
LakeOption = Annotated[
    bool, typer.Option("--lake", help="Into Delta tables on a local S3 server (SeaweedFS).")
]


def demo(
    output: OutputOption = Path("demo-output"),
    events_per_log: EventsOption = 20_000,
    lake: LakeOption = False,
) -> None:
    """Start the bundled emulator, ingest its sample logs, print a summary and rows read back."""
    from log_ingestion import demo as sample
    from log_ingestion.cli import exit_if_failed, guarded, out, progress_for, start_logging
    from log_ingestion.report import print_summary

    if lake:
        from log_ingestion.demo_lake import run_lake_demo

        exit_if_failed(
            guarded(lambda: run_lake_demo(out(), events_per_log, start_logging, progress_for))
        )
        return
    summary = guarded(lambda: _ingest_sample(output, events_per_log))
    print_summary(out(), summary)
    note = sample.parse_errors_note(summary)
    if note is not None:
        out().print(note, markup=False)
    sample.show_rows(out(), summary, output)
    exit_if_failed(summary)


def _ingest_sample(output: Path, events_per_log: int) -> RunSummary:
    from log_ingestion import demo as sample
    from log_ingestion.cli import out, progress_for, start_logging
    from log_ingestion.ingest import execute
    from log_ingestion.wiring import build_request

    dataset = sample.sample_dataset(events_per_log)
    with sample.start_emulator(dataset) as emulator:
        settings = sample.demo_settings(emulator.url, output, log_level="WARNING")
        start_logging(settings)
        out().print(f"emulator serving 6 sample logs at {emulator.url}; ingesting into {output}/")
        request = build_request(settings, str(dataset.start_ms), str(dataset.end_ms), rescan=True)
        return execute(settings, request, progress=progress_for(settings))
