"""Query planning, pure: which logs share a query, and which windows each query spans.

The API's rate limit counts requests, not events, so a query should carry as many events
as is sensible: consecutive windows of a log are read by one query, several sparse logs by
one query of them all, and windows the API counts as empty by no query at all. Counts come
first, for a run of windows at once (`window_counts`), and size the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Windows `first` to `last` (indexes into a block), read by one event query, or
    committed empty without one (`empty`)."""

    first: int
    last: int
    empty: bool = False


def spans(counts: Sequence[int | None], target_events: int) -> list[Span]:
    """Cut a block's windows into event queries of about `target_events` events each.

    `counts[i]` is the API's count of window i (None: unknown, such as a window still
    open). Windows counted empty before, between or after queries cost nothing: those
    at the edges are committed without a query, those inside a query ride along. A
    window counted over the target is a query of its own; unknown ones are always read.
    """
    planned: list[Span] = []
    start: int | None = None
    events = 0
    for index, count in enumerate(counts):
        if start is None:
            if count == 0:
                planned.append(Span(index, index, empty=True))
                continue
            start, events = index, 0
        elif count is not None and count and events + count > target_events:
            planned.append(Span(start, index - 1))
            start, events = index, 0
        events += count or 0
    if start is not None:
        planned.append(_trimmed(start, counts))
        trailing = len(counts) - 1 - planned[-1].last
        planned += [Span(i, i, empty=True) for i in range(len(counts) - trailing, len(counts))]
    return _joined(planned)


def _trimmed(start: int, counts: Sequence[int | None]) -> Span:
    """The last query, without the windows counted empty at its end."""
    last = len(counts) - 1
    while last > start and counts[last] == 0:
        last -= 1
    return Span(start, last)


def _joined(planned: list[Span]) -> list[Span]:
    """Neighbouring empty windows as one empty span: one commit for a quiet stretch."""
    joined: list[Span] = []
    for span in planned:
        if joined and span.empty and joined[-1].empty and joined[-1].last + 1 == span.first:
            joined[-1] = Span(joined[-1].first, span.last, empty=True)
        else:
            joined.append(span)
    return joined


@dataclass(frozen=True, slots=True)
class LogDensity:
    """A log, its grid, and how many events its windows held lately (None: unknown)."""

    log_id: str
    window_ms: int
    events_per_window: float | None


@dataclass(slots=True)
class _Group:
    ids: list[str]
    load: float = 0.0


def lanes(
    logs: Sequence[LogDensity], *, block_windows: int, target_events: int, max_logs: int
) -> list[tuple[str, ...]]:
    """Logs grouped to be read together: a log whose block of windows would fill a query
    reads alone; the others (unknown ones too) share queries, as many as fit `target_events`
    and `max_logs`, on the same grid. A shared lane that turns out dense is split later."""
    alone: list[tuple[str, ...]] = []
    shared: dict[int, list[_Group]] = {}
    for log in logs:
        expected = (log.events_per_window or 0.0) * block_windows
        if expected >= target_events or max_logs <= 1:
            alone.append((log.log_id,))
            continue
        groups = shared.setdefault(log.window_ms, [])
        last = groups[-1] if groups else None
        if last is None or len(last.ids) >= max_logs or last.load + expected > target_events:
            last = _Group([])
            groups.append(last)
        last.ids.append(log.log_id)
        last.load += expected
    return alone + [tuple(group.ids) for groups in shared.values() for group in groups]
