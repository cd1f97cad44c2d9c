"""A stop in the first seconds of a run, as systemd and Kubernetes send one right after a
start: exit 0 every time, no traceback and no `error:` line, every stderr line JSON, and
the resumed run lands every event once. The long version is in `slow/`."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator

from ..slow.harness import ingest_env, startup_stops

EmulatorFactory = Callable[..., Emulator]
ROUNDS = 6


def test_sigterm_in_the_first_two_seconds_exits_0_and_loses_nothing(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Six runs stopped 0-2 s after their start exit 0 quietly; the resumed run completes."""
    data = Dataset(seed=21, events_per_log=1_500, span_ms=3_600_000)
    emulator = make_emulator(data)
    env = ingest_env(emulator.url, tmp_path / "out", window_size="5m")
    moments = random.Random(21)

    seen = startup_stops(tmp_path, env, data, [moments.uniform(0.0, 2.0) for _ in range(ROUNDS)])

    signalled = seen.pop("signalled while running")
    assert signalled > 0
    expected = {
        "exit codes": {0: ROUNDS},
        "lines that are not JSON, or errors": [],
        "resumed run": 0,
        "landed": {"missing": 0, "duplicated": 0, "unexpected": 0},
    }
    assert expected == seen
