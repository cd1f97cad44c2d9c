"""Runs `python -m log_ingestion run` as a real process against an emulator on 127.0.0.1,
and reads what landed: the shared tools of the crash, shutdown, follow and storage tests.

    env = ingest_env(emulator.url, output)
    process = start_run(tmp_path, env, "--from", str(start), "--to", str(end))
    process.wait(timeout=30)
    assert truth(dataset, logs, start, end) == landed(output)   # a Counter: duplicates show
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from log_ingestion.emulator import DEFAULT_API_KEY, Dataset

Key = tuple[str, int]  # (log_id, sequence_number)

# Fast retries, polls and no client-side rate limit: the emulator answers at once.
BASE_ENV = {
    "RAPID7_API_KEY": DEFAULT_API_KEY,
    "POLL_INTERVAL": "0.01",
    "RATE_LIMIT": "100000",
    "RETRY_WAIT_INITIAL": "0.01",
    "RETRY_WAIT_MAX": "0.05",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
}


def ingest_env(endpoint: str, output: Path, **settings: str) -> dict[str, str]:
    """A scrubbed environment: only what the CLI needs, so the caller's own settings never leak in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(output.parent),
        "LANG": "C.UTF-8",
        **BASE_ENV,
        "RAPID7_API_ENDPOINT": endpoint,
        "OUTPUT_DIR": str(output),
    }
    env.update({name.upper(): value for name, value in settings.items()})
    return env


def start_run(
    cwd: Path, env: dict[str, str], *args: str, name: str = "run"
) -> subprocess.Popen[bytes]:
    """`log-ingestion run ARGS` in its own process; output goes to files in `cwd` (no pipe can fill)."""
    runs = sorted(cwd.glob(f"{name}-*.out"))
    number = len(runs)
    stdout = (cwd / f"{name}-{number:03d}.out").open("wb")
    stderr = (cwd / f"{name}-{number:03d}.err").open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "log_ingestion", "run", *args],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    finally:
        stdout.close()
        stderr.close()


