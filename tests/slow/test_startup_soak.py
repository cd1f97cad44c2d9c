"""Start-up soak (`make test-slow`): forty runs, each stopped with SIGTERM at a random moment
in its first 2.5 s (from the instant the interpreter can hold a handler), as systemd and
Kubernetes do when they stop or reschedule right after a start. Every run exits 0 with no
traceback and no `error:` line; the resumed run lands every event exactly once."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from log_ingestion.emulator import Dataset, Emulator

from .harness import ingest_env, startup_stops

pytestmark = pytest.mark.slow

ROUNDS = 40
SEED = int(os.environ.get("STARTUP_SOAK_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)


def test_forty_sigterms_in_the_first_seconds_exit_0_and_lose_nothing(tmp_path: Path) -> None:
    """40 stops at random moments 0-2.5 s after start; then a resumed run, exactly once."""
    data = Dataset(seed=12, events_per_log=5_000, span_ms=3_600_000)
    emulator = Emulator(data).start()
    try:
        env = ingest_env(emulator.url, tmp_path / "out", window_size="2m")
        moments = random.Random(SEED)
        delays = [moments.uniform(0.0, 2.5) for _ in range(ROUNDS)]

        seen = startup_stops(tmp_path, env, data, delays)

        print(f"\nseed {SEED}: {ROUNDS} SIGTERMs at {min(delays):.2f}-{max(delays):.2f} s: {seen}")
        signalled = seen.pop("signalled while running")
        assert signalled >= ROUNDS // 2
        expected = {
            "exit codes": {0: ROUNDS},
            "lines that are not JSON, or errors": [],
            "resumed run": 0,
            "landed": {"missing": 0, "duplicated": 0, "unexpected": 0},
        }
        assert expected == seen
    finally:
        emulator.stop()
