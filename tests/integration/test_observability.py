"""Observability of a real run (the CLI in its own process, against the emulator): JSON log
lines with trace, log, window and request context; one summary per window and per run;
metrics as a textfile and over HTTP; the API key nowhere."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from log_ingestion.emulator import Dataset, Emulator, Faults

from ..support.measured import coverage_env

EmulatorFactory = Callable[..., Emulator]
SECRET_KEY = "obs-test-key-7f3a9c21d04e4b6f"
LOGS = ("firewall-traffic", "idr-auth-json")
HOUR_MS = 3_600_000
TIMEOUT = 60
FOLLOW = (sys.executable, "-m", "log_ingestion", "run", "--follow")


def cli_env(emulator: Emulator, output: Path, **settings: str) -> dict[str, str]:
    """Only what the CLI needs, so the caller's own settings never leak in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **coverage_env(),
        "LANG": "C.UTF-8",
        "RAPID7_API_KEY": SECRET_KEY,
        "RAPID7_API_ENDPOINT": emulator.url,
        "RAPID7_LOG_IDS": ",".join(LOGS),
        "OUTPUT_DIR": str(output),
        "POLL_INTERVAL": "0.01",
        "RATE_LIMIT": "100000",
        "RETRY_WAIT_INITIAL": "0.01",
        "RETRY_WAIT_MAX": "0.05",
        "WINDOW_SIZE": "30m",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }
    env.update({name.upper(): value for name, value in settings.items()})
    return env


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "log_ingestion", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def lines(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line, each of which must be one JSON object."""
    return [json.loads(line) for line in stderr.splitlines()]


def events(stderr: str, name: str) -> list[dict[str, Any]]:
    return [line for line in lines(stderr) if line["event"] == name]


def metric_values(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one metric in the text exposition format."""
    values = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series[len(name) :]] = float(value)
    return values


def one_hour(**options: Any) -> Dataset:
    return Dataset(events_per_log=600, span_ms=HOUR_MS, **options)


