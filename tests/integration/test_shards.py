"""Workers by shard: `run --shard K/N` ingests the logs of shard K, and the N shards
together ingest every log exactly once; `logs` shows each log's shard."""

from __future__ import annotations

from tests.integration.conftest import SAMPLE_LOGS, Harness

from log_ingestion.shard import shard_of

from ..slow.harness import landed, truth


def test_three_shards_ingest_every_log_once(harness: Harness) -> None:
    """Three workers, shards 1/3 to 3/3: each lands only its own logs, together all of them."""
    outputs = []
    for index in (1, 2, 3):
        output = harness.tmp_path / f"shard-{index}"
        result = harness.cli(
            "run",
            "--from",
            str(harness.start_ms),
            "--to",
            str(harness.end_ms),
            "--shard",
            f"{index}/3",
            env=harness.env(OUTPUT_DIR=str(output)),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(output)

    log_ids = [harness.dataset.log_id(name) for name in SAMPLE_LOGS]
    for index, output in enumerate(outputs, start=1):
        mine = [log_id for log_id in log_ids if shard_of(log_id, 3) == index]
        assert landed(output) == truth(harness.dataset, mine, harness.start_ms, harness.end_ms)


def test_logs_shows_each_logs_shard(harness: Harness) -> None:
    """`logs --shards 3` adds each log's shard of 3."""
    result = harness.cli("logs", "--shards", "3")
    assert result.returncode == 0, result.stderr
    for name in SAMPLE_LOGS:
        line = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        assert line.rstrip(" │").endswith(str(shard_of(harness.dataset.log_id(name), 3)))


def test_a_shard_outside_n_is_refused(harness: Harness) -> None:
    """`--shard 4/3` is a configuration error, one line, exit 2."""
    result = harness.run_cli("--shard", "4/3")
    assert (result.returncode, "--shard: shard 4 of 3" in result.stderr) == (2, True)
