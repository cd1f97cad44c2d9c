"""The command line: commands only. Settings -> wiring -> run; error types -> exit codes.

Exit codes: 0 success (also after a graceful stop), 1 runtime failure, 2 configuration
or usage, 3 authentication or permission, 4 storage, 130 stopped by a second signal.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from log_ingestion import __version__, metrics, process
from log_ingestion import demo as sample
from log_ingestion.config import Settings, load_settings
from log_ingestion.demo_lake import run_lake_demo
from log_ingestion.emulator.command import emulator as emulator_command
from log_ingestion.errors import (
    AuthError,
    ConfigError,
    LogIngestionError,
    QueryRejectedError,
    StopRequestedError,
    StorageError,
)
from log_ingestion.ingest import execute, resolve_logs
from log_ingestion.logging import configure_logging, start_trace
from log_ingestion.pipeline import RunSummary
from log_ingestion.progress import TerminalProgress
from log_ingestion.report import print_state, print_summary
from log_ingestion.state import CheckpointStore
from log_ingestion.timeparse import format_ms, now_ms, parse_time
from log_ingestion.wiring import build_client, build_request, build_store, check_lake

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

# The first match decides; anything else of ours is a runtime failure (1).
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (StopRequestedError, 0),
    (ConfigError, 2),
    (QueryRejectedError, 2),
    (AuthError, 3),
    (StorageError, 4),
)

KEY_ON_COMMAND_LINE = (
    "--api-key: the API key is never taken on the command line (it would be visible in the "
    "process list and shell history); set RAPID7_API_KEY or RAPID7_API_KEY_FILE instead"
)

ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", hidden=True, help="Refused: use RAPID7_API_KEY.")
]


def exit_code(error: Exception) -> int:
    """The exit code an error means."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), 1)


def _fail(exc: LogIngestionError) -> typer.Exit:
    lines = str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(exit_code(exc))


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
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secret_values())
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


FromOption = Annotated[
    str | None,
    typer.Option(
        "--from", help="Start: ISO 8601, epoch ms, or a duration ago (24h, 7d). Default: resume."
    ),
]
ToOption = Annotated[str, typer.Option("--to", help="End (exclusive): same forms, or `now`.")]
LogsOption = Annotated[
    str | None,
    typer.Option("--logs", help="Comma-separated log ids or names (default RAPID7_LOG_IDS)."),
]
FollowOption = Annotated[
    bool, typer.Option("--follow", help="Keep ingesting windows as they close, until stopped.")
]
RescanOption = Annotated[
    bool, typer.Option("--rescan", help="Ingest committed windows again (replaces them).")
]
MetricsPortOption = Annotated[
    int | None,
    typer.Option(min=0, max=65535, help="Serve Prometheus /metrics on this port while running."),
]
MetricsHostOption = Annotated[
    str, typer.Option(help="Address for --metrics-port (0.0.0.0 to let a remote Prometheus in).")
]
MetricsFileOption = Annotated[
    Path | None,
    typer.Option(help="Write metrics to this textfile when the run ends (also on failure)."),
]


