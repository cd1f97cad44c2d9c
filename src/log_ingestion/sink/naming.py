"""Names on disk: table directories, date partitions, data files, temps and journals.

Every name is built here and nowhere else, so the layout can be read in one place:

    <table>/date=YYYY-MM-DD/part-<start_ms>-<end_ms>-<token>-<n>.parquet     published
    <table>/_staging/part-<token>-<n>.parquet.tmp                             being written
    <table>/_staging/journal-<start_ms>-<end_ms>-<token>.json                 publish in flight

Readers never see `_staging`: pyarrow datasets skip `_`-prefixed paths and a
`**/*.parquet` glob does not match `.tmp` or `.json`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime

from log_ingestion.models import Window

DAY_MS = 86_400_000
PARTITION_KEY = "date"
STAGING_DIR = "_staging"
PARQUET_SUFFIX = ".parquet"
TEMP_SUFFIX = ".parquet.tmp"
JOURNAL_PREFIX = "journal-"
JOURNAL_SUFFIX = ".json"

_SLUG_MAX = 48
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SAFE_TABLE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")


def slug(text: str, *, fallback: str) -> str:
    """Lowercase ASCII letters and digits joined by `_`; `fallback` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _NOT_SLUG.sub("_", ascii_text.lower()).strip("_")
    return words[:_SLUG_MAX].rstrip("_") or fallback


def short_id(text: str) -> str:
    """A stable 10-hex-digit digest: distinct names whose slugs collide stay apart."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def table_dir_name(log_name: str, log_id: str) -> str:
    """A safe, stable directory name for a log's table: `<slug of name>-<short id of log id>`.

    It is one path component of `[a-z0-9_-]`, never empty, never starting with `_` or `.`
    (readers would skip it), at most 59 characters, and the same for the same log on every
    run and machine. The suffix comes from the log id, so two logs with one name differ.
    """
    return f"{slug(log_name, fallback='log')}-{short_id(log_id)}"


def check_table(table: str) -> str:
    """`table` as a single, reader-visible path component, or ValueError."""
    if not _SAFE_TABLE.fullmatch(table) or table in {".", ".."}:
        raise ValueError(f"unsafe table directory name {table!r}; build it with table_dir_name()")
    return table


def new_token() -> str:
    """A random token that tells one publish of a window from another."""
    return secrets.token_hex(6)


def day_of(timestamp_ms: int) -> int:
    """The UTC day number (days since the epoch) of a timestamp."""
    return timestamp_ms // DAY_MS


def days_of(window: Window) -> range:
    """The UTC day numbers a window touches."""
    return range(day_of(window.start_ms), day_of(window.end_ms - 1) + 1)


def partition_dir(day: int) -> str:
    """The Hive partition directory of a UTC day: `date=YYYY-MM-DD`."""
    date = datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC).date()
    return f"{PARTITION_KEY}={date.isoformat()}"


def window_prefix(window: Window) -> str:
    """What every published file of a window starts with, whichever publish wrote it."""
    return f"part-{window.start_ms}-{window.end_ms}-"


_DATA_FILE = re.compile(r"part-(\d+)-(\d+)-([0-9a-f]+)-(\d+)\.parquet")


def data_file_window(name: str) -> tuple[Window, str] | None:
    """The window and token a published file's name holds, or None for another name."""
    match = _DATA_FILE.fullmatch(name)
    if match is None:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return (Window(start, end), match.group(3)) if start < end else None


def data_file(window: Window, token: str, number: int) -> str:
    return f"{window_prefix(window)}{token}-{number}{PARQUET_SUFFIX}"


def temp_file(token: str, number: int) -> str:
    return f"part-{token}-{number}{TEMP_SUFFIX}"


def journal_file(window: Window, token: str) -> str:
    return f"{JOURNAL_PREFIX}{window.start_ms}-{window.end_ms}-{token}{JOURNAL_SUFFIX}"


def is_journal(name: str) -> bool:
    return name.startswith(JOURNAL_PREFIX) and name.endswith(JOURNAL_SUFFIX)


def join(base: str, *names: str) -> str:
    """Join with `/`, which every pyarrow filesystem (local ones included) accepts."""
    return "/".join([base.rstrip("/"), *names])
