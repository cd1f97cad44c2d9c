"""The issue's bad-input matrix: each odd input, and what the pipeline or the CLI does with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pyarrow.compute as pc
import pytest
from tests.integration.conftest import SAMPLE_LOGS, Harness, HarnessFactory
from tests.integration.conftest import error_lines as _problems

from log_ingestion.emulator import DEFAULT_API_KEY, Dataset
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


# -- configuration and options refused at start, as a user runs the CLI ----------------

KEY_NON_ASCII = (
    "error: RAPID7_API_KEY: has a non-ASCII character (such as a smart quote); "
    "copy the key again as plain text"
)
IN_RANGE = "give a time from 1970-01-01 to 9999-12-31"
REFUSED_AT_START = [
    pytest.param({"RAPID7_API_KEY": f"“{DEFAULT_API_KEY}”"}, KEY_NON_ASCII, id="key-smart-quotes"),
    pytest.param(
        {"RAPID7_API_KEY": "emulator\nkey"},
        "error: RAPID7_API_KEY: has a line break inside it; the key is one line",
        id="key-inner-newline",
    ),
    pytest.param(
        {"REQUEST_TIMEOUT": "inf"},
        "error: REQUEST_TIMEOUT: Input should be a finite number",
        id="request-timeout-inf",
    ),
    pytest.param(
        {"POLL_INTERVAL": "inf"},
        "error: POLL_INTERVAL: Input should be a finite number",
        id="poll-interval-inf",
    ),
    pytest.param(
        {"MAX_POLL_WAIT": "86401"},
        "error: MAX_POLL_WAIT: Input should be less than or equal to 86400",
        id="max-poll-wait-over-a-day",
    ),
    pytest.param(
        {"PARQUET_COMPRESSION": "snappy", "PARQUET_COMPRESSION_LEVEL": "5"},
        "error: PARQUET_COMPRESSION_LEVEL: PARQUET_COMPRESSION=snappy has no levels; unset "
        "PARQUET_COMPRESSION_LEVEL, or choose a PARQUET_COMPRESSION that has them (zstd, gzip, lz4)",
        id="snappy-with-a-level",
    ),
    pytest.param(
        {"PARQUET_COMPRESSION": "gzip", "PARQUET_COMPRESSION_LEVEL": "22"},
        "error: PARQUET_COMPRESSION_LEVEL: PARQUET_COMPRESSION=gzip takes levels 1 to 9",
        id="gzip-level-22",
    ),
    pytest.param(
        {"START_TIME": "100000w"},
        "error: START_TIME: reaches back before 1970-01-01T00:00:00Z; give a shorter duration, "
        "or a time from 1970-01-01 to 9999-12-31",
        id="start-time-before-1970",
    ),
    pytest.param(
        {"WINDOW_SIZE": "7m"},
        "error: WINDOW_SIZE: must divide a day evenly (such as 1m, 5m, 15m, 1h, 6h or 1d), "
        "so windows start at midnight UTC",
        id="window-off-the-day",
    ),
]


def _outcome(result: subprocess.CompletedProcess[str]) -> tuple[int, list[str], bool]:
    """Exit code, the `error:` lines a user reads, and whether a traceback was printed."""
    return result.returncode, _problems(result.stderr), "Traceback" in result.stderr


@pytest.mark.parametrize(("env", "line"), REFUSED_AT_START)
def test_bad_configuration_is_refused_before_any_request(
    harness: Harness, env: dict[str, str], line: str
) -> None:
    """Each bad setting: exit 2, one line naming it, no traceback, nothing downloaded."""
    result = harness.run_cli(**env)

    assert (2, [line], False) == _outcome(result)
    assert harness.emulator.stats.total_requests == 0


def test_a_refused_key_is_never_shown(harness: Harness) -> None:
    """A key refused for its smart quotes is not echoed on stderr or stdout."""
    result = harness.run_cli(RAPID7_API_KEY=f"“{DEFAULT_API_KEY}”")

    assert DEFAULT_API_KEY not in result.stderr + result.stdout


def test_a_key_with_spaces_around_it_is_used_without_them(harness: Harness) -> None:
    """`RAPID7_API_KEY=" key "` ingests: the spaces are not part of the header."""
    result = harness.run_cli(RAPID7_API_KEY=f"  {DEFAULT_API_KEY} ")

    expected = (0, [], False)
    assert expected == _outcome(result)


def test_a_key_file_with_a_bom_and_crlf_is_used(harness: Harness) -> None:
    """A key file saved with a UTF-8 BOM and a CRLF line end ingests."""
    key_file = harness.tmp_path / "key"
    key_file.write_bytes(b"\xef\xbb\xbf" + DEFAULT_API_KEY.encode() + b"\r\n")

    result = harness.run_cli(RAPID7_API_KEY="", RAPID7_API_KEY_FILE=str(key_file))

    expected = (0, [], False)
    assert expected == _outcome(result)


def test_a_key_file_with_smart_quotes_is_refused_naming_the_file_variable(harness: Harness) -> None:
    """Smart quotes in the key file: exit 2, one line naming RAPID7_API_KEY_FILE."""
    key_file = harness.tmp_path / "key"
    key_file.write_text(f"“{DEFAULT_API_KEY}”\n", encoding="utf-8")

    result = harness.run_cli(RAPID7_API_KEY="", RAPID7_API_KEY_FILE=str(key_file))

    line = (
        "error: RAPID7_API_KEY_FILE: the key in it has a non-ASCII character (such as a smart "
        "quote); copy the key again as plain text"
    )
    assert (2, [line], False) == _outcome(result)


DOTENV_UNREADABLE = (
    "error: .env: cannot be read ({}); make it a file this user can read, "
    "or move it out of the working folder"
)


def _obeying_file_permissions() -> list[str]:
    """A command prefix under which root, too, is refused a file it has no permission for."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads any file, and setpriv is not here to drop that right")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}"]


