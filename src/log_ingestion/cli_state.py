"""The `state` commands: what each log's checkpoint says, and rewinding it.

Registered on the app by `cli`, whose helpers (`settings_for`, `guarded`, `out`) they
import when they run. `ApiKeyOption` lives here so that `cli` can import it at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from log_ingestion.errors import ConfigError

if TYPE_CHECKING:
    from log_ingestion.state import JsonCheckpointStore

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
        from log_ingestion.state import JsonCheckpointStore
        from log_ingestion.timeparse import now_ms

        settings = cli.settings_for(api_key, require_output=True)
        print_state(cli.out(), JsonCheckpointStore(settings.resolved_state_dir).list(), now_ms())

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
        from log_ingestion.state import JsonCheckpointStore

        settings = cli.settings_for(api_key, require_output=True)
        store = JsonCheckpointStore(settings.resolved_state_dir)
        with store.exclusive():
            _reset(store, log, from_)

    cli.guarded(body)


def _reset(store: JsonCheckpointStore, log: str, from_: str | None) -> None:
    from log_ingestion import cli
    from log_ingestion.timeparse import format_ms, now_ms, parse_time

    wanted = log.lower()
    matches = [cp for cp in store.list() if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not matches:
        raise ConfigError(f"--log: no checkpoint for {log!r}; `log-ingestion state` lists them")
    from_ms = parse_time(from_, now_ms=now_ms()) if from_ else 0
    for checkpoint in matches:
        store.save(checkpoint.rewound(from_ms))
        if from_:
            said = f"forgot what was committed from {format_ms(from_ms)}; the next run ingests it again, replacing its files"
        else:
            said = "forgot every committed window; the next run starts at --from, or at START_TIME when none is given, replacing files it rewrites"
        cli.out().print(f"{checkpoint.log_name}: {said}", markup=False)
