"""Follow mode against a live log: windows are ingested once closed for FOLLOW_LAG, the run
sleeps between them, and after a SIGTERM every event of the closed windows is there once."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator
from log_ingestion.state import JsonCheckpointStore

from ..slow.harness import compare, ingest_env, landed, leftovers, start_run, truth

EmulatorFactory = Callable[..., Emulator]
WINDOW_MS, LAG_MS = 2_000, 1_000


def now_ms() -> int:
    return int(time.time() * 1000)


def sleeps_logged(stderr: Path) -> int:
    """How many times the run has said it sleeps until the next window closes."""
    text = stderr.read_text() if stderr.exists() else ""
    return text.count('"event": "follow.sleep"')


def test_follow_ingests_closed_windows_of_a_live_log_exactly_once(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Live appends for 6 s or more, then SIGTERM: exit 0; the committed range reaches to within a
    window and the lag of the stop; inside it, the output equals the ground truth."""
    start = now_ms() // WINDOW_MS * WINDOW_MS - 20_000
    data = Dataset(seed=9, events_per_log=200, start_ms=start, span_ms=20_000)
    emulator = make_emulator(data)
    log_id = data.log_id("app-kv")
    output = tmp_path / "out"
    env = ingest_env(
        emulator.url,
        output,
        window_size="2s",
        follow_lag="1s",
        start_time=str(start),
        rapid7_log_ids=log_id,
    )
    process = start_run(tmp_path, env, "--follow")
    appended = 0
    # Live appends for 6 s, and on until the run has slept three times: on a loaded machine
    # its start-up alone can take seconds.
    began = time.monotonic()
    while process.poll() is None and time.monotonic() - began < 30:
        if time.monotonic() - began >= 6 and sleeps_logged(tmp_path / "run-000.err") >= 3:
            break
        emulator.append(log_id, [f"level=INFO msg=live n={appended}"], timestamp_ms=now_ms())
        appended += 1
        time.sleep(0.05)

    stopped_ms = now_ms()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=10)
    committed = JsonCheckpointStore(output / "_state").load(log_id).committed
    log_lines = [
        json.loads(line)
        for line in (tmp_path / "run-000.err").read_text().splitlines()
        if line.startswith("{")
    ]

    assert code == 0
    assert len(committed) == 1
    first, last = committed[0]
    assert first == start
    assert last >= stopped_ms - LAG_MS - 2 * WINDOW_MS  # caught up with the live log
    assert last <= stopped_ms - LAG_MS  # never a window that had not closed for the lag
    expected = truth(data, [log_id], first, last)
    assert len(expected) > 200 + 20  # the 200 generated events and many live ones
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
    assert leftovers(output) == []
    sleeps = [line for line in log_lines if line["event"] == "follow.sleep"]
    assert len(sleeps) >= 3
    assert all(line["next_window_due_in_s"] <= (WINDOW_MS + LAG_MS) / 1000 for line in sleeps)