def test_an_unreadable_dotenv_is_one_line(harness: Harness) -> None:
    """A .env this user may not read: exit 2, one line, no PermissionError traceback."""
    dotenv = harness.tmp_path / ".env"
    dotenv.write_text("LOG_LEVEL=INFO\n")
    dotenv.chmod(0)

    result = harness.cli("check", env=harness.env(), wrapper=_obeying_file_permissions())

    assert (2, [DOTENV_UNREADABLE.format("Permission denied")], False) == _outcome(result)


def test_a_dotenv_folder_is_one_line(harness: Harness) -> None:
    """A folder named .env in the working folder: exit 2, one line."""
    (harness.tmp_path / ".env").mkdir()

    result = harness.cli("check")

    assert (2, [DOTENV_UNREADABLE.format("Is a directory")], False) == _outcome(result)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param(
            ("run", "--to", "99999999999999999999"),
            f"error: --to: '99999999999999999999' is after 9999-12-31T23:59:59Z; {IN_RANGE}",
            id="to-after-9999",
        ),
        pytest.param(
            ("run", "--from", "99999999999999999999"),
            f"error: --from: '99999999999999999999' is after 9999-12-31T23:59:59Z; {IN_RANGE}",
            id="from-after-9999",
        ),
        pytest.param(
            ("run", "--from", "100000w"),
            "error: --from: '100000w' reaches back before 1970-01-01T00:00:00Z; give a shorter "
            "duration, or a time from 1970-01-01 to 9999-12-31",
            id="from-before-1970",
        ),
        pytest.param(
            ("state", "reset", "--log", LOG, "--from", "99999999999999999999"),
            f"error: --from: '99999999999999999999' is after 9999-12-31T23:59:59Z; {IN_RANGE}",
            id="state-reset-from-after-9999",
        ),
        pytest.param(
            ("run", "--follow", "--to", "1h"),
            "error: --to: --follow runs until stopped and takes no --to; drop --to, or drop "
            "--follow to stop at --to",
            id="follow-with-to",
        ),
    ],
)
def test_a_bad_time_is_refused_naming_the_option(
    harness: Harness, args: tuple[str, ...], line: str
) -> None:
    """A time outside 1970..9999, or --follow with --to: exit 2, one line, nothing requested."""
    result = harness.cli(*args)

    assert (2, [line], False) == _outcome(result)
    assert harness.emulator.stats.total_requests == 0


def test_check_refuses_a_start_time_that_is_not_a_time(harness: Harness) -> None:
    """`check` with START_TIME=garbage fails at load, like every other command."""
    result = harness.cli("check", env=harness.env(START_TIME="garbage"))

    line = (
        "error: START_TIME: is not a time; use ISO 8601 (2026-01-01T00:00:00Z), epoch "
        "milliseconds, `now`, or a duration ago such as 24h or 7d"
    )
    assert (2, [line], False) == _outcome(result)
    assert harness.emulator.stats.total_requests == 0


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("run", "--metrics-port", "99999"), "--metrics-port"),
        (("emulator", "--port", "99999"), "--port"),
    ],
)
def test_a_port_above_65535_is_a_usage_error(
    harness: Harness, args: tuple[str, ...], option: str
) -> None:
    """A port out of 0..65535 is refused by the option itself: exit 2, naming it."""
    result = harness.cli(*args)

    expected = (2, True, False)
    assert expected == (
        result.returncode,
        f"Invalid value for '{option}'" in result.stderr,
        "Traceback" in result.stderr,
    )


def test_a_file_uri_output_keeps_files_and_state_in_that_folder(harness: Harness) -> None:
    """OUTPUT_DIR=file:///… puts the Parquet and the checkpoints there, and nothing in ./file:."""
    target = harness.tmp_path / "uri-target"

    result = harness.run_cli("--logs", LOG, OUTPUT_DIR=target.as_uri())

    expected = (0, True, True, False)
    assert expected == (
        result.returncode,
        any(target.rglob("*.parquet")),
        any((target / "_state").glob("*.json")),
        (harness.tmp_path / "file:").exists(),
    )


def test_a_tilde_output_is_under_home(harness: Harness) -> None:
    """OUTPUT_DIR=~/x writes to $HOME/x, not to a folder named `~`."""
    home = harness.tmp_path / "home"

    result = harness.run_cli("--logs", LOG, HOME=str(home), OUTPUT_DIR="~/x")

    expected = (0, True, False)
    assert expected == (
        result.returncode,
        any((home / "x" / "_state").glob("*.json")),
        (harness.tmp_path / "~").exists(),
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


def test_log_names_with_brackets_print_whole_through_logs_run_and_state(
    make_harness: HarnessFactory,
) -> None:
    """Names such as `app [/var/log/app.log]` are common in real accounts: `logs`, `run` and
    `state` print them whole (not taken for rich markup), exit 0, and the events land."""
    names = ["app-kv [/var/log/app.log]", "syslog-text [dc1]"]
    harness = make_harness(Dataset(events_per_log=200, logsets=dict.fromkeys(names, "Apps")))
    env = harness.env(COLUMNS="200")
    span = ["--from", str(harness.start_ms), "--to", str(harness.end_ms)]

    results = {
        command: harness.cli(*command.split(), *(span if command == "run" else []), env=env)
        for command in ("logs", "run", "state")
    }

    for command, result in results.items():
        assert (command, result.returncode, "Traceback" in result.stderr) == (command, 0, False)
        assert all(name in result.stdout for name in names), (command, result.stdout)
    assert sorted(harness.landed(names[0])) == harness.truth(names[0])
