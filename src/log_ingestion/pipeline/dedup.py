"""Deduplication: keep each event of a query once, and only the events inside its range."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from log_ingestion.models import EventPage, Window

Key = tuple[int, int, str]  # (timestamp, sequence_number, log_id)


class WindowFilter:
    """Keeps only events inside `window` (a query's range: one grid window or many, of one
    log or several), each `(timestamp, sequence_number, log_id)` once.

    The server pages in ascending order and `Next` re-runs the query from a position, so
    a repeat can only be a recent key: remembering the last `memory` keys is enough and
    keeps memory flat however large the window is. A page that lies wholly inside the
    window and wholly after every key seen so far (the usual case) is checked on its
    columns alone; the set of recent keys is only built once a page needs a key-by-key
    look.
    """

    def __init__(self, window: Window, memory: int = 20_000) -> None:
        self._window = window
        # Built from `_batches` by the first page that needs a key-by-key look.
        self._recent: set[Key] | None = None
        self._batches: deque[_Keys] = deque()  # the key columns of the kept pages
        self._remembered = 0
        self._memory = memory
        self._highest: Key | None = None
        self.outside = 0
        self.duplicates = 0

    def keep(self, page: EventPage) -> EventPage:
        if not len(page):
            return page
        keys = _Keys.of(page)
        if self._all_new_and_inside(keys):
            self._remember(keys)
            return page
        return self._keep_one_by_one(page, keys)

    def _all_new_and_inside(self, keys: _Keys) -> bool:
        """Every timestamp inside the window, every key above every key seen so far, and
        no sequence number twice: checked on whole columns, without a key per event."""
        low, high = min(keys.timestamps), max(keys.timestamps)
        if not (self._window.contains(low) and self._window.contains(high)):
            return False
        if self._highest is not None and not self._all_above_highest(keys, low):
            return False
        return len(set(keys.sequence_numbers)) == len(keys)

    def _all_above_highest(self, keys: _Keys, low: int) -> bool:
        assert self._highest is not None
        if low != self._highest[0]:
            return low > self._highest[0]
        # A page that goes on in the millisecond the last one ended in (busy logs): only
        # its rows at that millisecond need their keys.
        return min(key for key in keys.each() if key[0] == low) > self._highest

    def _keep_one_by_one(self, page: EventPage, keys: _Keys) -> EventPage:
        recent = self._recent_keys()
        kept = EventPage()
        for index, key in enumerate(keys.each()):
            if not self._window.contains(key[0]):
                self.outside += 1
                continue
            if key in recent:
                self.duplicates += 1
                continue
            recent.add(key)
            kept.timestamps.append(key[0])
            kept.sequence_numbers.append(key[1])
            kept.log_ids.append(key[2])
            kept.messages.append(page.messages[index])
            kept.labels.append(page.labels[index])
        if len(kept):
            self._remember(_Keys.of(kept))
        return kept

    def _recent_keys(self) -> set[Key]:
        if self._recent is None:
            self._recent = {key for batch in self._batches for key in batch.each()}
        return self._recent

    def _remember(self, keys: _Keys) -> None:
        if self._recent is not None:
            self._recent.update(keys.each())
        self._batches.append(keys)
        self._remembered += len(keys)
        highest = keys.highest()
        if self._highest is None or highest > self._highest:
            self._highest = highest
        while self._remembered - len(self._batches[0]) >= self._memory:
            oldest = self._batches.popleft()
            self._remembered -= len(oldest)
            if self._recent is not None:
                self._recent.difference_update(oldest.each())


@dataclass(slots=True)
class _Keys:
    """The key columns of kept events (the page's own lists, not copies)."""

    timestamps: list[int]
    sequence_numbers: list[int]
    log_ids: list[str]

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def of(cls, page: EventPage) -> _Keys:
        return cls(page.timestamps, page.sequence_numbers, page.log_ids)

    def each(self) -> zip[Key]:
        return zip(self.timestamps, self.sequence_numbers, self.log_ids, strict=True)

    def highest(self) -> Key:
        # Only rows from the first one at the latest timestamp on can hold the highest key.
        start = self.timestamps.index(max(self.timestamps))
        return max(
            zip(
                self.timestamps[start:],
                self.sequence_numbers[start:],
                self.log_ids[start:],
                strict=True,
            )
        )
