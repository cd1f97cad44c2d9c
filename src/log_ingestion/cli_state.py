"""The `state` and `verify` commands: what each log's checkpoint says, rewinding it, and
whether the tables hold what the checkpoints committed.

Registered on the app by `cli`, whose helpers (`settings_for`, `guarded`, `out`) they
import when they run. `ApiKeyOption` lives here so that `cli` can import it at start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from log_ingestion.errors import ConfigError

if TYPE_CHECKING:
    from log_ingestion.audit import Count
    from log_ingestion.config import Settings
    from log_ingestion.state import CheckpointStore

state_app = typer.Typer(
    help="Show or rewind what each log has committed.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", hidden=True, help="Refused: use RAPID7_API_KEY.")
]


@state_app.callback()
def state_show(ctx: typer.Context, api_key: ApiKeyOption = None) -> None:
    """Show, per log, what is committed and how far behind now it is."""
    if ctx.invoked_subcommand is not None:
        return

    from log_ingestion import cli

    def body() -> None:
        from log_ingestion.report import print_state
        from log_ingestion.timeparse import now_ms
        from log_ingestion.wiring import build_store

        settings = cli.settings_for(api_key, require_output=True)
        print_state(cli.out(), build_store(settings).list(), now_ms())

    cli.guarded(body)


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
    from log_ingestion import cli

    def body() -> None:
        from log_ingestion.wiring import build_store

        settings = cli.settings_for(api_key, require_output=True)
        store = build_store(settings)
        with store.exclusive():
            _reset(store, log, from_)

    cli.guarded(body)


def _reset(store: CheckpointStore, log: str, from_: str | None) -> None:
    from log_ingestion import cli
    from log_ingestion.timeparse import format_ms, now_ms, parse_time

    from_ms = parse_time(from_, now_ms=now_ms()) if from_ else 0
    wanted = log.lower()
    matches = [cp for cp in store.list() if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not matches:
        raise ConfigError(f"--log: no checkpoint for {log!r}; `log-ingestion state` lists them")
    for checkpoint in matches:
        store.rewind(checkpoint.log_id, from_ms)
        if from_:
            said = f"forgot what was committed from {format_ms(from_ms)}; the next run ingests it again, replacing its files"
        else:
            said = "forgot every committed window; the next run starts at --from, or at START_TIME when none is given, replacing files it rewrites"
        cli.out().print(f"{checkpoint.log_name}: {said}", markup=False)


# -- verify ------------------------------------------------------------------------------


def verify(
    log: Annotated[str | None, typer.Option("--log", help="Log id or name (default: all).")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Windows from this time on (default: all).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Windows before this time.")] = None,
    api: Annotated[bool, typer.Option("--api", help="Compare with the API's count too.")] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="Ingest the windows that differ again.")
    ] = False,
    api_key: ApiKeyOption = None,
) -> None:
    """Compare each committed window's rows in the table with the checkpoint (and the API);
    list the windows that differ (exit 1), or re-ingest exactly those with --repair."""
    from log_ingestion import cli

    def body() -> bool:
        from log_ingestion import audit
        from log_ingestion.report import print_verdicts

        settings = cli.settings_for(api_key, require_output=True, require_key=api or repair)
        scope = audit.Scope(log, *_range(from_, to))
        with _counting(settings, api) as count:
            verdicts = audit.verify(settings, scope, count)
            print_verdicts(cli.out(), verdicts)
            if not repair or all(verdict.ok for verdict in verdicts):
                return all(verdict.ok for verdict in verdicts)
            sent = audit.repair(settings, verdicts)
            cli.out().print(f"ingested {len(sent)} windows again; verifying again", markup=False)
            verdicts = audit.verify(settings, scope, count)
            print_verdicts(cli.out(), verdicts)
            return all(verdict.ok for verdict in verdicts)

    if not cli.guarded(body):
        raise typer.Exit(1)


def _range(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    from log_ingestion.timeparse import now_ms, parse_range

    return parse_range(from_, to, now_ms=now_ms())


@contextlib.contextmanager
def _counting(settings: Settings, api: bool) -> Iterator[Count | None]:
    """The API's count of a log's window (`--api`), or None. A window the API cannot count
    exactly (an estimate, a count query that failed) is not compared with it."""
    if not api:
        yield None
        return
    from log_ingestion import process
    from log_ingestion.pipeline.verify import count_or_none
    from log_ingestion.wiring import build_client

    with build_client(settings, process.STOP) as client:
        yield lambda checkpoint, window: count_or_none(
            lambda: client.count(checkpoint.log_id, window, settings.rapid7_query)
        )
