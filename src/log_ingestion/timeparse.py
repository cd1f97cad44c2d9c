"""Times: those given on the command line (ISO 8601, epoch milliseconds, `now`, or `24h`/`7d`
ago), printed ones, and now."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from log_ingestion.config import parse_duration_ms
from log_ingestion.errors import ConfigError

EPOCH_MS_DIGITS = 11  # epoch milliseconds have at least 11 digits since 1973
EPOCH_SECONDS_DIGITS = 9  # epoch seconds have 9-10 digits from 1973 to 2286


def parse_time(text: str, *, now_ms: int, option: str = "--from") -> int:
    """Epoch milliseconds for `text`; a relative duration counts back from `now_ms`."""
    value = text.strip()
    if value.lower() == "now":
        return now_ms
    if value.isdigit() and len(value) >= EPOCH_MS_DIGITS:
        return int(value)
    if value.isdigit() and len(value) >= EPOCH_SECONDS_DIGITS:
        # almost surely epoch seconds; read as "that many seconds ago" it would mean 1970
        raise ConfigError(
            f"{option}: {text!r} looks like epoch seconds; give epoch milliseconds "
            f"({value}000), ISO 8601, or a duration with a unit such as 90s"
        )
    try:
        return now_ms - parse_duration_ms(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option}: cannot read {text!r}; use ISO 8601 (2026-01-01T00:00:00Z), "
            "epoch milliseconds, `now`, or a duration ago such as 24h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def format_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_ms(clock: Callable[[], float] = time.time) -> int:
    """The time in epoch milliseconds."""
    return int(clock() * 1000)
