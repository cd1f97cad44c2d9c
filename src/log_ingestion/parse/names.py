"""Column names: sanitised, unique, never colliding with the pipeline's own columns.

A log's field keys (CSV header names, JSON and key=value keys) are mapped to column
names once and remembered, so the same key always lands in the same column and a new
key never takes a name that an older one already holds. Names are compared without case:
DuckDB and other engines fold identifiers, so `Src` and `src` would collide there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

RESERVED_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "sequence_number",
    "log_id",
    "log_name",
    "labels",
    "message",
    "_parse_error",
    "_format",
)
_RESERVED = frozenset(name.casefold() for name in RESERVED_COLUMNS)
_NOT_A_NAME_CHAR = re.compile(r"[^A-Za-z0-9_]")
# A key is a field name plus which of several equal names it is (CSV headers and
# key=value lines may repeat a name; the second one is a different field).
Key = tuple[str, int]


def sanitise(raw: str, position: int) -> str:
    """`raw` as a column name: `[A-Za-z0-9_]` only, no leading digit, never reserved.

    `position` (1-based) names a field whose name is empty: `col_<position>`.
    """
    name = _NOT_A_NAME_CHAR.sub("_", raw.strip().lstrip("\ufeff"))
    if not name:
        return f"col_{position}"
    if name[0].isdigit():
        name = "_" + name
    if name.casefold() in _RESERVED:
        name = "msg_" + name
    return name


class ColumnNames:
    """The key -> column name mapping of one log, in first-seen order."""

    def __init__(self, pairs: Sequence[tuple[Key, str]] = ()) -> None:
        self._by_key: dict[Key, str] = {}
        self._taken: set[str] = set()
        for key, name in pairs:
            self._by_key[key] = name
            self._taken.add(name.casefold())

    def for_fields(self, fields: Sequence[str]) -> list[str]:
        """Column names of a record's fields, in order; unknown ones are allocated."""
        seen: dict[str, int] = {}
        names = []
        for position, raw in enumerate(fields, start=1):
            occurrence = seen[raw] = seen.get(raw, 0) + 1
            names.append(self.for_key((raw, occurrence), position))
        return names

    def for_key(self, key: Key, position: int) -> str:
        name = self._by_key.get(key)
        if name is None:
            name = self._allocate(sanitise(key[0], position))
            self._by_key[key] = name
        return name

    def _allocate(self, base: str) -> str:
        name, suffix = base, 2
        while name.casefold() in self._taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self._taken.add(name.casefold())
        return name

    def pairs(self) -> list[tuple[Key, str]]:
        return list(self._by_key.items())
