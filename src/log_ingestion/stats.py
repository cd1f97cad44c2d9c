"""`Counts`: what a window, a log or a run did, as one frozen value that adds up."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields, replace

REQUEST_FIELDS = ("requests", "polls", "retries", "rate_limited", "api_seconds")


@dataclass(frozen=True, slots=True)
class Counts:
    """Counters of ingested work; `a + b` adds them field by field.

    A window's counts, summed, are its log's; a log's, summed, are the run's. The same
    value feeds the `window.done` and `run.done` lines, the metrics and the CLI table.
    """

    windows: int = 0  # windows published (committed or not)
    committed: int = 0  # windows committed to the checkpoint
    rows: int = 0
    pages: int = 0
    files: int = 0
    bytes: int = 0
    message_bytes: int = 0  # raw message bytes read, for the compression ratio
    parse_errors: int = 0
    verified: int = 0  # committed windows checked against the API's count
    mismatches: int = 0  # of those, the ones whose count differed
    requests: int = 0
    polls: int = 0
    retries: int = 0
    rate_limited: int = 0
    api_seconds: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def with_requests_of(self, tally: Counts) -> Counts:
        """These counts with `tally`'s request counters (a run's tally sees every request,
        the windows' and the rest: listing logs, retries before a window began)."""
        return replace(self, **{name: getattr(tally, name) for name in REQUEST_FIELDS})

    def fields(self) -> dict[str, int | float]:
        """The counters as log fields, `api_seconds` rounded to milliseconds."""
        values: dict[str, int | float] = {
            field.name: getattr(self, field.name) for field in fields(self)
        }
        values["api_seconds"] = round(self.api_seconds, 3)
        return values


def total(counts: list[Counts]) -> Counts:
    """The sum of `counts` (zero for none)."""
    return sum(counts, Counts())
