"""Two processes on one OUTPUT_DIR, each with its own STATE_DIR (the runbook once suggested a
separate state folder): the second is refused (exit 4, one clear line) or runs after the
first; every event is in the table exactly once after every round. Also `state reset`
beside a running service is refused. The long version is in `slow/`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator

from ..slow.harness import ingest_env, rival_rounds, start_run

EmulatorFactory = Callable[..., Emulator]
ROUNDS = 3


def test_two_runs_on_one_output_never_double_a_row(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Three rounds of two simultaneous rescans: one refused or both in turn, never doubles."""
    data = Dataset(seed=31, events_per_log=1_000, span_ms=3_600_000)
    emulator = make_emulator(data)
    env = ingest_env(emulator.url, tmp_path / "out", window_size="5m")

    seen = rival_rounds(tmp_path, env, data, ROUNDS)

    outcomes = seen.pop("outcomes")
    assert set(outcomes) <= {(0, 0), (0, 4), (4, 0)}  # type: ignore[arg-type]
    expected = {
        "refusals without the clear line": 0,
        "rounds with an event missing or doubled": 0,
        "leftovers": [],
    }
    assert expected == seen


def test_state_reset_beside_a_running_service_is_refused(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """`state reset` while `run --follow` holds the state folder: exit 4, the service goes on."""
    hour = 3_600_000
    start = (int(time.time() * 1000) - 2 * hour) // hour * hour  # two closed hours: a short cycle
    data = Dataset(seed=32, events_per_log=200, start_ms=start, span_ms=2 * hour)
    emulator = make_emulator(data)
    output = tmp_path / "out"
    env = ingest_env(emulator.url, output, window_size="15m", start_time=str(data.start_ms))
    service = start_run(tmp_path, env, "--follow")
    try:
        deadline = time.monotonic() + 30
        while not list((output / "_state").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        reset = subprocess.run(
            [sys.executable, "-m", "log_ingestion", "state", "reset", "--log", "app-kv"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        running = service.poll() is None
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=30)

    assert (reset.returncode, running, code) == (4, True, 0)
    assert "another log-ingestion process is using" in reset.stderr
