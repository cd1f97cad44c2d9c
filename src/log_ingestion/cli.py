"""The command line: settings -> pieces -> run; errors -> exit codes.

Exit codes: 0 success (also after a graceful stop), 1 runtime failure, 2 configuration
or usage, 3 authentication or permission, 4 storage, 130 stopped by a second signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from log_ingestion import __version__, metrics
from log_ingestion import demo as sample
from log_ingestion.config import Settings, load_settings
from log_ingestion.emulator.command import emulator as emulator_command
from log_ingestion.errors import ConfigError, LogIngestionError, StopRequestedError
from log_ingestion.logging import configure_logging, get_logger, start_trace
from log_ingestion.pipeline import RunSummary
from log_ingestion.progress import TerminalProgress
from log_ingestion.runner import (
    build_client,
    choose_memory_pool,
    follow,
    graceful_signals,
    pieces,
    resolve_logs,
    tune_garbage_collector,
)
from log_ingestion.state import CheckpointStore
from log_ingestion.timeparse import format_ms, parse_time

app = typer.Typer(
    name="log-ingestion",
    help="Pull log events from the Rapid7 Log Search API into analytics-ready Parquet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state_app = typer.Typer(
    help="Show or rewind what each log has committed.", invoke_without_command=True
)
app.add_typer(state_app, name="state")

# Piped output (a script, grep) has no width: rich would assume 80 columns and cut log
# names, table folders and committed ranges with "…". A terminal keeps its own width.
PIPED_WIDTH = 240
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
T = TypeVar("T")

KEY_ON_COMMAND_LINE = (
    "--api-key: the API key is never taken on the command line (it would be visible in the "
    "process list and shell history); set RAPID7_API_KEY or RAPID7_API_KEY_FILE instead"
)

ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", hidden=True, help="Refused: use RAPID7_API_KEY.")
]


def _fail(exc: LogIngestionError) -> typer.Exit:
    lines = str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(exc.exit_code)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning our errors into one readable line and an exit code."""
    try:
        return action()
    except LogIngestionError as exc:
        raise _fail(exc) from None


def _settings(api_key: str | None, *, require_output: bool = False, **overrides: Any) -> Settings:
    if api_key is not None:
        raise ConfigError(KEY_ON_COMMAND_LINE)
    settings = load_settings(require_output=require_output, **overrides)
    _start_logging(settings)
    return settings


def _start_logging(settings: Settings) -> None:
    """Configure logging once, with the API key as a value no line may carry; start a trace."""
    key = settings.rapid7_api_key.get_secret_value() if settings.rapid7_api_key else ""
    configure_logging(settings.log_level, settings.log_format, secrets=[key])
    start_trace()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"log-ingestion {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Configuration comes from the environment and `.env`; see `.env.example`."""


# -- run ---------------------------------------------------------------------------