@app.command()
def run(
    from_: FromOption = None,
    to: ToOption = "now",
    logs: LogsOption = None,
    follow_mode: FollowOption = False,
    rescan: RescanOption = False,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
    metrics_file: MetricsFileOption = None,
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
            request = build_request(settings, from_, to, rescan=rescan)
            return execute(settings, request, follow_mode=follow_mode, progress=_progress(settings))
        finally:
            if server is not None:
                server.close()

    try:
        summary = guarded(body)
    finally:
        if metrics_file is not None:
            guarded(lambda: metrics.write_textfile(metrics_file))
    print_summary(out, summary)
    _exit_if_failed(summary)


def _progress(settings: Settings) -> TerminalProgress | None:
    """Bars for a person at a terminal; none for a service or JSON lines."""
    if sys.stderr.isatty() and settings.log_format != "json":
        return TerminalProgress()
    return None


def _exit_if_failed(summary: RunSummary) -> None:
    """One `error:` line per distinct problem, naming its logs; exit with the gravest code.

    A failing log does not stop the others, so its error lives in the summary, not in an
    exception: without this, a bad key (403) or a bad query (400) on every log would exit
    1 with nothing on stderr but log lines.
    """
    if not summary.failed:
        return
    by_message: dict[str, list[str]] = {}
    for log in summary.failed:
        by_message.setdefault(log.message or "failed", []).append(log.log.name)
    for message, names in by_message.items():
        typer.echo(f"error: {', '.join(names)}: {message}", err=True)
    codes = [exit_code(log.error) for log in summary.failed if log.error is not None]
    raise typer.Exit(max(codes) or 1)


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
            table.add_row(escape(log.id), escape(log.name), escape(", ".join(log.logsets)))
        out.print(table)

    guarded(body)


@app.command()
def check(api_key: ApiKeyOption = None) -> None:
    """Validate the configuration, reach the API, and confirm the key and the logs."""

    def body() -> None:
        settings = _settings(api_key, require_output=True)
        out.print(f"configuration ok; endpoint {settings.endpoint}", markup=False)
        with build_client(settings, threading.Event()) as client:
            chosen = resolve_logs(client, settings.rapid7_log_ids)
        out.print(f"API reached and key accepted; {len(chosen)} log(s) to ingest:")
        for log in chosen:
            out.print(f"  {log.id}  {log.name}", markup=False)
        if settings.resolved_table_format == "delta":
            check_lake(settings)
            out.print(
                f"Delta output reachable, conditional writes honoured: {settings.output_dir}",
                markup=False,
            )
            return
        _check_output(settings.output_dir)
        out.print(f"output folder writable: {settings.output_dir}", markup=False)

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
        print_state(out, build_store(settings).list(), now_ms())

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
        store = build_store(settings)
        with store.exclusive():
            _reset(store, log, from_)

    guarded(body)


def _reset(store: CheckpointStore, log: str, from_: str | None) -> None:
    from_ms = parse_time(from_, now_ms=now_ms()) if from_ else 0
    wanted = log.lower()
    matches = [cp for cp in store.list() if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not matches:
        raise ConfigError(f"--log: no checkpoint for {log!r}; `log-ingestion state` lists them")
    for checkpoint in matches:
        store.save(checkpoint.rewound(from_ms))
        if from_:
            said = f"forgot what was committed from {format_ms(from_ms)}; the next run ingests it again, replacing its files"
        else:
            said = "forgot every committed window; the next run starts at --from, or at START_TIME when none is given, replacing files it rewrites"
        out.print(f"{checkpoint.log_name}: {said}", markup=False)


# -- demo and emulator -------------------------------------------------------------------


@app.command()
def demo(
    output: Annotated[Path, typer.Option(help="Folder for the Parquet tables.")] = Path(
        "demo-output"
    ),
    events_per_log: Annotated[
        int, typer.Option(min=1, help="Sample events in each of the 6 logs.")
    ] = 20_000,
    lake: Annotated[
        bool, typer.Option("--lake", help="Into Delta tables on a local S3 server (SeaweedFS).")
    ] = False,
) -> None:
    """Start the bundled emulator, ingest its sample logs, print a summary and rows read back."""
    if lake:
        _exit_if_failed(
            guarded(lambda: run_lake_demo(out, events_per_log, _start_logging, _progress))
        )
        return

    def body() -> RunSummary:
        dataset = sample.sample_dataset(events_per_log)
        with sample.start_emulator(dataset) as emulator:
            settings = sample.demo_settings(emulator.url, output, log_level="WARNING")
            _start_logging(settings)
            out.print(f"emulator serving 6 sample logs at {emulator.url}; ingesting into {output}/")
            request = build_request(
                settings, str(dataset.start_ms), str(dataset.end_ms), rescan=True
            )
            return execute(settings, request, progress=_progress(settings))

    summary = guarded(body)
    print_summary(out, summary)
    sample.show_rows(out, summary, output)
    _exit_if_failed(summary)


app.command("emulator")(emulator_command)


def main() -> None:
    process.install_signal_handlers()
    app()
