"""The issue's bad-input matrix: each odd input, and what the pipeline or the CLI does with it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow.compute as pc
import pytest
from tests.integration.conftest import SAMPLE_LOGS, Harness, HarnessFactory
from tests.integration.conftest import error_lines as _problems

from log_ingestion.emulator import Dataset
from log_ingestion.ingest import run_once
from log_ingestion.models import LogInfo
from log_ingestion.sink import open_dataset, table_dir_name
from log_ingestion.wiring import assemble

MINUTE = 60_000
LOG = "app-kv"
ODD_NAMES = [
    "../../etc/passwd",
    "a/b/c",
    "nul\0byte",
    "🔥 firewall 日志",
    "",
    "..",
    ".hidden",
    "_staging",
]


def _append_inside(harness: Harness, name: str, messages: list[str]) -> None:
    harness.emulator.append(harness.dataset.log_id(name), messages, harness.start_ms + 20 * MINUTE)


def test_a_one_mebibyte_message_lands_whole(harness: Harness) -> None:
    """A 1 MiB message appended live lands byte-identical."""
    big = "level=INFO msg=" + "x" * (1 << 20)
    _append_inside(harness, LOG, [big])

    harness.ingest(rapid7_log_ids=[LOG])

    landed = harness.landed(LOG)
    assert harness.truth(LOG) == landed
    assert big in {message for _, _, message in landed}


def test_binary_looking_text_lands_unchanged(harness: Harness) -> None:
    """Control characters, NUL, ESC and U+FFFD inside messages land byte-identical."""
    odd = ["\x00\x01\x02 binary \x7f\x1b[31m", "bad utf-8 \ufffd\ufffd", "tab\tand\r\nnewline"]
    _append_inside(harness, LOG, odd)

    summary = harness.ingest(rapid7_log_ids=[LOG])

    assert summary.failed == []
    assert harness.truth(LOG) == harness.landed(LOG)


def test_a_lone_surrogate_lands_as_a_replacement_character(harness: Harness) -> None:
    """A message cut mid-emoji (an escaped lone surrogate) lands with U+FFFD, not a failed log."""
    _append_inside(harness, LOG, ["cut emoji \ud83d here"])

    summary = harness.ingest(rapid7_log_ids=[LOG])

    expected = sorted(
        (log_id, seq, message.replace("\ud83d", "\ufffd"))
        for log_id, seq, message in harness.truth(LOG)
    )
    assert ([], expected) == (summary.failed, harness.landed(LOG))


def test_csv_with_unbalanced_quotes_is_kept_with_a_parse_error(harness: Harness) -> None:
    """Unbalanced quotes in a headerless CSV log land whole with `_parse_error` set."""
    line = '2026-01-01,00:20:00,FRA50-C1,512,203.0.0.1,GET,"cdn.example.com,/,200,,x,0.1'
    _append_inside(harness, "cdn-access-noheader", [line])

    harness.ingest(rapid7_log_ids=["cdn-access-noheader"])

    table = harness.table("cdn-access-noheader")
    broken = table.filter(pc.equal(table.column("message"), line))
    assert harness.truth("cdn-access-noheader") == harness.landed("cdn-access-noheader")
    assert [error is not None for error in broken.column("_parse_error").to_pylist()] == [True]


def test_a_header_only_log_lands_its_header(make_harness: HarnessFactory) -> None:
    """A CSV log whose only event is its header lands that one row as `csv_header`."""
    counts = dict.fromkeys(SAMPLE_LOGS, 50)
    counts["firewall-traffic"] = 1
    harness = make_harness(Dataset(events_per_log=counts, span_ms=3_600_000))

    harness.ingest(rapid7_log_ids=["firewall-traffic"])

    table = harness.table("firewall-traffic")
    assert harness.truth("firewall-traffic") == harness.landed("firewall-traffic")
    assert table.column("_format").to_pylist() == ["csv_header"]


def test_an_empty_window_commits_with_no_rows(harness: Harness) -> None:
    """A range with no events commits its windows and writes no rows."""
    summary = harness.ingest(
        harness.end_ms + 60 * MINUTE, harness.end_ms + 90 * MINUTE, rapid7_log_ids=[LOG]
    )

    assert [(s.windows, s.counts.committed, s.counts.rows, s.error) for s in summary.logs] == [
        (2, 2, 0, None)
    ]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_log_names_map_to_one_safe_folder(name: str) -> None:
    """Any log name becomes one visible path component: no `/`, NUL, `..`, or leading `_`/`.`."""
    table = table_dir_name(name, "0c24fcd2-c496-45b8-a8ef-385845adf2ff")

    assert (table,) == Path(table).parts
    assert not table.startswith(("_", "."))
    assert table.isascii()
    assert "\0" not in table


@pytest.mark.parametrize("name", ODD_NAMES)
def test_the_pipeline_keeps_odd_log_names_inside_the_output(harness: Harness, name: str) -> None:
    """A log named like a path lands under OUTPUT_DIR in its own folder, name kept as data."""
    log_id = harness.dataset.log_id(LOG)
    settings = harness.settings(verify_counts=False)
    with assemble(settings, threading.Event()) as pieces:
        summary = run_once(pieces, [LogInfo(log_id, name)], harness.request())

    folders = [p.name for p in harness.output.iterdir() if p.is_dir() and p.name != "_state"]
    assert [table_dir_name(name, log_id)] == folders
    assert summary.failed == []
    table = open_dataset(str(harness.output / folders[0])).to_table()
    assert {name} == set(table.column("log_name").to_pylist())


def test_output_dir_that_is_a_file_exits_4_with_one_line(harness: Harness) -> None:
    """OUTPUT_DIR pointing at a file fails with a storage error (exit 4) naming it."""
    (harness.tmp_path / "a-file").write_text("not a folder")

    result = harness.run_cli(OUTPUT_DIR=str(harness.tmp_path / "a-file"))

    lines = _problems(result.stderr)
    assert (result.returncode, len(lines)) == (4, 1), result.stderr
    assert "a-file is a file" in lines[0]


def test_plain_http_to_a_remote_host_is_refused_at_start(harness: Harness) -> None:
    """`http://` to a non-loopback host exits 2 before any request."""
    result = harness.run_cli(RAPID7_API_ENDPOINT="http://logs.example.com")

    assert (
        result.returncode,
        _problems(result.stderr),
    ) == (
        2,
        [
            "error: RAPID7_API_ENDPOINT: plain http is refused except to localhost/127.0.0.1; use https://"
        ],
    )
    assert harness.emulator.stats.total_requests == 0


def test_an_api_key_on_the_command_line_is_refused(harness: Harness) -> None:
    """`--api-key` exits 2 and points at RAPID7_API_KEY, without echoing the key."""
    result = harness.run_cli("--api-key", "typed-in-the-shell")

    assert result.returncode == 2
    assert "RAPID7_API_KEY" in result.stderr
    assert "typed-in-the-shell" not in result.stderr + result.stdout


def test_a_missing_api_key_exits_2(harness: Harness) -> None:
    """With no RAPID7_API_KEY, `run` exits 2 with one line saying it is required."""
    env = {k: v for k, v in harness.env().items() if k != "RAPID7_API_KEY"}

    result = harness.cli("run", env=env)

    assert (
        result.returncode,
        _problems(result.stderr),
    ) == (
        2,
        [
            "error: RAPID7_API_KEY: required; set it in the environment, .env, or RAPID7_API_KEY_FILE"
        ],
    )


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_key_pasted_into_log_ids_is_redacted_on_the_error_line(
    make_harness: HarnessFactory, log_format: str
) -> None:
    """The key pasted into RAPID7_LOG_IDS: exit 2, and the `error:` line shows `***`."""
    secret = "sk-pasted-0f3e9a71c2"
    harness = make_harness(api_keys={secret: None})

    result = harness.run_cli(RAPID7_API_KEY=secret, RAPID7_LOG_IDS=secret, LOG_FORMAT=log_format)

    lines = result.stderr.splitlines()
    said = (
        _problems(result.stderr)
        if log_format == "json"
        else [line for line in lines if line.startswith("error: ")]
    )
    assert (result.returncode, said) == (
        2,
        [
            "error: RAPID7_LOG_IDS: unknown log(s) ***; `log-ingestion logs` lists the logs "
            "this key can see"
        ],
    )
    assert secret not in result.stderr + result.stdout


DAMAGES = {
    "table-outside-output": {"table": "../../etc"},
    "parser-state-garbage": {"parser_state": {"version": 1, "format": "csv", "columns": 5}},
}


@pytest.mark.parametrize("command", [("run",), ("state",), ("verify",)])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_checkpoint_exits_4_naming_its_file_and_the_fix(
    harness: Harness, damage: str, command: tuple[str, ...]
) -> None:
    """A checkpoint whose table leaves OUTPUT_DIR, or whose parser state is garbage: exit 4,
    one line with the file and the fix, no traceback, nothing written outside OUTPUT_DIR."""
    harness.ingest(rapid7_log_ids=[LOG])
    [path] = (harness.output / "_state").glob("*.json")
    document = json.loads(path.read_text())
    path.write_text(json.dumps(document | DAMAGES[damage]))
    around = sorted(harness.tmp_path.parent.iterdir())

    result = harness.cli(*command, env=harness.env(RAPID7_LOG_IDS=LOG))

    [line] = _problems(result.stderr)
    assert (result.returncode, "Traceback" in result.stderr) == (4, False)
    assert line.startswith(f"error: checkpoint {path} is unreadable (")
    assert "restore it from a backup, or move it away" in line
    assert around == sorted(harness.tmp_path.parent.iterdir())
