"""Every sample log, ingested over real HTTP and read back, equals the emulator's ground truth."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.integration.conftest import SAMPLE_LOGS, Harness

TIMESTAMP = pa.timestamp("ms", tz="UTC")


@pytest.mark.parametrize("name", SAMPLE_LOGS)
def test_each_sample_log_lands_every_event_exactly_once(harness: Harness, name: str) -> None:
    """The pipeline lands each event of a log once, message byte-identical, read by PyArrow."""
    harness.ingest(rapid7_log_ids=[name])

    assert harness.truth(name) == harness.landed(name)


def test_duckdb_reads_every_table_as_the_ground_truth(harness: Harness) -> None:
    """DuckDB's read_parquet(union_by_name) sees the same rows as the emulator served."""
    summary = harness.ingest()

    expected = {name: harness.truth(name) for name in SAMPLE_LOGS}
    actual = {name: harness.landed_duckdb(name) for name in SAMPLE_LOGS}
    assert expected == actual
    assert summary.failed == []


def test_run_summary_counts_every_event_and_commits_every_window(harness: Harness) -> None:
    """The summary says 4 windows committed per log and the landed rows equal the truth."""
    summary = harness.ingest()

    expected = {name: (4, 4, len(harness.truth(name)), 0) for name in SAMPLE_LOGS}
    actual = {
        log.log.name: (log.windows, log.counts.committed, log.counts.rows, log.counts.mismatches)
        for log in summary.logs
    }
    assert expected == actual


def test_firewall_csv_columns_are_named_and_typed(harness: Harness) -> None:
    """The CSV header names the columns; ints land as int64, `2026/01/01 00:00:00` as timestamps."""
    harness.ingest(rapid7_log_ids=["firewall-traffic"])
    schema = harness.table("firewall-traffic").schema

    expected = {
        "receive_time": TIMESTAMP,
        "src_port": pa.int64(),
        "bytes_sent": pa.int64(),
        "duration_s": pa.float64(),
        "is_encrypted": pa.bool_(),
        "rule_name": pa.string(),
        "sequence_number": pa.uint64(),
        "timestamp": TIMESTAMP,
    }
    assert expected == {name: schema.field(name).type for name in expected}


def test_csv_header_event_is_kept_with_format_csv_header(harness: Harness) -> None:
    """The header line is an event too: it lands once, marked `_format = "csv_header"`."""
    harness.ingest(rapid7_log_ids=["firewall-traffic"])
    table = harness.table("firewall-traffic")

    headers = table.filter(pc.equal(table.column("_format"), "csv_header"))
    first_message = harness.truth("firewall-traffic")[0][2]
    assert [first_message] == headers.column("message").to_pylist()
    assert (
        first_message == harness.dataset.event_at(harness.dataset.log_id("firewall-traffic"), 0)[2]
    )


def test_malformed_csv_lines_are_kept_with_a_parse_error(harness: Harness) -> None:
    """A line with an unbalanced quote is landed whole, with `_parse_error` set."""
    harness.ingest(rapid7_log_ids=["firewall-traffic"])
    table = harness.table("firewall-traffic")

    broken = table.filter(pc.invert(pc.is_null(table.column("_parse_error"))))
    messages = broken.column("message").to_pylist()
    assert any('"unbalanced quote' in message for message in messages)
    assert len(harness.truth("firewall-traffic")) == table.num_rows


def test_vpn_header_change_adds_a_column_null_before_it(harness: Harness) -> None:
    """The second header adds `mfa_method`: null on earlier rows, filled on later ones."""
    harness.ingest(rapid7_log_ids=["vpn-sessions"])
    table = harness.table("vpn-sessions").sort_by("timestamp")
    formats = table.column("_format").to_pylist()
    mfa = table.column("mfa_method").to_pylist()
    change = [i for i, fmt in enumerate(formats) if fmt == "csv_header"]

    assert len(change) == 2
    assert all(value is None for value in mfa[: change[1]])
    assert any(value is not None for value in mfa[change[1] + 1 :])
    assert "mfa_method" in table.column("message")[change[1]].as_py()


def test_vpn_header_change_is_read_by_duckdb_union_by_name(harness: Harness) -> None:
    """DuckDB unifies the files before and after the header change into one column set."""
    harness.ingest(rapid7_log_ids=["vpn-sessions"])
    glob = f"{harness.table_dir('vpn-sessions')}/**/*.parquet"
    with duckdb.connect() as db:
        nulls, filled = db.execute(
            "SELECT count(*) FILTER (WHERE mfa_method IS NULL), count(mfa_method) "
            "FROM read_parquet(?, union_by_name=true, hive_partitioning=true)",
            [glob],
        ).fetchone() or (0, 0)

    assert len(harness.truth("vpn-sessions")) == nulls + filled
    assert filled > 0


def test_cli_run_lands_every_sample_log(harness: Harness) -> None:
    """`log-ingestion run --from --to` as a subprocess lands all six logs, exit code 0."""
    result = harness.run_cli()

    assert (result.returncode, result.stderr) == (0, "")
    expected = {name: harness.truth(name) for name in SAMPLE_LOGS}
    actual = {name: harness.landed(name) for name in SAMPLE_LOGS}
    assert expected == actual


@pytest.mark.parametrize("name", ["firewall-traffic", "syslog-text"])
def test_keep_message_on_error_keeps_the_raw_line_only_where_it_is_needed(
    harness: Harness, name: str
) -> None:
    """KEEP_MESSAGE=on_error: every event lands once; the raw line stays on text rows,
    header rows and rows that did not parse, and is null where the columns hold it."""
    harness.ingest(rapid7_log_ids=[name], keep_message="on_error")
    table = harness.table(name)

    keys = sorted(
        zip(
            table.column("log_id").to_pylist(),
            table.column("sequence_number").to_pylist(),
            strict=True,
        )
    )
    assert [(log_id, seq) for log_id, seq, _ in harness.truth(name)] == keys
    kept = pc.invert(pc.is_null(table.column("message")))
    needs_it = pc.or_(
        pc.invert(pc.is_null(table.column("_parse_error"))),
        pc.is_in(table.column("_format"), pa.array(["text", "csv_header"])),
    )
    assert kept.to_pylist() == needs_it.to_pylist()
    truth = {seq: message for _, seq, message in harness.truth(name)}
    for seq, message in zip(
        table.column("sequence_number").to_pylist(),
        table.column("message").to_pylist(),
        strict=True,
    ):
        assert message in (None, truth[seq])
