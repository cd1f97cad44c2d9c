"""Pure reading of Log Search response bodies: links, completion, events.

Hrefs are followed exactly as the server gives them; nothing here builds a URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import msgspec

from log_ingestion.errors import ApiError
from log_ingestion.models import EventPage, Window

Body = Mapping[str, Any]


class WireEvent(msgspec.Struct, gc=False):
    """The fields of an event we keep; the rest (Context links) is skipped while decoding."""

    timestamp: int
    log_id: str = ""
    message: str | None = None
    sequence_number_str: str | None = None
    sequence_number: int | float | None = None
    labels: list[Any] = msgspec.field(default_factory=list)


class QueryBody(TypedDict, total=False):
    """The keys of a query response that the client reads; others are dropped on decode."""

    events: list[WireEvent]
    links: list[Any]
    progress: int | float
    statistics: dict[str, Any]
    id: str


_QUERY_BODY = msgspec.json.Decoder(QueryBody)


def decode_query_body(content: bytes) -> Body | None:
    """Typed decoding of a query response, without a dict per event.

    None when the body does not fit the expected shape (or is not valid JSON), so the
    caller falls back to generic decoding and its error handling.
    """
    try:
        return _QUERY_BODY.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def find_link(body: Body, rel: str) -> str | None:
    """The href of the first link whose `rel` matches, case-insensitively (`Self` or `self`)."""
    links = body.get("links")
    if not isinstance(links, list):
        return None
    wanted = rel.lower()
    for link in links:
        if isinstance(link, Mapping) and str(link.get("rel", "")).lower() == wanted:
            href = link.get("href")
            if isinstance(href, str) and href:
                return href
    return None


def is_running(body: Body) -> bool:
    """A query is running while its body carries a Self link to poll.

    Completion is read from the body, never from the status code: polls answer 200
    both while running and when done. Done means no Self link; `progress` reaching 100
    with a Self link still there is polled once more rather than read as an empty page.
    """
    return find_link(body, "self") is not None


def is_unfinished(body: Body) -> bool:
    """The body says the query runs on (`progress` below 100): done means no Self link and
    `progress` absent or 100."""
    progress = body.get("progress")
    return isinstance(progress, int | float) and not isinstance(progress, bool) and progress < 100


LabelNames = Callable[[str], str]


def _labels(raw: object, name_of: LabelNames) -> list[str]:
    """Label names: an event carries `{"id", "links"}`, so a name is asked for by id."""
    if not isinstance(raw, list):
        return []
    labels = []
    for label in raw:
        if isinstance(label, Mapping):
            name = label.get("name")
            labels.append(str(name) if name else name_of(str(label.get("id") or "")))
        else:
            labels.append(str(label))
    return labels


def _as_is(label_id: str) -> str:
    return label_id


def _sequence_number(event: Mapping[str, Any]) -> int:
    return exact_sequence_number(event.get("sequence_number_str"), event.get("sequence_number"))


def exact_sequence_number(text: object, number: object) -> int:
    """The exact sequence number: `sequence_number_str` first, as the numeric field may be rounded."""
    if isinstance(text, str) and text.isascii() and text.isdigit():
        return int(text)
    if isinstance(number, int):
        return number
    raise ApiError(
        "an event has no usable sequence_number_str; the response is not a Log Search page"
    )


def events_of(body: Body, name_of: LabelNames = _as_is) -> EventPage:
    """Split a completed page's `events` into columns, keeping every field exact; labels
    named by `name_of` (by default they keep their ids)."""
    page = EventPage()
    events = body.get("events") or []
    if not isinstance(events, list):
        raise ApiError(
            "the response's `events` is not a list; the response is not a Log Search page"
        )
    if events and isinstance(events[0], WireEvent):
        return _columns_of(events, name_of)
    for event in events:
        if not isinstance(event, Mapping):
            raise ApiError("an event is not an object; the response is not a Log Search page")
        message = event.get("message")
        page.timestamps.append(_timestamp(event))
        page.sequence_numbers.append(_sequence_number(event))
        page.log_ids.append(str(event.get("log_id", "")))
        page.messages.append(message if isinstance(message, str) else str(message or ""))
        page.labels.append(_labels(event.get("labels"), name_of))
    return page


def _timestamp(event: Mapping[str, Any]) -> int:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return int(timestamp)
    raise ApiError("an event has no numeric timestamp; the response is not a Log Search page")


def _columns_of(events: list[WireEvent], name_of: LabelNames) -> EventPage:
    """Columns from typed events, one pass per column."""
    return EventPage(
        timestamps=[event.timestamp for event in events],
        sequence_numbers=_sequence_numbers(events),
        log_ids=[event.log_id for event in events],
        messages=[event.message or "" for event in events],
        labels=[_labels(event.labels, name_of) if event.labels else [] for event in events],
    )


def _sequence_numbers(events: list[WireEvent]) -> list[int]:
    """Every event's exact sequence number; the whole page at once when all are plain digits."""
    texts = [event.sequence_number_str for event in events]
    try:
        joined = "".join(texts)  # type: ignore[arg-type]  # a None raises TypeError
        if joined.isascii() and joined.isdigit():
            return list(map(int, texts))  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a missing or empty sequence_number_str
        pass
    return [
        exact_sequence_number(event.sequence_number_str, event.sequence_number) for event in events
    ]


