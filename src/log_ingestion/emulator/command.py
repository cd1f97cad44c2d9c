"""`log-ingestion emulator`: run the Log Search emulator on 127.0.0.1 until Ctrl-C.

`cli.py` registers it with `app.command("emulator")(emulator)`. Options map one to one
onto `Dataset`, `Faults` and `Emulator` arguments; nothing else is read from the
environment except the emulator's own fake key, `EMULATOR_API_KEY`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated

import typer

from log_ingestion import process
from log_ingestion.emulator.defaults import ANCHOR_MS, DAY_MS, DEFAULT_API_KEY

_KNOBS = "Fault knobs"
_DATA = "Sample data"


def _epoch_ms(text: str | None) -> int:
    if text is None:
        return ANCHOR_MS
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-01-01T00:00:00Z")
    return int(moment.timestamp() * 1000)


def emulator(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")
    ] = 8080,
    api_key: Annotated[
        str, typer.Option(envvar="EMULATOR_API_KEY", help="The emulator's own fake API key.")
    ] = DEFAULT_API_KEY,
    seed: Annotated[int, typer.Option(help="Seed of the sample data and of fault randomness.")] = 0,
    events_per_log: Annotated[int, typer.Option(rich_help_panel=_DATA)] = 10_000,
    start: Annotated[
        str | None, typer.Option(help="First event time (ISO 8601).", rich_help_panel=_DATA)
    ] = None,
    span_hours: Annotated[float, typer.Option(rich_help_panel=_DATA)] = DAY_MS / 3_600_000,
    polls_before_ready: Annotated[int, typer.Option(rich_help_panel=_KNOBS)] = 1,
    ready_after_seconds: Annotated[
        float,
        typer.Option(help="A query is ready no sooner than this.", rich_help_panel=_KNOBS),
    ] = 0.0,
    next_polls_before_ready: Annotated[int, typer.Option(rich_help_panel=_KNOBS)] = 0,
    next_ready_after_seconds: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    immediate_probability: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    error_rate: Annotated[
        float, typer.Option(help="5xx fraction of start/poll/next calls.", rich_help_panel=_KNOBS)
    ] = 0.0,
    drop_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    truncate_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    html_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    content_type_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    slow_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    slow_seconds: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.5,
    stall_rate: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 0.0,
    stall_seconds: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 30.0,
    lowercase_rels: Annotated[bool, typer.Option(rich_help_panel=_KNOBS)] = False,
    round_sequence_numbers: Annotated[bool, typer.Option(rich_help_panel=_KNOBS)] = False,
    live_append_per_page: Annotated[int, typer.Option(rich_help_panel=_KNOBS)] = 0,
    next_loop_at_page: Annotated[
        int,
        typer.Option(help="From this page on, Next links repeat the page.", rich_help_panel=_KNOBS),
    ] = 0,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per window per key and family.", rich_help_panel=_KNOBS)
    ] = 1_000_000,
    rate_window_seconds: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 900.0,
    rate_reset_epoch: Annotated[
        bool, typer.Option(help="X-RateLimit-Reset as epoch seconds.", rich_help_panel=_KNOBS)
    ] = False,
    query_ttl_seconds: Annotated[float, typer.Option(rich_help_panel=_KNOBS)] = 600.0,
    max_timeslice: Annotated[
        int, typer.Option(help="Most buckets timeslice(N) may ask for.", rich_help_panel=_KNOBS)
    ] = 1000,
    run_for: Annotated[
        float, typer.Option(hidden=True, help="Stop after this many seconds (tests).")
    ] = 0.0,
) -> None:
    """Serve the Rapid7 Log Search API emulator on 127.0.0.1 until Ctrl-C."""
    from log_ingestion.emulator.dataset import Dataset
    from log_ingestion.emulator.faults import Faults
    from log_ingestion.emulator.server import Emulator

    dataset = Dataset(
        seed=seed,
        events_per_log=events_per_log,
        start_ms=_epoch_ms(start),
        span_ms=max(1, int(span_hours * 3_600_000)),
    )
    faults = Faults(
        seed=seed,
        polls_before_ready=polls_before_ready,
        ready_after_seconds=ready_after_seconds,
        next_polls_before_ready=next_polls_before_ready,
        next_ready_after_seconds=next_ready_after_seconds,
        immediate_probability=immediate_probability,
        error_rates=dict.fromkeys(("start", "poll", "next"), error_rate),
        drop_rate=drop_rate,
        truncate_rate=truncate_rate,
        html_rate=html_rate,
        content_type_rate=content_type_rate,
        slow_rate=slow_rate,
        slow_seconds=slow_seconds,
        stall_rate=stall_rate,
        stall_seconds=stall_seconds,
        lowercase_rels=lowercase_rels,
        round_sequence_numbers=round_sequence_numbers,
        live_append_per_page=live_append_per_page,
        next_loop_at_page=next_loop_at_page,
        rate_limit=rate_limit,
        rate_window_seconds=rate_window_seconds,
        rate_reset_format="epoch" if rate_reset_epoch else "delta",
        query_ttl_seconds=query_ttl_seconds,
        max_timeslice=max_timeslice,
    )
    server = Emulator(dataset, api_keys={api_key: None}, faults=faults, port=port).start()
    typer.echo(server.url)
    for store in dataset.logs.values():
        typer.echo(f"  log {store.id}  {store.name}  ({store.count} events)", err=True)
    if run_for > 0:
        threading.Timer(run_for, server.stop).start()
    try:
        server.wait(until=process.STOP)  # the first SIGINT/SIGTERM sets it
        if process.STOP.is_set():
            typer.echo("stopping", err=True)
    except KeyboardInterrupt:  # run without the command's signal handlers
        typer.echo("stopping", err=True)
    finally:
        server.stop()
