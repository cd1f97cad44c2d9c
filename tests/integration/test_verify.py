"""`log-ingestion verify` through the CLI against the emulator: it finds what the checkpoint
does not know (a published file deleted or damaged by hand, a stray copy in a partition,
events the API counts but the table lacks), exits 1 listing those windows, and `--repair`
ingests exactly those again, after which a second `verify` passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.integration.conftest import Harness, HarnessFactory, small

from log_ingestion.emulator.faults import Faults
from log_ingestion.timeparse import format_ms

LOG = "app-kv"
MINUTE = 60_000
PER_WINDOW = {"row_group_rows": 1000}  # a unit closes past a row group: a file per window


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """1,250 events per 15-minute window: with row groups of 1,000 rows each window is a
    commit and a file of its own."""
    return make_harness(small(events_per_log=5_000))


def published(harness: Harness, name: str = LOG) -> list[Path]:
    return sorted(harness.table_dir(name).glob("date=*/*.parquet"))


def window_of(path: Path) -> str:
    """`part-<start>-<end>-…`: the window a published file holds, as `verify` prints it."""
    start, end = path.name.split("-")[1:3]
    return f"{format_ms(int(start))}..{format_ms(int(end))}"


def test_verify_passes_after_a_run(harness: Harness) -> None:
    """Right after a run every committed window matches: exit 0 and one line saying so."""
    harness.ingest(rapid7_log_ids=[LOG, "syslog-text"], **PER_WINDOW)

    result = harness.cli("verify")

    assert (result.returncode, result.stdout.strip()) == (
        0,
        "all 8 committed windows of 2 logs match the table "
        "(8 against the checkpoint's record, 0 against the API's count)",
    )


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_published_file_lost_by_hand_is_listed_then_repaired(
    harness: Harness, damage: str
) -> None:
    """A file deleted (or cut short) by hand: verify lists its window, exit 1; --repair
    ingests it again; a second verify passes and the table holds every event once."""
    harness.ingest(rapid7_log_ids=[LOG], **PER_WINDOW)
    lost = published(harness)[1]
    if damage == "deleted":
        lost.unlink()
    else:
        lost.write_bytes(lost.read_bytes()[:100])

    found = harness.cli("verify", "--log", LOG)
    repaired = harness.cli("verify", "--log", LOG, "--repair")
    again = harness.cli("verify", "--log", LOG)

    assert (found.returncode, window_of(lost) in found.stdout) == (1, True), found.stderr
    assert "1 of 4 committed windows of 1 logs differ" in found.stdout
    assert (repaired.returncode, again.returncode) == (0, 0), repaired.stderr
    assert "ingested 1 windows again" in repaired.stdout
    assert harness.truth(LOG) == harness.landed(LOG)


def test_a_repair_that_fails_says_why_with_its_exit_code(harness: Harness) -> None:
    """The re-ingest of a lost file meets a rejected key: exit 3 and the key's line, not a
    silent exit 1."""
    harness.ingest(rapid7_log_ids=[LOG], **PER_WINDOW)
    published(harness)[1].unlink()

    repaired = harness.cli(
        "verify", "--log", LOG, "--repair", env=harness.env(RAPID7_API_KEY="not-the-key")
    )

    assert (repaired.returncode, "the API key was rejected" in repaired.stderr) == (3, True)


def test_a_stray_copy_in_a_partition_is_listed_as_duplicates_then_repaired(
    harness: Harness,
) -> None:
    """A copy of a published file beside it: listed (distinct keys fewer than rows), exit 1;
    --repair moves the copy to `_quarantine` and the table holds every event once."""
    harness.ingest(rapid7_log_ids=[LOG], **PER_WINDOW)
    original = published(harness)[2]
    copy = original.with_name(original.stem + " (copy).parquet")
    shutil.copy(original, copy)

    found = harness.cli("verify")
    repaired = harness.cli("verify", "--repair")
    again = harness.cli("verify")

    assert (found.returncode, "duplicate rows" in found.stdout) == (1, True), found.stderr
    assert window_of(original) in found.stdout
    assert (repaired.returncode, again.returncode) == (0, 0), repaired.stderr
    assert not copy.exists()
    assert [copy.name] == [path.name for path in harness.table_dir(LOG).glob("_quarantine/*/*")]
    assert harness.truth(LOG) == harness.landed(LOG)


def test_verify_api_finds_events_the_api_counts_and_the_table_lacks(harness: Harness) -> None:
    """An event appended to a committed window upstream: only --api sees it (exit 1);
    --api --repair lands it, and every event is then there once."""
    harness.ingest(rapid7_log_ids=[LOG], **PER_WINDOW)
    log_id = harness.dataset.log_id(LOG)
    harness.emulator.append(log_id, ["late=1 msg=arrived"], timestamp_ms=harness.start_ms + MINUTE)

    plain = harness.cli("verify")
    counted = harness.cli("verify", "--api")
    repaired = harness.cli("verify", "--api", "--repair")

    assert (plain.returncode, counted.returncode, repaired.returncode) == (0, 1, 0)
    assert "the API counts 1251" in counted.stdout  # 1,250 in the window, and the late one
    assert harness.truth(LOG) == harness.landed(LOG)


def test_verify_of_an_unknown_log_exits_2(harness: Harness) -> None:
    """`verify --log` of a log with no checkpoint exits 2 and points at `state`."""
    result = harness.cli("verify", "--log", "nope")

    assert result.returncode == 2
    assert "no checkpoint for 'nope'" in result.stderr


def test_verify_api_does_not_compare_with_estimated_counts(
    make_harness: HarnessFactory,
) -> None:
    """Counts the API marks as estimates (`all_exact_result: false`) are not compared: every
    window is checked against the checkpoint only, and verify exits 0."""
    harness = make_harness(faults=Faults(inexact_counts=True))
    harness.ingest(rapid7_log_ids=[LOG])

    counted = harness.cli("verify", "--api")

    assert counted.returncode == 0, counted.stderr
    assert "0 against the API's count" in counted.stdout
