"""The LEQL subset, as pure functions: parsing and matching, no I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.emulator.leql import LeqlError, extract_fields, parse

KV = 'level=ERROR service=checkout latency_ms=450.5 status=503 msg="payment declined, retry later"'
JSON = '{"user":"alice","attempts":5,"ok":false,"r7_context":{"asset":{"name":"dc01"}}}'


@pytest.mark.parametrize(
    "statement",
    [
        None,
        "",
        "  ",
        "where(/.*/)",
        "where(/.*/) calculate(count)",
        "where(/.*/) calculate(count) timeslice(72)",
    ],
)
def test_all_events_statements_need_no_filter(statement: str | None) -> None:
    """A missing statement or where(/.*/) matches everything without scanning."""
    assert parse(statement).predicate is None


@pytest.mark.parametrize(
    ("statement", "message", "expected"),
    [
        ("where(/declined/)", KV, True),
        ("where(/DECLINED/)", KV, False),
        ("where(/DECLINED/i)", KV, True),
        ("where(level=ERROR)", KV, True),
        ("where(level=WARN)", KV, False),
        ("where(level!=WARN)", KV, True),
        ("where(missing!=WARN)", KV, False),
        ('where(msg="payment declined, retry later")', KV, True),
        ("where(latency_ms > 400)", KV, True),
        ("where(latency_ms <= 400)", KV, False),
        ("where(status>=500 AND service=checkout)", KV, True),
        ("where(status<500 OR service=checkout)", KV, True),
        ("where(NOT level=ERROR)", KV, False),
        ("where((level=INFO OR level=ERROR) AND status=503)", KV, True),
        ("where(service=/check.*/)", KV, True),
        ("where(checkout)", KV, True),
        ("where(Checkout)", KV, False),
        ("where(Checkout, loose)", KV, True),
        ("where(user=alice)", JSON, True),
        ("where(attempts>4)", JSON, True),
        ("where(ok=false)", JSON, True),
        ("where(r7_context.asset.name=dc01)", JSON, True),
        ("where(level=ERROR)", "plain text level=ERROR inside", True),
        ("where(level=ERROR)", "no keys here", False),
        ("where(a=1 and b=2)", "a=1 b=2", True),
    ],
)
def test_matching(statement: str, message: str, expected: bool) -> None:
    """Each operator against key=value and JSON messages."""
    assert parse(statement).matches(message) is expected


def test_calculate_count_is_statistical() -> None:
    """calculate(count) and calculate(count:alias) mark the query statistical."""
    assert parse("where(a=1) calculate(count)").calculate == "count"
    assert parse("calculate(count:hits)").is_statistical


@pytest.mark.parametrize(
    ("statement", "buckets"),
    [
        ("where(/.*/) calculate(count) timeslice(72)", 72),
        ("calculate(count) timeslice(5)", 5),
        ("where(level=ERROR) calculate(count) TimeSlice(3)", 3),
        ("calculate(count)", None),
    ],
)
def test_timeslice_sets_the_bucket_count(statement: str, buckets: int | None) -> None:
    """timeslice(N) after calculate(count) asks for N buckets; without it, the default."""
    assert buckets == parse(statement).timeslice


@pytest.mark.parametrize(
    "statement",
    [
        "calculate(count) timeslice(0)",
        "calculate(count) timeslice(-1)",
        "calculate(count) timeslice(1.5)",
        "calculate(count) timeslice(1h)",
        "calculate(count) timeslice()",
        "calculate(count) timeslice(2) timeslice(3)",
        "timeslice(5)",
        "timeslice(5) calculate(count)",
        "where(level=ERROR) timeslice(5)",
    ],
)
def test_timeslice_needs_a_positive_integer_after_a_calculation(statement: str) -> None:
    """A bucket count that is not a positive integer, or no calculation before it, raises."""
    with pytest.raises(LeqlError, match="timeslice"):
        parse(statement)


def test_timeslice_above_the_maximum_raises() -> None:
    """max_timeslice bounds N: equal to it parses, above it raises."""
    assert parse("calculate(count) timeslice(10)", max_timeslice=10).timeslice == 10
    with pytest.raises(LeqlError, match="more than 10 buckets"):
        parse("calculate(count) timeslice(11)", max_timeslice=10)


@pytest.mark.parametrize(
    "statement",
    [
        "where(",
        "where(a=)",
        "where(a>b)",
        "where(/x/g)",
        "where(/[/)",
        "groupby(a)",
        "calculate(sum:x)",
        "where(a) limit(3)",
        "where(a, tight)",
    ],
)
def test_unsupported_or_broken_statements_raise(statement: str) -> None:
    """Anything outside the subset raises LeqlError, which the API answers with 400."""
    with pytest.raises(LeqlError):
        parse(statement)


def test_fields_come_from_json_before_key_value() -> None:
    """JSON objects are flattened with dotted keys; other text is read as key=value."""
    assert extract_fields(JSON)["r7_context.asset.name"] == "dc01"
    assert extract_fields(KV)["msg"] == "payment declined, retry later"
    assert extract_fields("{not json a=1")["a"] == "1"


@given(st.text(max_size=40))
def test_parse_raises_only_leql_errors(text: str) -> None:
    """Whatever the text, parsing either succeeds or raises LeqlError."""
    try:
        query = parse(text)
    except LeqlError:
        return
    query.matches("level=ERROR some text")
