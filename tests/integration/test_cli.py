"""The CLI as a user runs it: a subprocess, a scrubbed environment, exit codes, readable errors.

Exit codes: 0 ok, 1 runtime, 2 configuration or usage, 3 authentication or permission.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import orjson
from tests.integration.conftest import SAMPLE_LOGS, Harness, HarnessFactory
from tests.integration.conftest import error_lines as problems

from log_ingestion.emulator import DEFAULT_API_KEY, Faults
from log_ingestion.state import JsonCheckpointStore

COMMANDS = [(), ("run",), ("logs",), ("check",), ("state",), ("state", "reset"), ("demo",)]


class RevokedAfterListing:
    """Log rights that let the key list every log, then refuse it each query (a 403)."""

    def __init__(self, listed: int) -> None:
        self._listed = listed

    def __contains__(self, _: object) -> bool:
        self._listed -= 1
        return self._listed >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_help_works_for_every_command(harness: Harness) -> None:
    """`--help` of the program and of each command exits 0 and prints a usage line."""
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "log_ingestion", *command, "--help"],
            env=harness.env(),
            cwd=harness.tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in COMMANDS
    ]
    results = [process.communicate(timeout=60) for process in started]

    expected = [(0, True, "")] * len(COMMANDS)
    actual = [
        (process.returncode, "Usage:" in out, err)
        for process, (out, err) in zip(started, results, strict=True)
    ]
    assert expected == actual


def test_help_shows_no_type_beside_flags(harness: Harness) -> None:
    """`run --help` names the flags bare (`--follow`), and values by type (`--to <str>`)."""
    result = harness.cli("run", "--help")

    assert (result.returncode, "<bool>" in result.stdout) == (0, False)
    assert "--to <str>" in result.stdout


def test_a_usage_error_in_json_mode_is_one_json_line(harness: Harness) -> None:
    """A mistyped option exits 2 with one JSON `error` object naming it and the help."""
    result = harness.cli("run", "--frm", "24h")

    assert (result.returncode, problems(result.stderr)) == (
        2,
        [
            "error: No such option: --frm (Possible options: --from) "
            "(see `python -m log_ingestion run --help`)"
        ],
    )


def test_a_usage_error_at_a_console_is_an_error_line(harness: Harness) -> None:
    """With LOG_FORMAT=console the same mistake is one plain `error:` line."""
    result = harness.cli("run", "--frm", "24h", env=harness.env(LOG_FORMAT="console"))

    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [
            "error: No such option: --frm (Possible options: --from) "
            "(see `python -m log_ingestion run --help`)"
        ],
    )


def test_logs_lists_the_six_sample_logs(harness: Harness) -> None:
    """`logs` prints each sample log's id and name."""
    result = harness.cli("logs")

    assert result.returncode == 0
    expected = {(harness.dataset.log_id(name), name) for name in SAMPLE_LOGS}
    assert expected == {(i, n) for i, n in expected if i in result.stdout and n in result.stdout}


def test_check_reports_ok_against_the_emulator(harness: Harness) -> None:
    """`check` reaches the API, accepts the key, names the 6 logs and the writable output."""
    result = harness.cli("check")

    assert (result.returncode, result.stderr) == (0, "")
    assert "key accepted; 6 log(s)" in result.stdout
    assert "output folder writable" in result.stdout


def test_check_with_a_bad_key_says_the_key_was_rejected(harness: Harness) -> None:
    """`check` with a wrong key exits 3 with one line that names RAPID7_API_KEY."""
    result = harness.cli("check", env=harness.env(RAPID7_API_KEY="not-the-key"))

    assert result.returncode == 3
    assert problems(result.stderr) == [
        "error: the API key was rejected (401 Unauthorized): check RAPID7_API_KEY and that the "
        "key belongs to this region (RAPID7_REGION or RAPID7_API_ENDPOINT)"
    ]


def test_run_with_a_bad_key_exits_3(harness: Harness) -> None:
    """`run` with a wrong key exits 3 with one readable line, no traceback."""
    result = harness.run_cli(RAPID7_API_KEY="not-the-key")

    assert result.returncode == 3
    assert len(problems(result.stderr)) == 1
    assert "401 Unauthorized" in problems(result.stderr)[0]
    assert "Traceback" not in result.stderr


