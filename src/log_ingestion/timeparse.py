"""Times and durations: ISO 8601, epoch milliseconds, `now`, or `24h`/`7d` ago.

Every time is held to what the Log Search API and Python's datetime can both represent,
1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z; anything else is refused with one line,
before it can size a plan or reach `datetime`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from log_ingestion.errors import ConfigError

EPOCH_MS_DIGITS = 11  # epoch milliseconds have at least 11 digits since 1973
EPOCH_SECONDS_DIGITS = 9  # epoch seconds have 9-10 digits from 1973 to 2286

EARLIEST_MS = 0  # 1970-01-01T00:00:00Z
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_IN_RANGE = "give a time from 1970-01-01 to 9999-12-31"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_SHOWN_CHARS = 40

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE | re.ASCII
)
_UNIT_MS = {
    "ms": 1,
    "s": 1_000,
    "sec": 1_000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}


def parse_duration_ms(text: str) -> int:
    """`90s`, `15m`, `1h`, `7d`, `250ms` -> milliseconds. A bare number means seconds.

    However many digits it has, the result is an int (never a float overflow); the caller
    bounds it.
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError("not a duration; use e.g. 90s, 15m, 1h, 7d")
    number, unit = match.groups()
    return int(Decimal(number) * _UNIT_MS[(unit or "s").lower()])


def time_ms(text: str, *, now_ms: int) -> int:
    """Epoch milliseconds for `text`; a relative duration counts back from `now_ms`.

    Raises `ValueError` saying what is wrong, phrased to follow the name of what was given.
    """
    value = text.strip()
    if value.lower() == "now":
        return now_ms
    if value.isascii() and value.isdigit():
        if len(value.lstrip("0")) > len(str(LATEST_MS)):
            raise ValueError(f"is after 9999-12-31T23:59:59Z; {_IN_RANGE}")
        if len(value) >= EPOCH_MS_DIGITS:
            return _bounded(int(value))
        if len(value) >= EPOCH_SECONDS_DIGITS:
            # almost surely epoch seconds; read as "that many seconds ago" it would mean 1970
            raise ValueError(
                f"looks like epoch seconds; give epoch milliseconds ({value}000), "
                "ISO 8601, or a duration with a unit such as 90s"
            )
    try:
        ago_ms = parse_duration_ms(value)
    except ValueError:
        return _bounded(_iso_ms(value))
    if now_ms - ago_ms < EARLIEST_MS:
        raise ValueError(
            "reaches back before 1970-01-01T00:00:00Z; give a shorter duration, or a time from 1970-01-01 to 9999-12-31"
        )
    return now_ms - ago_ms


def _iso_ms(value: str) -> int:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            "is not a time; use ISO 8601 (2026-01-01T00:00:00Z), "
            "epoch milliseconds, `now`, or a duration ago such as 24h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MS  # exact milliseconds, no float rounding


def _bounded(epoch_ms: int) -> int:
    if epoch_ms < EARLIEST_MS:
        raise ValueError(f"is before 1970-01-01T00:00:00Z; {_IN_RANGE}")
    if epoch_ms > LATEST_MS:
        raise ValueError(f"is after 9999-12-31T23:59:59Z; {_IN_RANGE}")
    return epoch_ms


def parse_duration(text: str, *, option: str) -> int:
    """`parse_duration_ms`, with a problem raised as one `ConfigError` line naming `option`."""
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {_shown(text)} {exc}") from None


def parse_time(text: str, *, now_ms: int, option: str = "--from") -> int:
    """`time_ms`, with a problem raised as one `ConfigError` line naming `option` and `text`."""
    try:
        return time_ms(text, now_ms=now_ms)
    except ValueError as exc:
        raise ConfigError(f"{option}: {_shown(text)} {exc}") from None


def _shown(text: str) -> str:
    """`text` quoted for a message, cut short so a pasted blob still makes one line."""
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 1] + "…"
    return repr(text)


def format_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_ms(clock: Callable[[], float] = time.time) -> int:
    """The time in epoch milliseconds."""
    return int(clock() * 1000)


def parse_range(from_: str | None, to: str | None, *, now_ms: int) -> tuple[int | None, int | None]:
    """`--from` and `--to` (either may be absent), each as `parse_time` reads it; a `--from`
    not before `--to` is one `ConfigError` line."""
    start_ms = parse_time(from_, now_ms=now_ms) if from_ else None
    end_ms = parse_time(to, now_ms=now_ms, option="--to") if to else None
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise ConfigError(
            f"--from ({format_ms(start_ms)}) must be before --to ({format_ms(end_ms)})"
        )
    return start_ms, end_ms