def test_json_lines_carry_trace_log_window_and_request_context(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Every line is JSON with the run's trace_id; window lines carry log and window; each
    request has its own request_id; window and run summaries add up to what landed."""
    data = one_hour()
    emulator = make_emulator(data, api_keys={SECRET_KEY: None})
    env = cli_env(emulator, tmp_path / "out")
    textfile = tmp_path / "metrics" / "log_ingestion.prom"

    result = run_cli(
        tmp_path,
        env,
        "run",
        "--from",
        str(data.start_ms),
        "--to",
        str(data.start_ms + HOUR_MS),
        "--metrics-file",
        str(textfile),
    )

    assert result.returncode == 0, result.stderr[-2000:]
    everything = lines(result.stderr)
    assert len({line["trace_id"] for line in everything}) == 1
    windows = events(result.stderr, "window.done")
    assert len(windows) == len(LOGS)  # one query reads both windows: one commit per log
    for window in windows:
        assert window["log_name"] in LOGS
        assert window["window_end"] - window["window_start"] == HOUR_MS
        assert (window["windows"], window["committed"]) == (2, True)
        assert {"log_id", "rows", "pages", "polls", "retries", "rate_limited", "bytes"} <= set(
            window
        )
        assert window["seconds"] > 0
    # requests shared by the logs of one query are counted on one of their lines
    assert sum(window["requests"] for window in windows) >= sum(
        window["pages"] + 1 for window in windows[:1]
    )
    requests = events(result.stderr, "api.request")
    assert len({line["request_id"] for line in requests}) == len(requests)
    assert {"management", "start", "poll"} <= {line["kind"] for line in requests}
    in_windows = [line for line in requests if "window_start" in line]
    assert sum(window["requests"] for window in windows) == len(in_windows)
    [done] = events(result.stderr, "run.done")
    landed = sum(data.count(data.log_id(name)) for name in LOGS)
    assert done["outcome"] == "ok"
    assert done["events"] == sum(window["rows"] for window in windows) == landed
    assert done["requests"] == len(requests)
    assert "log-ingestion summary" in result.stdout
    assert not result.stdout.lstrip().startswith("{")
    prom = textfile.read_text()
    assert metric_values(prom, "log_ingestion_runs_total") == {'{outcome="ok"}': 1.0}
    assert sum(metric_values(prom, "log_ingestion_events_total").values()) == landed
    assert SECRET_KEY not in result.stdout + result.stderr + prom


def test_retries_are_counted_in_window_lines_run_line_and_metrics(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """With 5xx answers injected, every retry shows up once in each place that counts it."""
    data = one_hour()
    faults = Faults(seed=3, error_rates={"start": 0.3, "poll": 0.3, "next": 0.3})
    emulator = make_emulator(data, api_keys={SECRET_KEY: None}, faults=faults)
    env = cli_env(emulator, tmp_path / "out", retry_attempts="8", log_level="INFO")
    textfile = tmp_path / "metrics.prom"

    result = run_cli(
        tmp_path,
        env,
        "run",
        "--from",
        str(data.start_ms),
        "--to",
        str(data.start_ms + HOUR_MS),
        "--metrics-file",
        str(textfile),
    )

    assert result.returncode == 0, result.stderr[-2000:]
    [done] = events(result.stderr, "run.done")
    windows = events(result.stderr, "window.done")
    scheduled = events(result.stderr, "api.retry_scheduled")
    retries = sum(metric_values(textfile.read_text(), "log_ingestion_api_retries_total").values())
    assert done["retries"] > 0
    assert done["retries"] == sum(window["retries"] for window in windows) == retries
    assert len(scheduled) == done["retries"]
    # a query of several logs names them all
    assert all(("log_id" in line or "log_ids" in line) for line in scheduled)
    assert all("window_start" in line for line in scheduled)
    assert not events(result.stderr, "api.request")  # DEBUG lines are off at INFO


def test_a_failed_run_logs_run_failed_and_still_writes_the_metrics_file(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """A rejected key exits 3 with a `run.failed` line and a textfile that says `failed`."""
    emulator = make_emulator(one_hour(), api_keys={"another-key": None})
    env = cli_env(emulator, tmp_path / "out")
    textfile = tmp_path / "metrics.prom"

    result = run_cli(tmp_path, env, "run", "--metrics-file", str(textfile))

    assert result.returncode == 3
    [failed] = events(result.stderr, "run.failed")  # every line is JSON, the error's too
    assert failed["error_type"] == "AuthError"
    assert failed["outcome"] == "failed"
    prom = textfile.read_text()
    assert metric_values(prom, "log_ingestion_runs_total") == {'{outcome="failed"}': 1.0}
    assert SECRET_KEY not in result.stdout + result.stderr + prom


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None


def test_metrics_port_serves_while_following_and_sigterm_stops_cleanly(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """`run --follow --metrics-port`: /metrics on 127.0.0.1 shows committed windows and the
    checkpoint lag while the service waits for the next window; SIGTERM ends it with 0."""
    now_ms = int(time.time() * 1000)
    start_ms = (now_ms - 2 * HOUR_MS) // HOUR_MS * HOUR_MS
    data = Dataset(events_per_log=200, start_ms=start_ms, span_ms=HOUR_MS)
    emulator = make_emulator(data, api_keys={SECRET_KEY: None})
    env = cli_env(emulator, tmp_path / "out", window_size="1h", follow_lag="1s", log_level="INFO")
    port = free_port()
    closed_hours = {f'{{log="{name}"}}': 2.0 for name in LOGS}  # the two hours before this one

    process = subprocess.Popen(
        [*FOLLOW, "--from", str(start_ms), "--metrics-port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        committed: dict[str, float] = {}
        while time.monotonic() < deadline and process.poll() is None:
            text = scrape(port)
            if text is not None:
                committed = metric_values(text, "log_ingestion_windows_committed_total")
                if committed == closed_hours:
                    break
            time.sleep(0.1)
        assert text is not None
        lag = metric_values(text, "log_ingestion_checkpoint_lag_seconds")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr[-2000:]
    assert committed == closed_hours
    assert set(lag) == set(committed)
    assert all(0 < seconds < HOUR_MS / 1000 for seconds in lag.values())
    assert [line["outcome"] for line in events(stderr, "run.done")] == ["interrupted"]
    assert events(stderr, "follow.sleep")
    assert scrape(port) is None  # the endpoint ends with the process
    assert SECRET_KEY not in stdout + stderr + text


def scrape_until(port: int, process: subprocess.Popen[str], done: Callable[[str], bool]) -> str:
    """Scrape /metrics until `done(text)`; fails if the service ends or time runs out."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service ended"
        text = scrape(port)
        if text is not None and done(text):
            return text
        time.sleep(0.1)
    raise AssertionError("the metrics never showed it")


def failed_cycles(text: str) -> float:
    return sum(metric_values(text, "log_ingestion_follow_failed_cycles_total").values())


def behind(text: str) -> set[float]:
    return set(metric_values(text, "log_ingestion_windows_behind").values())


def test_windows_behind_and_last_commit_are_scraped_while_following(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """While queries fail, /metrics shows 2 windows behind per log, failed cycles and no
    commit; once they pass, 0 behind and a last commit time from just now."""
    now_ms = int(time.time() * 1000)
    start_ms = (now_ms - 2 * HOUR_MS) // HOUR_MS * HOUR_MS
    data = Dataset(events_per_log=200, start_ms=start_ms, span_ms=2 * HOUR_MS)
    emulator = make_emulator(data, api_keys={SECRET_KEY: None})
    emulator.faults.error_rates = dict.fromkeys(("start", "poll", "next"), 1.0)
    env = cli_env(emulator, tmp_path / "out", window_size="1h", follow_lag="1s")
    env.update(LOG_LEVEL="INFO", RETRY_ATTEMPTS="1")
    port = free_port()
    per_log = {f'{{log="{name}"}}' for name in LOGS}

    process = subprocess.Popen(
        [*FOLLOW, "--from", str(start_ms), "--metrics-port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        failing = scrape_until(
            port, process, lambda text: failed_cycles(text) >= 1 and behind(text) == {2.0}
        )
        healed_at = time.time()
        emulator.faults.error_rates = {}
        caught_up = scrape_until(
            port,
            process,
            lambda text: (
                behind(text) == {0.0}
                and len(metric_values(text, "log_ingestion_last_commit_timestamp_seconds")) == 2
            ),
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    expected = dict.fromkeys(per_log, 2.0)
    assert expected == metric_values(failing, "log_ingestion_windows_behind")
    assert metric_values(failing, "log_ingestion_last_commit_timestamp_seconds") == {}
    last_commit = metric_values(caught_up, "log_ingestion_last_commit_timestamp_seconds")
    assert per_log == set(last_commit)
    assert all(healed_at <= moment <= time.time() for moment in last_commit.values())
    assert process.returncode == 0, stderr[-2000:]
