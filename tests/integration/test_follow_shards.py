"""Follow mode with shards: a worker follows the logs of its shard, and a log the API starts
showing while it runs (here: the key is granted two more logs) is picked up at the next
cycle by the worker whose shard it falls in, and only by it."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import DEFAULT_API_KEY, Dataset, Emulator
from log_ingestion.shard import shard_of
from log_ingestion.state import JsonCheckpointStore

from ..slow.harness import compare, ingest_env, landed, start_run, truth

EmulatorFactory = Callable[..., Emulator]
WINDOW_MS = 2_000
CLEAN = {"missing": 0, "duplicated": 0, "unexpected": 0}


def now_ms() -> int:
    return int(time.time() * 1000)


def sleeps_logged(stderr: Path) -> int:
    text = stderr.read_text() if stderr.exists() else ""
    return text.count('"event": "follow.sleep"')


def wait_for_sleeps(
    stderr: Path, count: int, process: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    """Until the run has said `count` times that it sleeps for the next window."""
    began = time.monotonic()
    while sleeps_logged(stderr) < count and time.monotonic() - began < timeout:
        assert process.poll() is None, stderr.read_text()[-2000:]
        time.sleep(0.05)
    assert sleeps_logged(stderr) >= count, stderr.read_text()[-2000:]


def test_a_log_granted_while_following_is_taken_by_its_shards_worker(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Worker 1/2 follows; the key is then granted one log of shard 1 and one of shard 2: the
    worker ingests the first from START_TIME, every event once, and never the second."""
    start = now_ms() // WINDOW_MS * WINDOW_MS - 20_000
    data = Dataset(seed=5, events_per_log=200, start_ms=start, span_ms=20_000)
    ids = [log.id for log in data.logs.values()]
    ours = [log_id for log_id in ids if shard_of(log_id, 2) == 1]
    theirs = [log_id for log_id in ids if shard_of(log_id, 2) == 2]
    assert (len(ours) >= 2, len(theirs) >= 1) == (True, True), "sample logs in both shards"
    granted_ours, granted_theirs = ours[-1], theirs[-1]
    emulator = make_emulator(
        data, api_keys={DEFAULT_API_KEY: set(ids) - {granted_ours, granted_theirs}}
    )
    output = tmp_path / "out"
    env = ingest_env(emulator.url, output, window_size="2s", follow_lag="1s", start_time=str(start))
    process = start_run(tmp_path, env, "--follow", "--shard", "1/2")
    stderr = tmp_path / "run-000.err"
    wait_for_sleeps(stderr, 1, process)
    emulator.api_keys[DEFAULT_API_KEY] = None  # every log, as a newly created one shows
    wait_for_sleeps(stderr, sleeps_logged(stderr) + 2, process)
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 0
    store = JsonCheckpointStore(output / "_state")
    followed = {checkpoint.log_id for checkpoint in store.list()}
    assert followed == set(ours)
    first, last = store.load(granted_ours).committed[0]
    assert first == start
    in_range = truth(data, [granted_ours], first, last)
    mine = Counter({key: count for key, count in landed(output).items() if key[0] == granted_ours})
    assert compare(in_range, mine) == CLEAN
