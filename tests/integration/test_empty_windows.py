"""Windows the API counts as empty are committed without an event query, and only those:
a committed window between them keeps its rows."""

from __future__ import annotations

from log_ingestion.emulator import ANCHOR_MS

from .conftest import HarnessFactory, small

WINDOW_MS = 900_000  # the harness's 15-minute windows


def test_empty_windows_around_a_committed_one_leave_its_rows(
    make_harness: HarnessFactory,
) -> None:
    """A window committed with rows that the API later counts as empty (its events aged
    out) keeps them when the empty windows on either side of it are committed."""
    second = ANCHOR_MS + WINDOW_MS
    before = make_harness(small(start_ms=second, span_ms=WINDOW_MS, events_per_log=50))
    before.ingest(start_ms=second, end_ms=second + WINDOW_MS)
    landed = before.landed("app-kv")
    assert landed == before.truth("app-kv") != []

    later = make_harness(small(start_ms=ANCHOR_MS + 86_400_000, events_per_log=5))
    summary = later.ingest(start_ms=ANCHOR_MS, end_ms=ANCHOR_MS + 4 * WINDOW_MS)

    assert not summary.failed
    assert landed == before.landed("app-kv")
