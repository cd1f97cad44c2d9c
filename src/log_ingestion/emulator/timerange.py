"""Relative time ranges (`Last 30 Days`, `last 10 min`, `today`) resolved to epoch ms."""

from __future__ import annotations

import re

_UNITS_MS = {
    "s": 1000,
    "sec": 1000,
    "second": 1000,
    "m": 60_000,
    "min": 60_000,
    "minute": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hour": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "w": 7 * 86_400_000,
    "week": 7 * 86_400_000,
    "month": 30 * 86_400_000,
    "year": 365 * 86_400_000,
}
_LAST = re.compile(r"^last\s+(\d+)?\s*([a-z]+?)s?$")
DAY_MS = 86_400_000


def resolve(time_range: str, now_ms: int) -> tuple[int, int] | None:
    """`[from, to)` for a relative range, or None when the text is not understood."""
    text = " ".join(time_range.lower().split())
    midnight = now_ms - now_ms % DAY_MS
    if text == "today":
        return midnight, now_ms
    if text == "yesterday":
        return midnight - DAY_MS, midnight
    match = _LAST.match(text)
    if match is None:
        return None
    amount = int(match.group(1) or 1)
    unit = _UNITS_MS.get(match.group(2)) or _UNITS_MS.get(match.group(2).rstrip("s"))
    if unit is None:
        return None
    return now_ms - amount * unit, now_ms
