"""The command line: commands only. Settings -> wiring -> run; error types -> exit codes.

Exit codes: 0 success (also after a graceful stop), 1 runtime failure (and `verify`
finding windows that differ), 2 configuration or usage, 3 authentication or permission,
4 storage, 130 stopped by a second signal.

Only the command line library is imported here at start: each command imports what it
needs, so `--help` and `--version` answer at once and a stop during start-up is seen
early. Every line printed on stderr goes through `notices` (redacted, JSON when the log
lines are JSON).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from log_ingestion import cli_demo, cli_maintenance, cli_state, notices, process
from log_ingestion.cli_state import ApiKeyOption
from log_ingestion.emulator.command import emulator as emulator_command
from log_ingestion.errors import ConfigError, LogIngestionError, StopRequestedError, exit_code

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from log_ingestion.config import Settings
    from log_ingestion.pipeline import RunSummary
    from log_ingestion.progress import TerminalProgress

__all__ = ["app", "exit_code", "main"]

# Plain help (no rich panels): flags show no `<bool>`, and rich is not imported for it.
app = typer.Typer(
    name="log-ingestion",
    help="Pull log events from the Rapid7 Log Search API into analytics-ready Parquet.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Piped output (a script, grep) has no width: rich would assume 80 columns and cut log
# names, table folders and committed ranges with "…". A terminal keeps its own width.
PIPED_WIDTH = 240
T = TypeVar("T")

FOLLOW_WITH_TO = (
    "--to: --follow runs until stopped and takes no --to; drop --to, or drop --follow to stop "
    "at --to"
)

KEY_ON_COMMAND_LINE = (
    "--api-key: the API key is never taken on the command line (it would be visible in the "
    "process list and shell history); set RAPID7_API_KEY or RAPID7_API_KEY_FILE instead"
)


@cache
def out() -> Console:
    """The console of stdout, made on first use (rich is not imported for `--help`)."""
    from rich.console import Console

    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _fail(exc: LogIngestionError) -> typer.Exit:
    if not isinstance(exc, StopRequestedError):  # a stop is no error: exit 0, nothing said
        _prepare_notices()
        notices.error(str(exc) or type(exc).__name__)
    return typer.Exit(exit_code(exc))


def _prepare_notices() -> None:
    """Before the first line on stderr of a command that failed before its settings were
    read (a usage error, a missing key): the format LOG_FORMAT asks for, and the secrets to
    redact, from what of the configuration can be read; `auto` when nothing can."""
    if notices.configured():
        return
    from log_ingestion.config import load_settings

    try:
        settings = load_settings(require_key=False)
    except LogIngestionError:
        return
    as_json = notices.wants_json(settings.log_format, sys.stderr)
    notices.configure(as_json=as_json, secrets=settings.secret_values())


def guarded(action: Callable[[], T]) -> T:
    """Run a command body (in a worker thread: the main thread stays free for signals),
    turning our errors into one readable line and an exit code."""
    try:
        return process.in_worker(action)
    except LogIngestionError as exc:
        raise _fail(exc) from None


def settings_for(
    api_key: str | None, *, require_output: bool = False, require_key: bool = True
) -> Settings:
    if api_key is not None:
        raise ConfigError(KEY_ON_COMMAND_LINE)
    from log_ingestion.config import load_settings

    settings = load_settings(require_output=require_output, require_key=require_key)
    start_logging(settings)
    return settings


def start_logging(settings: Settings) -> None:
    """Configure logging once, with every secret as a value no line may carry; start a
    trace. A stop asked for while starting ends the command here (exit 0)."""
    from log_ingestion.logging import configure_logging, start_trace

    configure_logging(settings.log_level, settings.log_format, secrets=settings.secret_values())
    start_trace()
    process.logging_configured()
    if process.STOP.is_set():
        raise StopRequestedError("stopped while starting")


def _version(value: bool) -> None:
    if value:
        from log_ingestion import __version__

        typer.echo(f"log-ingestion {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Configuration comes from the environment and `.env`; see `.env.example`."""
    if ctx.invoked_subcommand is None:  # no command: the help, as a usage error
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


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
ShardOption = Annotated[
    str | None,
    typer.Option("--shard", help="K/N: ingest only the logs of shard K of N (default SHARD)."),
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
    shard: ShardOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Ingest a time range (or resume from the checkpoints) into Parquet."""

    def body() -> RunSummary:
        from log_ingestion import metrics

        settings = _run_settings(api_key, logs, shard, follow_to=follow_mode and to != "now")
        if metrics_file is not None:
            metrics.write_textfile(metrics_file)  # a path that cannot be written fails now
        with metrics.serving(metrics_port, metrics_host):
            from log_ingestion.ingest import execute
            from log_ingestion.wiring import build_request

            request = build_request(settings, from_, to, rescan=rescan)
            return execute(
                settings, request, follow_mode=follow_mode, progress=progress_for(settings)
            )

    try:
        summary = guarded(body)
    except Exception:  # the run's own exit (its line already said) wins over the file's
        with contextlib.suppress(typer.Exit):
            _write_metrics(metrics_file)
        raise
    _write_metrics(metrics_file)
    from log_ingestion.report import print_summary

    print_summary(out(), summary)
    exit_if_failed(summary)


def _write_metrics(path: Path | None) -> None:
    """The metrics textfile, when `--metrics-file` asks for it (also after a failed run)."""
    if path is not None:
        from log_ingestion import metrics

        guarded(lambda: metrics.write_textfile(path))


def _run_settings(
    api_key: str | None, logs: str | None, shard: str | None, *, follow_to: bool
) -> Settings:
    """The settings, with what `--logs` and `--shard` say over what the environment does;
    `follow_to`: both `--follow` and `--to` were given."""
    from log_ingestion.shard import parse_shard

    if follow_to:
        raise ConfigError(FOLLOW_WITH_TO)
    settings = settings_for(api_key, require_output=True)
    if logs is not None:
        settings.rapid7_log_ids = [part.strip() for part in logs.split(",") if part.strip()]
    if shard is not None:
        settings.shard = str(parse_shard(shard, option="--shard"))
    return settings


def progress_for(settings: Settings) -> TerminalProgress | None:
    """Bars for a person at a terminal; none for a service or JSON lines."""
    if sys.stderr.isatty() and settings.log_format != "json":
        from log_ingestion.progress import TerminalProgress

        return TerminalProgress()
    return None


def exit_if_failed(summary: RunSummary) -> None:
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
        notices.error(f"{', '.join(names)}: {message}")
    codes = [exit_code(log.error) for log in summary.failed if log.error is not None]
    raise typer.Exit(max(codes) or 1)


# -- logs and check --------------------------------------------------------------------


ShardsOption = Annotated[
    int | None,
    typer.Option(min=1, max=1024, help="Show each log's shard of this many (default: SHARD's N)."),
]


@app.command("logs")
def list_logs(shards: ShardsOption = None, api_key: ApiKeyOption = None) -> None:
    """List the logs this key can see: id, name, log sets, and shard."""

    def body() -> None:
        from rich.markup import escape
        from rich.table import Table

        from log_ingestion.shard import shard_of
        from log_ingestion.wiring import build_client

        settings = settings_for(api_key)
        count = shards or (settings.shard_of_logs.count if settings.shard_of_logs else None)
        with build_client(settings, process.STOP) as client:
            found = client.list_logs()
        table = Table("id", "name", "log sets", *([f"shard of {count}"] if count else []))
        for log in found:
            shard = [str(shard_of(log.id, count))] if count else []
            table.add_row(escape(log.id), escape(log.name), escape(", ".join(log.logsets)), *shard)
        out().print(table)

    guarded(body)


@app.command()
def check(api_key: ApiKeyOption = None) -> None:
    """Validate the configuration, reach the API, and confirm the key and the logs."""

    def body() -> None:
        from log_ingestion.ingest import resolve_logs
        from log_ingestion.wiring import build_client

        settings = settings_for(api_key, require_output=True)
        out().print(f"configuration ok; endpoint {settings.endpoint}", markup=False)
        with build_client(settings, process.STOP) as client:
            chosen = resolve_logs(client, settings.rapid7_log_ids, settings.shard_of_logs)
        shard = f" (shard {settings.shard})" if settings.shard else ""
        out().print(f"API reached and key accepted; {len(chosen)} log(s) to ingest{shard}:")
        for log in chosen:
            out().print(f"  {log.id}  {log.name}", markup=False)
        if settings.resolved_table_format == "delta":
            from log_ingestion.wiring import check_lake

            check_lake(settings)
            out().print(
                f"Delta output reachable, conditional writes honoured: {settings.output_dir}",
                markup=False,
            )
            return
        _check_output(settings.output_dir)
        out().print(f"output folder writable: {settings.output_dir}", markup=False)

    guarded(body)


def _check_output(output_dir: str) -> None:
    """What `run` would meet at its first write: a storage error (exit 4), as there."""
    from log_ingestion.errors import StorageError

    path = Path(output_dir)
    if path.exists() and not path.is_dir():
        raise StorageError(f"OUTPUT_DIR: {output_dir} is a file; point it at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StorageError(f"OUTPUT_DIR: {output_dir} is not writable ({exc.strerror})") from None


# -- commands in their own modules ------------------------------------------------------


app.command("emulator")(emulator_command)
app.add_typer(cli_state.state_app, name="state")
app.command("verify")(cli_state.verify)
app.command("compact")(cli_maintenance.compact)
app.command("demo")(cli_demo.demo)


# -- the process -------------------------------------------------------------------------


def main(args: list[str] | None = None) -> None:
    """Run the command line and exit with its code; signal handlers first."""
    process.install_signal_handlers()
    if process.STOP.is_set():
        sys.exit(0)
    sys.exit(invoke(sys.argv[1:] if args is None else args))


def invoke(args: list[str]) -> int:
    """The exit code of one command; usage errors and bugs become `notices` lines too."""
    try:
        code: Any = app(args=args, standalone_mode=False)
    except typer.TyperException as exc:  # usage: unknown option, bad value, missing one
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        _prepare_notices()
        notices.error(f"{exc.format_message()}{hint}")
        return exc.exit_code
    except typer.Abort:
        notices.error("aborted")
        return 1
    except Exception as exc:  # a bug: its traceback, redacted like every other line
        _prepare_notices()
        notices.crash(exc, "".join(traceback.format_exception(exc)))
        return 1
    return code if isinstance(code, int) else 0
