"""The lines the CLI prints itself: one JSON object each in JSON mode, `error: …` at a
console, the key cut out either way; a crash with its traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from log_ingestion import notices

SECRET = "k-3c9e7f1a2b"


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    notices.configure(as_json=True)
    notices._CONFIG.as_json = None
    notices.bind()


def test_json_errors_are_one_object_per_line_with_the_key_cut_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A two-line message is two JSON objects, `event` error, the key as `***`."""
    notices.configure(as_json=True, secrets=[SECRET])
    notices.bind(trace_id="t1")

    notices.error(f"first {SECRET}\nsecond")

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    expected = [("error", "first ***", "t1"), ("error", "second", "t1")]
    assert expected == [(r["event"], r["error"], r["trace_id"]) for r in records]


def test_console_errors_are_plain_error_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """At a console the same message is `error:` lines, redacted."""
    notices.configure(as_json=False, secrets=[SECRET])

    notices.error(f"bad {SECRET}")

    assert capsys.readouterr().err == "error: bad ***\n"


def test_before_configuration_a_pipe_gets_json(capsys: pytest.CaptureFixture[str]) -> None:
    """With nothing configured yet, stderr that is not a terminal gets JSON (`auto`)."""
    notices._CONFIG.as_json = None

    notices.error("early")

    assert json.loads(capsys.readouterr().err)["error"] == "early"


@pytest.mark.parametrize("as_json", [True, False])
def test_a_crash_shows_its_traceback_redacted(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug's traceback: a field of the JSON object, or lines before the `error:` line."""
    notices.configure(as_json=as_json, secrets=[SECRET])
    error = RuntimeError(f"boom {SECRET}")

    notices.crash(error, f"Traceback (most recent call last):\n  boom {SECRET}\n")

    text = capsys.readouterr().err
    assert SECRET not in text
    assert "Traceback" in text
    assert "unexpected RuntimeError: boom ***" in text
