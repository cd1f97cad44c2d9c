"""`log-ingestion verify` of Delta tables on a real S3 server, through the CLI: a data file the
store lost below the table's log is listed (exit 1), `--repair` drops it from the log and
ingests its windows again, and every reader then sees every event once."""

from __future__ import annotations

from deltalake import DeltaTable

from ..support.lake import read_all
from ..support.s3 import S3Bucket
from .conftest import Harness, HarnessFactory, small
from .test_delta_cli import error_lines, lake_env, span, table_uri

LOG = "app-kv"


def ingested(
    make_harness: HarnessFactory, bucket: S3Bucket
) -> tuple[Harness, dict[str, str], str, str]:
    """An hour of `LOG` run into Delta on the bucket: the harness, its environment, the
    table's URI and the URI of one of its data files."""
    harness = make_harness(small(events_per_log=2_000))
    env = lake_env(harness, bucket, RAPID7_LOG_IDS=LOG)
    assert harness.cli("run", *span(harness), env=env).returncode == 0
    uri = table_uri(harness, bucket, LOG)
    return (
        harness,
        env,
        uri,
        DeltaTable(uri, storage_options=bucket.storage_options()).file_uris()[0],
    )


def test_verify_passes_after_a_run_into_delta(
    make_harness: HarnessFactory, s3_bucket: S3Bucket
) -> None:
    """Right after a run every committed window of every log matches its table."""
    harness = make_harness(small(events_per_log=2_000))
    env = lake_env(harness, s3_bucket, RAPID7_LOG_IDS=f"{LOG},syslog-text")
    assert harness.cli("run", *span(harness), env=env).returncode == 0

    result = harness.cli("verify", env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("all 8 committed windows of 2 logs match the table")


def test_a_file_lost_below_the_log_is_listed_then_repaired(
    make_harness: HarnessFactory, s3_bucket: S3Bucket
) -> None:
    """A data object deleted from the bucket: its windows are listed as unreadable; the
    repair forgets the file and ingests them again; a second verify passes, and deltalake,
    polars and DuckDB each read the ground truth."""
    harness, env, uri, lost = ingested(make_harness, s3_bucket)
    s3_bucket.filesystem().delete_file(lost.removeprefix("s3://"))

    found = harness.cli("verify", env=env)
    repaired = harness.cli("verify", "--repair", env=env)
    again = harness.cli("verify", env=env)

    assert (found.returncode, "unreadable" in found.stdout) == (1, True), found.stdout
    assert lost.rsplit("/", 1)[1] in found.stdout
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert "windows again" in repaired.stdout
    assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    expected = dict.fromkeys(("deltalake", "polars", "duckdb"), harness.truth(LOG))
    assert read_all(uri, s3_bucket) == expected


def test_verify_of_delta_names_the_log_it_does_not_know(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """`verify --log` of a log without a table exits 2 pointing at `state`, as for Parquet."""
    result = harness.cli("verify", "--log", "nope", env=lake_env(harness, s3_bucket))

    assert result.returncode == 2
    assert "no checkpoint for 'nope'" in result.stderr


def test_a_repair_of_part_of_the_range_ingests_every_window_of_the_lost_file(
    make_harness: HarnessFactory, s3_bucket: S3Bucket
) -> None:
    """The lost file holds four windows, the repair is asked for the first one only: all
    four are ingested again (none left committed and empty), and every reader sees every
    event once."""
    harness, env, uri, lost = ingested(make_harness, s3_bucket)
    s3_bucket.filesystem().delete_file(lost.removeprefix("s3://"))
    first = span(harness, end_ms=harness.start_ms + 15 * 60_000)

    repaired = harness.cli("verify", "--repair", *first, env=env)
    whole = harness.cli("verify", env=env)

    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert "ingested 4 windows again" in repaired.stdout
    assert whole.returncode == 0, whole.stdout
    expected = dict.fromkeys(("deltalake", "polars", "duckdb"), harness.truth(LOG))
    assert read_all(uri, s3_bucket) == expected


def test_a_damaged_file_still_there_is_refused_in_one_line_naming_it(
    make_harness: HarnessFactory, s3_bucket: S3Bucket
) -> None:
    """A listed file overwritten with bytes that are not Parquet: verify lists it (exit 1);
    the repair, which only drops files the store lost, refuses with exit 4 naming the file
    and what to do, and changes nothing."""
    harness, env, _, damaged = ingested(make_harness, s3_bucket)
    with s3_bucket.filesystem().open_output_stream(damaged.removeprefix("s3://")) as out:
        out.write(b"not parquet at all")

    found = harness.cli("verify", env=env)
    repaired = harness.cli("verify", "--repair", env=env)

    assert (found.returncode, "unreadable" in found.stdout) == (1, True)
    problems = error_lines(repaired)
    assert (repaired.returncode, len(problems)) == (4, 1), repaired.stderr[-2000:]
    assert damaged.rsplit("/", 1)[1] in problems[0]
    assert "move it away" in problems[0]
