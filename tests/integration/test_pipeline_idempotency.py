"""Running a range again, overlapping ranges and rescans replace windows, never duplicate rows."""

from __future__ import annotations

from tests.integration.conftest import SAMPLE_LOGS, Harness

MINUTE = 60_000
LOGS = ["firewall-traffic", "vpn-sessions", "app-kv"]


def test_the_same_range_twice_lands_each_event_once(harness: Harness) -> None:
    """A second run of a committed range changes nothing."""
    harness.ingest(rapid7_log_ids=LOGS)
    again = harness.ingest(rapid7_log_ids=LOGS)

    assert {name: harness.truth(name) for name in LOGS} == {n: harness.landed(n) for n in LOGS}
    assert again.counts.rows == 0


def test_overlapping_ranges_land_each_event_once(harness: Harness) -> None:
    """[0, 45m) then [20m, 60m): the windows both touch are not landed twice."""
    harness.ingest(harness.start_ms, harness.start_ms + 45 * MINUTE, rapid7_log_ids=LOGS)
    harness.ingest(harness.start_ms + 20 * MINUTE, harness.end_ms, rapid7_log_ids=LOGS)

    assert {name: harness.truth(name) for name in LOGS} == {n: harness.landed(n) for n in LOGS}


def test_ranges_off_the_window_grid_are_widened_to_whole_windows(harness: Harness) -> None:
    """[7m, 38m) lands the whole windows [0, 45m); the rest follows without repeats."""
    harness.ingest(
        harness.start_ms + 7 * MINUTE, harness.start_ms + 38 * MINUTE, rapid7_log_ids=LOGS
    )
    first = {name: harness.landed(name) for name in LOGS}
    harness.ingest(rapid7_log_ids=LOGS)

    expected = {n: harness.truth(n, harness.start_ms, harness.start_ms + 45 * MINUTE) for n in LOGS}
    assert expected == first
    assert {name: harness.truth(name) for name in LOGS} == {n: harness.landed(n) for n in LOGS}


def test_rescan_replaces_windows_instead_of_adding_rows(harness: Harness) -> None:
    """`rescan` ingests committed windows again and still lands each event once."""
    harness.ingest(rapid7_log_ids=LOGS)
    again = harness.ingest(rapid7_log_ids=LOGS, rescan=True)

    assert {name: harness.truth(name) for name in LOGS} == {n: harness.landed(n) for n in LOGS}
    assert sum(len(harness.truth(name)) for name in LOGS) == again.counts.rows


def test_cli_rerun_overlap_and_rescan_never_duplicate(harness: Harness) -> None:
    """Through the CLI: a run, an overlapping run and a `--rescan` keep every event once."""
    end_45 = str(harness.start_ms + 45 * MINUTE)
    first = harness.cli("run", "--from", str(harness.start_ms), "--to", end_45)
    second = harness.cli(
        "run", "--from", str(harness.start_ms + 20 * MINUTE), "--to", str(harness.end_ms)
    )
    third = harness.run_cli("--rescan")

    assert (first.returncode, second.returncode, third.returncode) == (0, 0, 0)
    expected = {name: harness.truth(name) for name in SAMPLE_LOGS}
    assert expected == {name: harness.landed(name) for name in SAMPLE_LOGS}
