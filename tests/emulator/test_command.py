"""The `emulator` typer command, run in-process through CliRunner."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
import typer
from typer.testing import CliRunner

from log_ingestion.emulator import DEFAULT_API_KEY
from log_ingestion.emulator.command import emulator


def app() -> typer.Typer:
    """A stand-in for cli.py, which registers the command the same way."""
    cli = typer.Typer()
    cli.callback()(lambda: None)
    cli.command("emulator")(emulator)
    return cli


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_command_prints_its_base_url() -> None:
    """The first line of output is the base URL on 127.0.0.1."""
    port = free_port()
    args = ["emulator", "--port", str(port), "--events-per-log", "50", "--run-for", "0.2"]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}" == result.stdout.splitlines()[0]


def test_command_serves_with_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """While running, /validate accepts EMULATOR_API_KEY and refuses other keys."""
    monkeypatch.setenv("EMULATOR_API_KEY", "from-env")
    port = free_port()
    answers: dict[str, int] = {}

    def probe() -> None:
        url = f"http://127.0.0.1:{port}/validate"
        for _ in range(200):
            try:
                answers["good"] = httpx.get(url, headers={"x-api-key": "from-env"}).status_code
                answers["bad"] = httpx.get(url, headers={"x-api-key": "nope"}).status_code
                return
            except httpx.ConnectError:
                threading.Event().wait(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    args = ["emulator", "--port", str(port), "--events-per-log", "50", "--run-for", "1"]
    result = CliRunner().invoke(app(), args)
    prober.join()
    assert result.exit_code == 0, result.output
    assert answers == {"good": 200, "bad": 401}


def test_command_rejects_a_start_time_without_zone() -> None:
    """--start needs a time zone so the anchor is unambiguous."""
    result = CliRunner().invoke(
        app(), ["emulator", "--port", "0", "--start", "2026-01-01T00:00:00"]
    )
    assert result.exit_code == 2


def test_command_passes_readiness_and_timeslice_knobs() -> None:
    """--ready-after-seconds keeps a query running past its polls; --max-timeslice bounds N."""
    port = free_port()
    answers: dict[str, object] = {}

    def probe() -> None:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with httpx.Client(base_url=base, headers={"x-api-key": DEFAULT_API_KEY}) as http:
                    log_id = http.get("/management/logs").json()["logs"][0]["id"]
                    path, window = f"/query/logs/{log_id}", {"from": 0, "to": 10}
                    started = http.get(path, params=window).json()
                    answers["progress"] = http.get(started["links"][0]["href"]).json()["progress"]
                    statement = "calculate(count) timeslice(3)"
                    refused = http.get(path, params={**window, "query": statement})
                    answers["timeslice(3)"] = refused.status_code
                return
            except httpx.ConnectError:
                threading.Event().wait(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    knobs = ["--polls-before-ready", "0", "--ready-after-seconds", "60", "--max-timeslice", "2"]
    args = ["emulator", "--port", str(port), "--events-per-log", "50", "--run-for", "1", *knobs]
    result = CliRunner().invoke(app(), args)
    prober.join()
    assert result.exit_code == 0, result.output
    assert answers == {"progress": 0, "timeslice(3)": 400}


def test_one_sigterm_stops_the_emulator_command() -> None:
    """`log-ingestion emulator` as a user runs it: the first SIGTERM stops it, exit 0 (the
    command's signal handlers only set the stop flag, which the command watches)."""
    command = [sys.executable, "-m", "log_ingestion", "emulator", "--port", "0"]
    command += ["--events-per-log", "50"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
