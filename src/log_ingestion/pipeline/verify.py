"""The completeness check: a committed window's landed rows against the API's own count."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from log_ingestion.errors import ApiError, ApiRefusedError
from log_ingestion.logging import get_logger
from log_ingestion.models import Window
from log_ingestion.state import LogCheckpoint
from log_ingestion.stats import Counts

T = TypeVar("T")


def count_or_none(count: Callable[[], T]) -> T | None:
    """The API's count, or None when the count query failed.

    A failed count is only a missing check: the window's data is complete as far as
    paging can tell, so it commits unverified rather than being downloaded again (and,
    in follow mode, stuck). A refusal (the key, the log, the query) is not tolerated.
    """
    try:
        return count()
    except ApiRefusedError:
        raise
    except ApiError as exc:
        get_logger().warning("window.count_failed", error=str(exc))
        return None


def recorded(checkpoint: LogCheckpoint, window: Window, rows: int, api_count: int) -> LogCheckpoint:
    """`checkpoint` with the window's rows recorded against the API's count."""
    return checkpoint.with_verification(window, rows, api_count)


def density(checkpoint: LogCheckpoint) -> float | None:
    """Events per window over the log's recently verified windows; None when none were."""
    windows = checkpoint.verification.get("windows", 0)
    return checkpoint.verification.get("rows", 0) / windows if windows else None


def verdict(rows: int, api_count: int) -> Counts:
    """One verified window, and whether its count differed."""
    return Counts(verified=1, mismatches=int(rows != api_count))