@app.command()
def run(
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start: ISO 8601, epoch ms, or a duration ago (24h, 7d). Default: resume.",
        ),
    ] = None,
    to: Annotated[str, typer.Option("--to", help="End (exclusive): same forms, or `now`.")] = "now",
    logs: Annotated[
        str | None,
        typer.Option("--logs", help="Comma-separated log ids or names (default RAPID7_LOG_IDS)."),
    ] = None,
    follow_mode: Annotated[
        bool, typer.Option("--follow", help="Keep ingesting windows as they close, until stopped.")
    ] = False,
    rescan: Annotated[
        bool, typer.Option("--rescan", help="Ingest committed windows again (replaces them).")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Serve Prometheus /metrics on this port while running."
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(help="Address for --metrics-port (0.0.0.0 to let a remote Prometheus in)."),
    ] = "127.0.0.1",
    metrics_file: Annotated[
        Path | None,
        typer.Option(help="Write metrics to this textfile when the run ends (also on failure)."),
    ] = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Ingest a time range (or resume from the checkpoints) into Parquet."""

    def body() -> RunSummary:
        if follow_mode and to != "now":
            raise ConfigError(
                "--to: --follow runs until stopped and takes no --to; drop --to, or drop --follow to stop at --to"
            )
        settings = _settings(api_key, require_output=True)
        if logs is not None:
            settings.rapid7_log_ids = [part.strip() for part in logs.split(",") if part.strip()]
        server = metrics.serve(metrics_port, metrics_host) if metrics_port is not None else None
        try:
            return _ingest(settings, from_, to, follow_mode=follow_mode, rescan=rescan)
        finally:
            if server is not None:
                server.close()

    try:
        summary = guarded(body)
    finally:
        if metrics_file is not None:
            guarded(lambda: metrics.write_textfile(metrics_file))
    _print_summary(summary)
    _exit_if_failed(summary)


def _exit_if_failed(summary: RunSummary) -> None:
    """One `error:` line per distinct problem, naming its logs; exit with the gravest code.

    A failing log does not stop the others, so its error lives in the summary, not in an
    exception: without this, a bad key (403) or a bad query (400) on every log exited 1
    with nothing on stderr but log lines.
    """
    if not summary.failed:
        return
    by_message: dict[str, list[str]] = {}
    for log in summary.failed:
        by_message.setdefault(log.error or "failed", []).append(log.log.name)
    for message, names in by_message.items():
        typer.echo(f"error: {', '.join(names)}: {message}", err=True)
    raise typer.Exit(max(log.exit_code for log in summary.failed) or 1)


def _ingest(
    settings: Settings, from_: str | None, to: str, *, follow_mode: bool, rescan: bool
) -> RunSummary:
    """Run, then say how it went: one `run.done` (or `run.failed`) line and the run metrics."""
    tune_garbage_collector()
    choose_memory_pool(settings.arrow_default_memory_pool)
    began = time.monotonic()
    with metrics.counting_requests() as requests:
        try:
            summary = _ingest_range(settings, from_, to, follow_mode=follow_mode, rescan=rescan)
        except LogIngestionError as exc:
            outcome = "interrupted" if isinstance(exc, StopRequestedError) else "failed"
            metrics.run_finished(outcome)
            get_logger().error(
                "run.failed",
                outcome=outcome,
                error=str(exc),
                error_type=type(exc).__name__,
                seconds=round(time.monotonic() - began, 3),
                **requests.fields(),
            )
            raise
    outcome = "failed" if summary.failed else ("interrupted" if summary.interrupted else "ok")
    metrics.run_finished(outcome)
    get_logger().log(
        logging.WARNING if summary.failed else logging.INFO,
        "run.done",
        outcome=outcome,
        logs=len(summary.logs),
        failed_logs=len(summary.failed),
        windows=sum(log.committed for log in summary.logs),
        events=summary.rows,
        files=summary.files,
        bytes=summary.bytes,
        parse_errors=sum(log.parse_errors for log in summary.logs),
        count_mismatches=sum(log.mismatches for log in summary.logs),
        seconds=round(time.monotonic() - began, 3),
        **requests.fields(),
    )
    return summary


def _ingest_range(
    settings: Settings, from_: str | None, to: str, *, follow_mode: bool, rescan: bool
) -> RunSummary:
    stop = threading.Event()
    now_ms = int(time.time() * 1000)
    end_ms = parse_time(to, now_ms=now_ms, option="--to")
    start_ms = parse_time(from_, now_ms=now_ms) if from_ else None
    if start_ms is not None and start_ms >= end_ms:
        raise ConfigError(
            f"--from ({format_ms(start_ms)}) must be before --to ({format_ms(end_ms)})"
        )
    show_progress = sys.stderr.isatty() and settings.log_format != "json"
    progress = TerminalProgress() if show_progress else None
    with graceful_signals(stop), pieces(settings, stop, progress=progress, rescan=rescan) as built:
        chosen = resolve_logs(built.client, settings.rapid7_log_ids)
        get_logger().info(
            "run.start", logs=len(chosen), start=start_ms, end=end_ms, follow=follow_mode
        )
        with progress or nullcontext():
            if follow_mode:
                return follow(built.pipeline, chosen, start_ms, settings, stop)
            return built.pipeline.run(chosen, start_ms, end_ms)


def _print_summary(summary: RunSummary) -> None:
    table = Table(title="log-ingestion summary")
    table.add_column("log", no_wrap=True)
    for column in ("windows", "events", "files", "MB", "parse errors"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status")
    for log in summary.logs:
        status = (
            f"failed: {log.error}" if log.error else ("count mismatch" if log.mismatches else "ok")
        )
        table.add_row(
            log.log.name,
            f"{log.committed}/{log.windows}",
            f"{log.rows:,}",
            str(log.files),
            f"{log.bytes / 1e6:,.1f}",
            f"{log.parse_errors:,}",
            status,
        )
    out.print(table)
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    stopped = " (stopped early; run again to resume)" if summary.interrupted else ""
    out.print(
        f"{len(summary.logs)} logs, {summary.rows:,} events, {summary.files} files, "
        f"{summary.bytes / 1e6:,.1f} MB in {summary.seconds:.1f}s ({rate:,.0f} events/s){stopped}"
    )


# -- logs and check --------------------------------------------------------------------


@app.command("logs")
def list_logs(api_key: ApiKeyOption = None) -> None:
    """List the logs this key can see: id, name, log sets."""

    def body() -> None:
        settings = _settings(api_key)
        with build_client(settings, threading.Event()) as client:
            found = client.list_logs()
        table = Table("id", "name", "log sets")
        for log in found:
            table.add_row(log.id, log.name, ", ".join(log.logsets))
        out.print(table)

    guarded(body)


@app.command()
def check(api_key: ApiKeyOption = None) -> None:
    """Validate the configuration, reach the API, and confirm the key and the logs."""

    def body() -> None:
        settings = _settings(api_key, require_output=True)
        out.print(f"configuration ok; endpoint {settings.endpoint}")
        with build_client(settings, threading.Event()) as client:
            chosen = resolve_logs(client, settings.rapid7_log_ids)
        out.print(f"API reached and key accepted; {len(chosen)} log(s) to ingest:")
        for log in chosen:
            out.print(f"  {log.id}  {log.name}")
        _check_output(settings.output_dir)
        out.print(f"output folder writable: {settings.output_dir}")

    guarded(body)


def _check_output(output_dir: str) -> None:
    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"OUTPUT_DIR: {output_dir} is a file; point it at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"OUTPUT_DIR: {output_dir} is not writable ({exc.strerror})") from None


# -- state -------------------------------------------------------------------------------


@state_app.callback()
def state_show(ctx: typer.Context, api_key: ApiKeyOption = None) -> None:
    """Show, per log, what is committed and how far behind now it is."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> None:
        settings = _settings(api_key, require_output=True)
        now_ms = int(time.time() * 1000)
        table = Table(
            "log", "table", "committed ranges", "behind now", "verified windows", "mismatches"
        )
        for checkpoint in CheckpointStore(settings.resolved_state_dir).list():
            ranges = ", ".join(
                f"{format_ms(a)}..{format_ms(b)}" for a, b in checkpoint.committed[-3:]
            )
            behind = (
                f"{(now_ms - checkpoint.committed[-1][1]) / 3_600_000:.1f}h"
                if checkpoint.committed
                else "-"
            )
            verified = checkpoint.verification
            table.add_row(
                checkpoint.log_name,
                checkpoint.table,
                ranges or "-",
                behind,
                str(verified.get("windows", 0)),
                str(verified.get("mismatches", 0)),
            )
        out.print(table)

    guarded(body)