def run_to_end(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`log-ingestion run ARGS` to completion, with its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "log_ingestion", "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def truth(dataset: Dataset, log_ids: Iterable[str], from_ms: int, to_ms: int) -> Counter[Key]:
    """Every event the API serves in `[from_ms, to_ms)`, once each."""
    return Counter(
        (log_id, sequence)
        for log_id in log_ids
        for _, sequence, _ in dataset.events(log_id, from_ms, to_ms)
    )


def published_files(output: Path) -> list[Path]:
    """The Parquet files a reader sees: `**/*.parquet` outside `_`-prefixed directories."""
    return sorted(
        path
        for path in output.rglob("*.parquet")
        if not any(part.startswith("_") for part in path.relative_to(output).parts)
    )


def landed(output: Path) -> Counter[Key]:
    """`(log_id, sequence_number)` of every published row, counted: a duplicate counts 2.

    Each file is read whole on its own, so a torn file fails the read.
    """
    keys: Counter[Key] = Counter()
    for path in published_files(output):
        table = pq.read_table(path, columns=["log_id", "sequence_number"])
        keys.update(
            zip(
                table.column("log_id").to_pylist(),
                table.column("sequence_number").to_pylist(),
                strict=True,
            )
        )
    return keys


def leftovers(output: Path) -> list[Path]:
    """Temps and journals anywhere under the output: none may survive a completed run."""
    return sorted(
        path
        for path in output.rglob("*")
        if path.is_file() and (path.name.endswith(".tmp") or path.name.startswith("journal-"))
    )


def compare(expected: Counter[Key], actual: Counter[Key]) -> dict[str, int]:
    """How `actual` differs from `expected`: events missing, extra copies, events not expected."""
    return {
        "missing": sum(1 for key in expected if key not in actual),
        "duplicated": sum(count - 1 for count in actual.values() if count > 1),
        "unexpected": sum(1 for key in actual if key not in expected),
    }


def wait_for_files(
    output: Path, process: subprocess.Popen[bytes], more_than: int, timeout: float = 20
) -> bool:
    """Until more than `more_than` files are published (True) or the process ended (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(published_files(output)) > more_than:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    raise AssertionError(f"no progress past {more_than} files within {timeout}s")


def catches_sigterm(pid: int) -> bool:
    """Whether the process has installed a SIGTERM handler yet (Linux: `SigCgt` in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def stop_soon_after_start(
    cwd: Path, env: dict[str, str], delay: float, *args: str
) -> tuple[int, str, bool]:
    """`run ARGS`, sent SIGTERM `delay` seconds after its start (or, when that is before the
    interpreter could install a handler, the moment it has one): (exit code, stderr, whether
    the signal found the process still running)."""
    process = start_run(cwd, env, *args, name="startup")
    number = len(sorted(cwd.glob("startup-*.err"))) - 1
    began = time.monotonic()
    while not catches_sigterm(process.pid) and process.poll() is None:
        time.sleep(0.001)
    time.sleep(max(0.0, delay - (time.monotonic() - began)))
    running = process.poll() is None
    if running:
        process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    return code, (cwd / f"startup-{number:03d}.err").read_text(), running


def startup_stops(
    cwd: Path, env: dict[str, str], dataset: Dataset, delays: Iterable[float]
) -> dict[str, object]:
    """One `run --rescan` of the dataset per delay, each stopped by a SIGTERM that long after
    its start, then a resumed run to the end; what the operator would see, summed."""
    span = ("--from", str(dataset.start_ms), "--to", str(dataset.end_ms))
    codes: Counter[int] = Counter()
    bad_lines, signalled = [], 0
    for delay in delays:
        code, stderr, running = stop_soon_after_start(cwd, env, delay, *span, "--rescan")
        codes[code] += 1
        signalled += running
        bad_lines += [line for line in stderr.splitlines() if not _quiet_json(line)]
    final = run_to_end(cwd, env, *span)
    expected = truth(dataset, dataset.logs, dataset.start_ms, dataset.end_ms)
    return {
        "exit codes": dict(codes),
        "lines that are not JSON, or errors": bad_lines,
        "signalled while running": signalled,
        "resumed run": final.returncode,
        "landed": compare(expected, landed(cwd / "out")),
    }


def _quiet_json(line: str) -> bool:
    """A JSON log line that reports no error (and so no traceback either)."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("level") not in ("error", "critical")


REFUSED = "another log-ingestion process is writing OUTPUT_DIR"


def rival_rounds(
    cwd: Path, env: dict[str, str], dataset: Dataset, rounds: int
) -> dict[str, object]:
    """Two `run --rescan` of the whole dataset started together on one OUTPUT_DIR, each with
    its own STATE_DIR, `rounds` times; after each round every event must be there once."""
    span = ("--from", str(dataset.start_ms), "--to", str(dataset.end_ms), "--rescan")
    expected = truth(dataset, dataset.logs, dataset.start_ms, dataset.end_ms)
    outcomes: Counter[tuple[int, ...]] = Counter()
    unclear, wrong_rounds = 0, 0
    for number in range(rounds):
        pair = [
            start_run(cwd, {**env, "STATE_DIR": str(cwd / f"state-{side}")}, *span, name=side)
            for side in "ab"
        ]
        codes = tuple(process.wait(timeout=120) for process in pair)
        outcomes[codes] += 1
        for side, code in zip("ab", codes, strict=True):
            stderr = (cwd / f"{side}-{number:03d}.err").read_text()
            unclear += code == 4 and REFUSED not in stderr
        wrong_rounds += compare(expected, landed(cwd / "out")) != {
            "missing": 0,
            "duplicated": 0,
            "unexpected": 0,
        }
    return {
        "outcomes": dict(outcomes),
        "refusals without the clear line": unclear,
        "rounds with an event missing or doubled": wrong_rounds,
        "leftovers": leftovers(cwd / "out"),
    }