def test_run_with_a_key_refused_on_the_log_exits_3(make_harness: HarnessFactory) -> None:
    """A 403 on a log's queries fails the run with exit code 3 and a line about rights."""
    harness = make_harness(api_keys={DEFAULT_API_KEY: RevokedAfterListing(listed=6)})

    result = harness.run_cli(RAPID7_LOG_IDS="app-kv")

    assert result.returncode == 3
    lines = problems(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "403 Forbidden" in lines[0]
    assert "app-kv" in lines[0]


def test_run_with_an_unknown_log_id_exits_2(harness: Harness) -> None:
    """An unknown log in RAPID7_LOG_IDS exits 2 and points at `log-ingestion logs`."""
    result = harness.run_cli(RAPID7_LOG_IDS="app-kv,no-such-log")

    assert result.returncode == 2
    assert problems(result.stderr) == [
        "error: RAPID7_LOG_IDS: unknown log(s) no-such-log; `log-ingestion logs` lists the "
        "logs this key can see"
    ]


def test_run_with_bad_leql_exits_2_with_the_server_reason(harness: Harness) -> None:
    """Invalid LEQL in RAPID7_QUERY is a configuration error: exit 2, the API's reason, once."""
    result = harness.run_cli(RAPID7_QUERY="where((")

    assert result.returncode == 2
    lines = problems(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Invalid LEQL query" in lines[0]
    assert "RAPID7_QUERY" in lines[0]


def test_from_after_to_exits_2(harness: Harness) -> None:
    """`--from` after `--to` is a usage error: exit 2, one line naming both."""
    result = harness.cli("run", "--from", "2026-01-02", "--to", "2026-01-01")

    assert result.returncode == 2
    assert problems(result.stderr) == [
        "error: --from (2026-01-02T00:00:00Z) must be before --to (2026-01-01T00:00:00Z)"
    ]


def test_a_next_link_that_loops_exits_1(make_harness: HarnessFactory) -> None:
    """A Next link that loops back fails the run (exit 1) with a line saying so."""
    harness = make_harness(faults=Faults(next_loop_at_page=2))

    result = harness.run_cli(RAPID7_LOG_IDS="app-kv", PER_PAGE="10", VERIFY_COUNTS="false")

    assert result.returncode == 1
    lines = problems(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Next link" in lines[0]


def test_a_poll_that_never_completes_exits_1(make_harness: HarnessFactory) -> None:
    """A query still running after MAX_POLL_WAIT exits 1 with a line naming MAX_POLL_WAIT."""
    harness = make_harness(faults=Faults(polls_before_ready=100_000))

    result = harness.run_cli(RAPID7_LOG_IDS="app-kv", MAX_POLL_WAIT="0.2")

    assert result.returncode == 1
    lines = problems(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "MAX_POLL_WAIT" in lines[0]


def test_exhausted_retries_exit_1_and_keep_the_checkpoint(make_harness: HarnessFactory) -> None:
    """When every request fails, the run exits 1 and commits nothing."""
    harness = make_harness(faults=Faults(error_rates={"start": 1.0}))

    result = harness.run_cli(RAPID7_LOG_IDS="app-kv", RETRY_ATTEMPTS="1")

    assert result.returncode == 1
    assert "503" in " ".join(problems(result.stderr)) or "500" in " ".join(problems(result.stderr))
    store = JsonCheckpointStore(str(harness.output / "_state"))
    assert store.load(harness.dataset.log_id("app-kv")).committed == ()


def test_state_lists_committed_ranges(harness: Harness) -> None:
    """`state` shows each ingested log with its committed range."""
    harness.ingest(rapid7_log_ids=["app-kv", "syslog-text"])

    result = harness.cli("state")

    assert result.returncode == 0
    assert "app-kv" in result.stdout
    assert "syslog-text" in result.stdout
    assert "2026-01-01T00:00:00Z..2026-01-01T01:00:00Z" in result.stdout


def test_state_reset_then_run_reingests_without_duplicates(harness: Harness) -> None:
    """After `state reset --log X --from T`, the next run ingests T onwards again, no repeats."""
    harness.ingest(rapid7_log_ids=["app-kv"])
    reset = harness.cli("state", "reset", "--log", "app-kv", "--from", "2026-01-01T00:30:00Z")
    stats_before = harness.emulator.stats.count("start")

    resumed = harness.cli(
        "run", "--to", str(harness.end_ms), env=harness.env(RAPID7_LOG_IDS="app-kv")
    )

    assert (reset.returncode, resumed.returncode) == (0, 0), resumed.stderr
    assert "forgot what was committed from 2026-01-01T00:30:00Z" in reset.stdout
    assert harness.truth("app-kv") == harness.landed("app-kv")
    store = JsonCheckpointStore(str(harness.output / "_state"))
    checkpoint = store.load(harness.dataset.log_id("app-kv"))
    assert ((harness.start_ms, harness.end_ms),) == checkpoint.committed
    assert harness.emulator.stats.count("start") > stats_before


def test_state_reset_of_an_unknown_log_exits_2(harness: Harness) -> None:
    """`state reset --log` of a log with no checkpoint exits 2 and points at `state`."""
    result = harness.cli("state", "reset", "--log", "nope")

    assert result.returncode == 2
    assert (problems(result.stderr)) == [
        "error: --log: no checkpoint for 'nope'; `log-ingestion state` lists them"
    ]


def test_demo_ingests_and_prints_the_summary(harness: Harness) -> None:
    """`demo --output tmp` runs its own emulator, ingests the 6 logs, says its parse errors
    are the sample's deliberate ones, and prints rows back."""
    env = {k: v for k, v in harness.env().items() if not k.startswith(("RAPID7", "OUTPUT"))}

    result = harness.cli("demo", "--output", "demo", "--events-per-log", "300", env=env)

    assert result.returncode == 0, result.stderr
    assert "6 logs, 1,800 events" in result.stdout
    assert "The 2 parse errors are the sample's deliberately malformed lines" in result.stdout
    assert "Read it with DuckDB" in result.stdout
    assert (harness.tmp_path / "demo").is_dir()


def test_run_logs_json_lines_on_stderr(harness: Harness) -> None:
    """With LOG_FORMAT=json and INFO, every stderr line is a JSON object with an event."""
    result = harness.run_cli(RAPID7_LOG_IDS="app-kv", LOG_LEVEL="INFO")

    events = [orjson.loads(line)["event"] for line in result.stderr.splitlines()]
    assert result.returncode == 0
    assert "window.done" in events