@state_app.command("reset")
def state_reset(
    log: Annotated[str, typer.Option("--log", help="Log id or name to rewind.")],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Forget what was committed from this time on (default: all)."),
    ] = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Rewind a log so a range is ingested again (its files are replaced, not duplicated)."""

    def body() -> None:
        settings = _settings(api_key, require_output=True)
        store = CheckpointStore(settings.resolved_state_dir)
        with store.exclusive():
            _reset(store, log, from_)

    guarded(body)


def _reset(store: CheckpointStore, log: str, from_: str | None) -> None:
    from_ms = parse_time(from_, now_ms=int(time.time() * 1000)) if from_ else 0
    wanted = log.lower()
    matches = [cp for cp in store.list() if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not matches:
        raise ConfigError(f"--log: no checkpoint for {log!r}; `log-ingestion state` lists them")
    for checkpoint in matches:
        store.save(checkpoint.rewound(from_ms))
        if from_:
            out.print(
                f"{checkpoint.log_name}: forgot what was committed from {format_ms(from_ms)}; "
                "the next run ingests it again, replacing its files"
            )
        else:
            out.print(
                f"{checkpoint.log_name}: forgot every committed window; the next run starts "
                "at --from, or at START_TIME when none is given, replacing files it rewrites"
            )


# -- demo and emulator -------------------------------------------------------------------


@app.command()
def demo(
    output: Annotated[Path, typer.Option(help="Folder for the Parquet tables.")] = Path(
        "demo-output"
    ),
    events_per_log: Annotated[
        int, typer.Option(min=1, help="Sample events in each of the 6 logs.")
    ] = 20_000,
) -> None:
    """Start the bundled emulator, ingest its sample logs, print a summary and rows read back."""

    def body() -> RunSummary:
        dataset = sample.sample_dataset(events_per_log)
        with sample.start_emulator(dataset) as emulator:
            settings = sample.demo_settings(emulator.url, output, log_level="WARNING")
            _start_logging(settings)
            out.print(f"emulator serving 6 sample logs at {emulator.url}; ingesting into {output}/")
            return _ingest(
                settings, str(dataset.start_ms), str(dataset.end_ms), follow_mode=False, rescan=True
            )

    summary = guarded(body)
    _print_summary(summary)
    sample.show_rows(out, summary, output)
    _exit_if_failed(summary)


app.command("emulator")(emulator_command)


def main() -> None:
    app()
