"""Three workers on one API key share its rate limit: they slow down together and none
fails a window, because each follows the server's budget, not only its own setting."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator, Faults

from ..slow.harness import compare, ingest_env, landed, start_run, truth

EmulatorFactory = Callable[..., Emulator]
WORKERS = (
    ("firewall-traffic", "app-kv"),
    ("cdn-access-noheader", "syslog-text"),
    ("vpn-sessions", "idr-auth-json"),
)


def test_three_workers_on_one_key_finish_without_a_failed_window(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """A budget of 40 requests per 2 s for the key, three workers each allowed far more:
    every run exits 0 and lands its logs exactly once."""
    data = Dataset(seed=9, events_per_log=1_200, span_ms=3_600_000)
    emulator = make_emulator(data, faults=Faults(rate_limit=40, rate_window_seconds=2.0))
    runs: list[tuple[Path, tuple[str, ...], subprocess.Popen[bytes]]] = []
    began = time.monotonic()
    for number, logs in enumerate(WORKERS):
        output = tmp_path / f"worker-{number}"
        env = ingest_env(
            emulator.url,
            output,
            window_size="15m",
            per_page="50",
            rapid7_log_ids=",".join(logs),
            retry_attempts="6",
            retry_wait_max="2",
        )
        runs.append(
            (
                output,
                logs,
                start_run(
                    tmp_path,
                    env,
                    "--from",
                    str(data.start_ms),
                    "--to",
                    str(data.end_ms),
                    name=f"w{number}",
                ),
            )
        )
    codes = [process.wait(timeout=120) for _, _, process in runs]
    seconds = time.monotonic() - began

    assert codes == [0, 0, 0], [(tmp_path / f"w{n}-000.err").read_text()[-1500:] for n in range(3)]
    for output, logs, _ in runs:
        ids = [data.log_id(name) for name in logs]
        expected = truth(data, ids, data.start_ms, data.end_ms)
        assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
    used = emulator.stats.total_requests
    assert seconds >= 2.0 * (used // 40 - 1)  # the budget, not the workers, set the pace
