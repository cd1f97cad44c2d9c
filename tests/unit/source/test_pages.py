"""Reading response bodies: links, completion, exact events."""

import orjson
import pytest

from log_ingestion.errors import ApiError
from log_ingestion.source.pages import (
    decode_query_body,
    events_of,
    find_link,
    is_running,
    statistics_count,
)

SELF = {"rel": "Self", "href": "https://x/query/abc:1:"}


def test_find_link_matches_rel_case_insensitively():
    """`self` and `Self` are the same link."""
    body = {"links": [{"rel": "self", "href": "https://x/q/1"}]}
    assert find_link(body, "Self") == "https://x/q/1"


def test_find_link_dispatches_on_rel_not_position():
    """The Next link is found wherever it stands in the list."""
    body = {"links": [SELF, {"rel": "Next", "href": "https://x/next"}]}
    assert find_link(body, "next") == "https://x/next"


def test_find_link_without_links_is_none():
    """The last page has no `links` key at all."""
    assert find_link({"events": []}, "next") is None


def test_running_while_self_link_and_progress_below_100():
    """Completion is read from the body: a Self link with progress 40 is running."""
    assert is_running({"progress": 40, "links": [SELF]})


def test_still_polled_when_progress_100_keeps_a_self_link():
    """Done means no Self link; progress 100 with one is polled again, not read as empty."""
    assert is_running({"progress": 100, "links": [SELF], "events": []})


def test_done_without_self_link():
    """No Self link: the body is final."""
    assert not is_running({"events": [], "links": [{"rel": "Next", "href": "h"}]})


def test_events_take_sequence_number_from_the_string():
    """The numeric field may be rounded; `sequence_number_str` is exact."""
    body = {
        "events": [
            {
                "timestamp": 1,
                "sequence_number": 3235937417370673000,
                "sequence_number_str": "3235937417370673152",
                "log_id": "L",
                "message": "m",
                "labels": [{"id": "lab"}],
            }
        ]
    }
    page = events_of(body)
    assert page.sequence_numbers == [3235937417370673152]
    assert page.labels == [["lab"]]


def test_event_without_any_sequence_number_is_an_api_error():
    """A body that is not a Log Search page is refused, not half-read."""
    with pytest.raises(ApiError, match="sequence_number_str"):
        events_of({"events": [{"timestamp": 1, "message": "m"}]})


def test_statistics_count_reads_count():
    """`calculate(count)` puts the total in statistics.count."""
    assert statistics_count({"statistics": {"count": 462}}) == 462


def test_statistics_count_falls_back_to_global_timeseries():
    """Older shapes keep the total under stats.global_timeseries."""
    assert statistics_count({"statistics": {"stats": {"global_timeseries": {"count": 7.0}}}}) == 7


def test_statistics_missing_is_an_error():
    """A count query without statistics cannot verify anything."""
    with pytest.raises(ApiError):
        statistics_count({"events": []})


@pytest.mark.parametrize(
    "statistics",
    [{"count": None, "stats": None}, {"stats": {"global_timeseries": None}}],
    ids=["stats-null", "series-null"],
)
def test_statistics_with_null_parts_are_an_api_error(statistics):
    """Null `stats` or series where the total would be: an API error, not a crash."""
    with pytest.raises(ApiError, match="without a count"):
        statistics_count({"statistics": statistics})


def test_an_estimated_count_is_an_api_error():
    """`all_exact_result: false` is an estimate: nothing to verify a window by."""
    with pytest.raises(ApiError, match="estimate"):
        statistics_count({"statistics": {"count": 462, "all_exact_result": False}})


EVENT = {
    "timestamp": 5,
    "sequence_number": 3235937417370673000,
    "sequence_number_str": "3235937417370673152",
    "log_id": "L",
    "message": "a,b",
    "labels": [{"id": "lab", "links": []}],
    "links": [{"rel": "Context", "href": "https://x/query/context/1"}],
}


def test_typed_decoding_gives_the_same_columns_as_generic_decoding():
    """The fast msgspec path and the dict path agree field for field."""
    raw = orjson.dumps({"events": [EVENT, {**EVENT, "message": None, "labels": []}], "links": []})
    typed = decode_query_body(raw)
    assert typed is not None
    assert events_of(typed) == events_of(orjson.loads(raw))


def test_typed_decoding_keeps_what_the_client_reads():
    """Links, progress and statistics survive; other keys are dropped."""
    raw = orjson.dumps({"links": [SELF], "progress": 40, "statistics": {"count": 3}, "x": 1})
    assert decode_query_body(raw) == {"links": [SELF], "progress": 40, "statistics": {"count": 3}}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"events": [{"timestamp": 1',
        b'{"events": [{"timestamp": 1.5}]}',
        b'{"events": [{"message": {}}]}',
    ],
)
def test_typed_decoding_declines_what_it_cannot_read(raw):
    """Truncated or unexpected shapes fall back to generic decoding (None)."""
    assert decode_query_body(raw) is None


def test_typed_page_falls_back_to_the_number_for_an_event_without_the_string():
    """One event lacking `sequence_number_str` (or with an empty one) takes its exact
    integer `sequence_number`; the others keep their strings."""
    events = [
        {**EVENT, "sequence_number_str": "18446744073709551615"},
        {**EVENT, "sequence_number_str": None, "sequence_number": 7},
        {**EVENT, "sequence_number_str": "", "sequence_number": 8},
    ]
    typed = decode_query_body(orjson.dumps({"events": events}))
    assert typed is not None
    assert events_of(typed).sequence_numbers == [2**64 - 1, 7, 8]


def test_a_sequence_number_string_of_other_digits_is_not_read_as_a_number():
    """Only ASCII digits are a sequence number: `²` is a digit to Python but not to int()."""
    with pytest.raises(ApiError, match="sequence_number_str"):
        events_of({"events": [{**EVENT, "sequence_number_str": "²", "sequence_number": None}]})
