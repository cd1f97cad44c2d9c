"""Logging: JSON lines or console, the level respected, trace context, secrets never shown."""

from __future__ import annotations

import contextvars
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from log_ingestion.logging import (
    REDACTED,
    RedactValues,
    configure_logging,
    get_logger,
    new_request_id,
    start_trace,
    wants_json,
)

SECRET = "s3cr3t-api-key-0123456789"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_level_timestamp_and_fields() -> None:
    """LOG_FORMAT=json: one JSON object per line with event, level, ISO timestamp and fields."""
    stream = io.StringIO()
    assert configure_logging("INFO", "json", stream) is True

    get_logger(log_id="abc").info("window.done", rows=3)

    [line] = json_lines(stream)
    assert {
        "event": "window.done",
        "level": "info",
        "log_id": "abc",
        "rows": 3,
    }.items() <= line.items()
    assert line["timestamp"].endswith("Z")


def test_level_is_respected() -> None:
    """LOG_LEVEL=WARNING drops info and debug lines; DEBUG keeps them."""
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream)
    get_logger().debug("a")
    get_logger().info("b")
    get_logger().warning("c")
    assert [line["event"] for line in json_lines(stream)] == ["c"]

    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    get_logger().debug("a")
    assert [line["event"] for line in json_lines(stream)] == ["a"]


def test_console_format_is_readable_text() -> None:
    """LOG_FORMAT=console renders `event key=value`, not JSON, and without colours off a TTY."""
    stream = io.StringIO()
    assert configure_logging("INFO", "console", stream) is False

    get_logger().info("run.start", logs=2)

    text = stream.getvalue()
    assert "run.start" in text
    assert "logs=2" in text
    assert "\x1b[" not in text
    assert not text.startswith("{")


@pytest.mark.parametrize(
    ("log_format", "tty", "expected"),
    [
        ("auto", True, False),
        ("auto", False, True),
        ("json", True, True),
        ("console", False, False),
    ],
)
def test_auto_is_console_at_a_terminal_and_json_elsewhere(
    log_format: str, tty: bool, expected: bool
) -> None:
    """`auto` picks the console renderer at a terminal and JSON otherwise."""
    stream = FakeTerminal() if tty else io.StringIO()
    assert expected == wants_json(log_format, stream)


def test_unknown_format_is_refused() -> None:
    """A format other than auto, json or console is an error, not a silent default."""
    with pytest.raises(ValueError, match="log format"):
        configure_logging("INFO", "xml", io.StringIO())


def test_trace_id_is_on_every_line_and_new_per_run() -> None:
    """start_trace binds a fresh trace_id that every later line carries."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    first = start_trace()
    get_logger().info("one")
    get_logger().info("two")
    second = start_trace()
    get_logger().info("three")

    assert [first, first, second] == [line["trace_id"] for line in json_lines(stream)]
    assert first != second


def test_context_reaches_threads_started_from_a_copy() -> None:
    """A thread started in a copy of the caller's context logs its trace and log context."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    trace_id = start_trace()

    with structlog.contextvars.bound_contextvars(log_id="log-1", window_start=0):
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(lambda: get_logger().info("inner"),))
        thread.start()
        thread.join()

    [line] = json_lines(stream)
    assert {"trace_id": trace_id, "log_id": "log-1", "window_start": 0}.items() <= line.items()


def test_request_ids_are_short_and_unique() -> None:
    """Each request gets its own 16-hex-digit id."""
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(value) == 16 and int(value, 16) >= 0 for value in ids)


@pytest.mark.parametrize("key", ["api_key", "x-api-key", "rapid7_api_key", "authorization"])
def test_secret_looking_keys_are_redacted(key: str) -> None:
    """A value logged under a secret-looking key never appears."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    get_logger().info("oops", **{key: "anything-at-all"})

    [line] = json_lines(stream)
    assert line[key] == REDACTED
    assert "anything-at-all" not in stream.getvalue()


def test_secret_values_are_cut_out_of_any_text() -> None:
    """The API key is removed from messages, nested values and bound context alike."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream, secrets=[SECRET])

    get_logger(url=f"https://x/?k={SECRET}").info(
        f"failed with {SECRET}", headers={"x": SECRET}, args=[SECRET, 1], pair=(SECRET,)
    )

    text = stream.getvalue()
    assert SECRET not in text
    [line] = json_lines(stream)
    assert f"failed with {REDACTED}" == line["event"]
    assert line["headers"] == {"x": REDACTED}
    assert line["args"] == [REDACTED, 1]


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_secret_values_are_cut_out_of_tracebacks(log_format: str) -> None:
    """An exception whose text holds the key is logged with the key redacted."""
    stream = io.StringIO()
    configure_logging("INFO", log_format, stream, secrets=[SECRET])

    try:
        raise RuntimeError(f"the key {SECRET} leaked into an error")
    except RuntimeError:
        get_logger().exception("crashed")

    text = stream.getvalue()
    assert SECRET not in text
    assert "leaked into an error" in text


def test_empty_secrets_change_nothing() -> None:
    """An unset key (empty string) must not turn every line into asterisks."""
    event = {"event": "hello", "n": 1}
    assert RedactValues(["", ""])(None, "info", dict(event)) == {"event": "hello", "n": 1}


def test_default_stream_follows_a_redirected_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a stream, lines go to whatever sys.stderr is at the time of the call."""
    configure_logging("INFO", "json")
    replaced = io.StringIO()
    monkeypatch.setattr("sys.stderr", replaced)

    get_logger().info("to the redirect")

    assert [line["event"] for line in json_lines(replaced)] == ["to the redirect"]


def test_a_logger_created_before_configuration_follows_it() -> None:
    """Module-level loggers (made at import) write with the configuration made later."""
    early = get_logger(component="parse")
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    early.warning("parse.failed")

    [line] = json_lines(stream)
    assert {"event": "parse.failed", "component": "parse"}.items() <= line.items()
