"""The lines the program prints on stderr itself, besides its log records: `error:` lines,
usage errors, a crash, the second signal.

They follow the log lines: one JSON object per line when those are JSON (`LOG_FORMAT=json`,
or `auto` with stderr not a terminal), so `journalctl -o cat | jq .` reads all of stderr;
`error: ...` otherwise. The API key is cut out of them as out of every log record. Until the
configuration is read (a usage error, a problem in the configuration) the CLI configures
them from whatever settings can be read; without any, the format is `auto`.

    notices.error("RAPID7_LOG_IDS: unknown log(s) …")   # one line per line of the message
    notices.say("shutdown.forced", "second signal: exiting now", level="warning", fd=True)

Nothing heavy is imported: a usage error, `--help` or a signal handler may print one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from log_ingestion.redact import RedactValues

LOG_FORMATS = ("auto", "json", "console")


class _Stream(Protocol):
    def isatty(self) -> bool: ...


@dataclass(slots=True)
class _Config:
    as_json: bool | None = None  # None: not configured yet, `auto`
    redact: RedactValues = field(default_factory=lambda: RedactValues(()))
    context: dict[str, Any] = field(default_factory=dict)


_CONFIG = _Config()


def wants_json(log_format: str, stream: _Stream) -> bool:
    """`auto` is JSON unless the stream is a terminal."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: choose one of {', '.join(LOG_FORMATS)}")
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def configure(*, as_json: bool, secrets: Iterable[str] = ()) -> None:
    """Print like the log records: JSON or not, with these secrets cut out."""
    _CONFIG.as_json = as_json
    _CONFIG.redact = RedactValues(secrets)


def configured() -> bool:
    """Whether `configure` has been called (the settings were read)."""
    return _CONFIG.as_json is not None


def bind(**context: Any) -> None:
    """Fields every JSON line carries from now on (the run's `trace_id`)."""
    _CONFIG.context = dict(context)


def error(message: str) -> None:
    """`message`, one `error:` line (or JSON object) per line of it."""
    for line in message.splitlines() or [""]:
        say("error", line, level="error", prefix="error: ", key="error")


def say(
    event: str,
    text: str,
    *,
    level: str,
    prefix: str = "",
    key: str = "message",
    fd: bool = False,
    **fields: Any,
) -> None:
    """One line about `event`: `{"event", "level", "timestamp", key: text, **fields}` as JSON,
    else `prefix + text`. `fd=True` writes straight to file descriptor 2, as a signal
    handler must (the interrupted code may be inside a write to `sys.stderr`)."""
    text = _CONFIG.redact.text(text)
    as_json = _CONFIG.as_json
    if as_json is None:
        as_json = wants_json("auto", sys.stderr)
    if as_json:
        record = {"event": event, "level": level, key: text, **fields, **_CONFIG.context}
        record["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        line = json.dumps(_CONFIG.redact(None, level, record), ensure_ascii=False)
    else:
        line = prefix + text
    if fd:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    else:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def crash(error: BaseException, trace: str) -> None:
    """A bug: its traceback (a field of the JSON object, or lines before the `error:` line)."""
    text = f"unexpected {type(error).__name__}: {error}"
    if _CONFIG.as_json is False or (_CONFIG.as_json is None and sys.stderr.isatty()):
        sys.stderr.write(_CONFIG.redact.text(trace))
        error_line = text
        say("crash", error_line, level="error", prefix="error: ", key="error")
        return
    say("crash", text, level="error", prefix="error: ", key="error", traceback=trace)