def statistics_count(body: Body) -> int:
    """The total of a completed `calculate(count)` query; an estimate is not a count."""
    statistics = body.get("statistics")
    if not isinstance(statistics, Mapping):
        raise ApiError("a count query finished without `statistics`")
    if statistics.get("all_exact_result") is False:
        raise ApiError("the API's count is an estimate (all_exact_result: false)")
    count = statistics.get("count")
    if isinstance(count, int | float):
        return int(count)
    stats = statistics.get("stats")
    series = stats.get("global_timeseries") if isinstance(stats, Mapping) else None
    if isinstance(series, Mapping) and isinstance(series.get("count"), int | float):
        return int(series["count"])
    raise ApiError("a count query finished without a count in `statistics`")


class BucketCountError(ApiError):
    """A count query answered another number of buckets than it asked for: the API did not
    take its `timeslice(N)`."""


def statistics_buckets(body: Body, buckets: int, first: Window) -> list[int]:
    """The count of each timeseries bucket of a completed `calculate(count)` query, which
    must have exactly `buckets` of them, each one grid window: the first is `first`."""
    statistics = body.get("statistics")
    if not isinstance(statistics, Mapping):
        raise ApiError("a count query finished without `statistics`")
    if statistics.get("all_exact_result") is False:
        # an estimate can say 0 where events are: never skip a window, nor verify, by it
        raise ApiError("the API's counts are estimates (all_exact_result: false)")
    series = (statistics.get("timeseries") or {}).get("global_timeseries")
    if not isinstance(series, list) or len(series) != buckets:
        found = len(series) if isinstance(series, list) else "no"
        raise BucketCountError(f"a count query answered {found} timeseries buckets, not {buckets}")
    width = first.end_ms - first.start_ms
    granularity, start = statistics.get("granularity"), statistics.get("from")
    if granularity != width or start != first.start_ms:
        # buckets of another width or start count other ranges than the windows: a zero
        # there would commit a window empty without reading it
        raise ApiError(
            f"a count query answered buckets of {granularity} ms from {start}, "
            f"not of the {width} ms windows from {first.start_ms}"
        )
    counts = [bucket.get("count") if isinstance(bucket, Mapping) else None for bucket in series]
    if not all(isinstance(count, int | float) for count in counts):
        raise ApiError("a count query answered a timeseries bucket without a count")
    return [int(count) for count in counts]  # type: ignore[arg-type]


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings replaced by U+FFFD (valid UTF-8)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {key: without_lone_surrogates(item) for key, item in value.items()}
    return value
