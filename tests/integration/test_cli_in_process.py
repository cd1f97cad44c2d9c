"""The CLI and follow mode driven in this process (CliRunner, a fixed clock).

The subprocess tests run the CLI exactly as a user does; these run the same commands
where the test process can see inside them: the follow loop with a clock of our choosing,
and the summary, without interpreter start-up per command.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from tests.integration.conftest import FAST_ENV, Harness, HarnessFactory, small
from typer.testing import CliRunner

from log_ingestion import cli, metrics
from log_ingestion.cli import app
from log_ingestion.config import Settings
from log_ingestion.emulator import DEFAULT_API_KEY
from log_ingestion.ingest import follow, resolve_logs, run_once
from log_ingestion.models import LogInfo
from log_ingestion.pipeline import RunSummary
from log_ingestion.schedule import Request
from log_ingestion.state import JsonCheckpointStore
from log_ingestion.wiring import Pieces, assemble

QUARTER = 900_000


@pytest.fixture
def env(harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The variables a user would export, and a working folder with no stray .env."""
    return user_env(harness, monkeypatch, tmp_path)


def user_env(harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {
        "RAPID7_API_KEY": DEFAULT_API_KEY,
        "RAPID7_API_ENDPOINT": harness.emulator.url,
        "OUTPUT_DIR": str(harness.output),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        **FAST_ENV,
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_run_then_state_then_reset(harness: Harness, env: dict[str, str]) -> None:
    """run lands every event, state shows it, reset --from rewinds, a rerun adds nothing twice."""
    span = ("--from", str(harness.start_ms), "--to", str(harness.end_ms))
    code, output = invoke(env, "run", *span, "--logs", "app-kv")
    assert (code, "1 logs, 200 events" in output) == (0, True)
    code, output = invoke(env, "state")
    assert (code, "app-kv" in output) == (0, True)
    code, _ = invoke(
        env, "state", "reset", "--log", "APP-KV", "--from", str(harness.start_ms + QUARTER)
    )
    assert code == 0
    code, _ = invoke(env, "run", "--logs", "app-kv", "--to", str(harness.end_ms))
    assert code == 0
    assert harness.landed("app-kv") == harness.truth("app-kv")


def test_logs_and_check(env: dict[str, str]) -> None:
    """logs lists the sample logs; check confirms key, logs and output folder."""
    code, output = invoke(env, "logs")
    assert (code, "firewall-traffic" in output) == (0, True)
    code, output = invoke(env, "check")
    assert (code, "output folder writable" in output) == (0, True)


def test_metrics_file_is_written_after_a_run(
    harness: Harness, env: dict[str, str], tmp_path: Path
) -> None:
    """--metrics-file leaves a Prometheus textfile with the landed events."""
    target = tmp_path / "metrics" / "run.prom"
    span = ("--from", str(harness.start_ms), "--to", str(harness.end_ms))
    code, _ = invoke(env, "run", *span, "--logs", "syslog-text", "--metrics-file", str(target))
    assert code == 0
    assert 'log_ingestion_events_total{log="syslog-text"}' in target.read_text()


def follow_for_a_second(
    settings: Settings, logs: list[LogInfo], start_ms: int | None, now: float
) -> RunSummary:
    """Follow mode on a clock stopped at `now`, stopped after one second (one cycle)."""
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    try:
        with assemble(settings, stop, clock=lambda: now) as pieces:
            request = Request(end_ms=0, start_ms=start_ms, lag_ms=settings.follow_lag_ms)
            return follow(pieces, logs, request)
    finally:
        timer.cancel()


def app_kv(pieces: Pieces) -> list[LogInfo]:
    return [log for log in resolve_logs(pieces.client, []) if log.name == "app-kv"]


def test_follow_ingests_closed_windows_then_stops(harness: Harness) -> None:
    """Follow mode commits every window closed by the lag, sleeps, and ends on stop."""
    settings = harness.settings(follow_lag="1m")
    now = (harness.end_ms + 60_000) / 1000  # the dataset's last window closed a minute ago
    with assemble(settings, threading.Event()) as pieces:
        logs = app_kv(pieces)
    summary = follow_for_a_second(settings, logs, harness.start_ms, now)
    assert summary.interrupted
    assert summary.logs[0].counts.committed == 4
    assert harness.landed("app-kv") == harness.truth("app-kv")
    assert JsonCheckpointStore(settings.resolved_state_dir).load(logs[0].id).committed == (
        (harness.start_ms, harness.end_ms),
    )


def test_rescanning_recent_windows_lands_late_events_once(harness: Harness) -> None:
    """An event arriving after its window was committed lands once the window is read again."""
    settings = harness.settings()
    stop = threading.Event()
    with assemble(settings, stop) as pieces:
        logs = app_kv(pieces)
        run_once(pieces, logs, harness.request())
        harness.emulator.append(logs[0].id, ["late=1 msg=arrived"], timestamp_ms=harness.end_ms - 1)
        resume = replace(harness.request(), start_ms=None)
        run_once(pieces, logs, resume)
        missed_without_rescan = harness.landed("app-kv") != harness.truth("app-kv")
        run_once(pieces, logs, replace(resume, rescan_from_ms=harness.end_ms - QUARTER))
    assert missed_without_rescan
    assert harness.landed("app-kv") == harness.truth("app-kv")


def test_follow_rescan_setting_reads_the_last_windows_again(harness: Harness) -> None:
    """FOLLOW_RESCAN=1 makes each follow cycle re-read the newest committed window."""
    settings = harness.settings(follow_lag="1m", follow_rescan=1)
    now = (harness.end_ms + 60_000) / 1000
    with assemble(settings, threading.Event()) as pieces:
        logs = app_kv(pieces)
        run_once(pieces, logs, harness.request())
    harness.emulator.append(logs[0].id, ["late=2 msg=arrived"], timestamp_ms=harness.end_ms - 1)
    summary = follow_for_a_second(settings, logs, None, now)
    assert summary.logs[0].counts.committed == 1
    assert harness.landed("app-kv") == harness.truth("app-kv")


def test_a_bug_is_one_redacted_json_line_with_its_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unexpected exception that carries the key: exit 1, one JSON object, key cut out."""

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom with {DEFAULT_API_KEY} inside")

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("log_ingestion.ingest.execute", broken)

    code = cli.invoke(["run", "--to", "now"])

    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert (code, record["event"], record["error"]) == (
        1,
        "crash",
        "unexpected RuntimeError: boom with *** inside",
    )
    assert "Traceback" in record["traceback"]
    assert DEFAULT_API_KEY not in line


def test_verify_finds_a_lost_file_and_a_stray_then_repairs_both(
    make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """verify exits 1 naming both windows; --api --repair re-ingests them; verify passes."""
    # 1,250 events a window, past a row group of 1,000 rows: a window, a commit and a file
    harness = make_harness(small(events_per_log=5_000))
    env = user_env(harness, monkeypatch, tmp_path) | {"ROW_GROUP_ROWS": "1000"}
    harness.ingest(rapid7_log_ids=["app-kv"], row_group_rows=1000)
    files = sorted(harness.table_dir("app-kv").glob("date=*/*.parquet"))
    files[0].unlink()
    shutil.copy(files[1], files[1].with_name("stray.parquet"))

    found, listed = invoke(env, "verify")
    repaired, _ = invoke(env, "verify", "--api", "--repair")
    again, said = invoke(env, "verify", "--log", "app-kv", "--from", str(harness.start_ms))

    assert (found, repaired, again) == (1, 0, 0)
    assert "2 of 4 committed windows of 1 logs differ" in listed
    assert "all 4 committed windows of 1 logs match the table" in said
    assert harness.landed("app-kv") == harness.truth("app-kv")


def test_a_follow_cycle_that_fails_is_retried_not_fatal(harness: Harness) -> None:
    """While every query fails, follow mode counts failed cycles and keeps going until the
    stop; the summary it ends with carries no error (the stop is not a failure)."""
    settings = harness.settings(follow_lag="1m", retry_attempts=0)
    now = (harness.end_ms + 60_000) / 1000
    harness.emulator.faults.error_rates = dict.fromkeys(("start", "poll", "next"), 1.0)
    before = metrics.REGISTRY.get_sample_value("log_ingestion_follow_failed_cycles_total") or 0.0
    with assemble(settings, threading.Event()) as pieces:
        logs = app_kv(pieces)

    summary = follow_for_a_second(settings, logs, harness.start_ms, now)

    after = metrics.REGISTRY.get_sample_value("log_ingestion_follow_failed_cycles_total") or 0.0
    assert (summary.interrupted, summary.failed, after > before) == (True, [], True)
