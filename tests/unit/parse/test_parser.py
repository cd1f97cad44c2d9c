"""MessageParser as the pipeline uses it: state, schemas across batches, input forms."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from log_ingestion.parse import RESERVED_COLUMNS, MessageParser

FIREWALL = [
    "receive_time,src_ip,dst_port,bytes,rule,encrypted",
    '2026/01/01 00:00:00,10.0.0.1,443,10,"Allow, web",true',
    "2026/01/01 00:00:01,10.0.0.2,53,20,dns,false",
    '2026/01/01 00:00:02,10.0.0.3,80,30,"multi\nline",true',
]
LATER = [
    "2026/01/01 00:00:03,10.0.0.4,8443,1.5,deny,false",
    "receive_time,src_ip,dst_port,bytes,rule,encrypted,zone",
    "2026/01/01 00:00:04,10.0.0.5,22,40,ssh,maybe,dmz",
    "2026/01/01 00:00:05,10.0.0.5,22",
]


def resumed(parser: MessageParser) -> MessageParser:
    """The parser as a checkpoint brings it back: through JSON and `from_state`."""
    return MessageParser.from_state(orjson.loads(orjson.dumps(parser.state())))


def test_state_round_trip_continues_exactly() -> None:
    """Saving and restoring between batches gives what one parser gives."""
    one = MessageParser()
    expected = [one.parse(FIREWALL), one.parse(LATER)]
    first = MessageParser()
    actual = [first.parse(FIREWALL), resumed(first).parse(LATER)]
    assert expected == actual


def test_state_keeps_format_header_and_types() -> None:
    """The state names the format, the header in force and each column's type."""
    parser = MessageParser()
    parser.parse(FIREWALL)
    state = parser.state()
    assert ("csv", FIREWALL[0].split(",")) == (state["format"], state["header"])
    assert state["columns"][0] == ["receive_time", "timestamp"]


def test_unknown_state_version_is_refused() -> None:
    """A state from another version of the parser is not guessed at."""
    with pytest.raises(ValueError, match="version"):
        MessageParser.from_state({"version": 99})


def test_columns_keep_their_order_and_types_only_widen() -> None:
    """Later batches append new columns and widen types; nothing moves or narrows."""
    parser = MessageParser()
    before = parser.parse(FIREWALL).schema
    after = parser.parse(LATER).schema
    assert before.names == after.names[: len(before.names)]
    assert [pa.float64(), pa.string()] == [after.field("bytes").type, after.field("encrypted").type]
    assert after == parser.parse(FIREWALL[1:]).schema


def test_consecutive_batches_share_a_schema() -> None:
    """Once the types settle, every batch has the same schema, without casts downstream."""
    parser = MessageParser()
    parser.parse(FIREWALL)
    assert parser.parse(FIREWALL[1:2]).schema == parser.parse(FIREWALL[2:3]).schema


def test_schema_property_is_the_next_tables_schema() -> None:
    """`parser.schema` is what the next batch will look like when it brings nothing new."""
    parser = MessageParser()
    parser.parse(FIREWALL)
    assert parser.schema == parser.parse(FIREWALL[1:]).schema


def test_arrow_input_and_list_input_agree() -> None:
    """A list of str and an Arrow string array give the same table."""
    as_list = MessageParser().parse(FIREWALL)
    as_arrow = MessageParser().parse(pa.array(FIREWALL, pa.large_string()))
    assert as_list == as_arrow


def test_empty_batch_then_data() -> None:
    """An empty batch decides nothing; the next batch with content does."""
    parser = MessageParser()
    empty = parser.parse([])
    assert (
        empty.num_rows,
        empty.column_names,
        parser.format,
    ) == (0, ["_format", "_parse_error"], None)
    assert resumed(parser).parse(FIREWALL).column("_format")[1].as_py() == "csv"


def test_reserved_names_are_prefixed() -> None:
    """Field names equal to the pipeline's own columns get a msg_ prefix."""
    record = orjson.dumps(dict.fromkeys(RESERVED_COLUMNS, 1)).decode()
    table = MessageParser().parse([record, record])
    assert [f"msg_{name}" for name in RESERVED_COLUMNS] == table.column_names[2:]


def test_lone_surrogates_do_not_stop_a_batch() -> None:
    """Text Arrow cannot hold (lone surrogates) is cleaned, not raised."""
    table = MessageParser().parse(["a,b", "1,\udcff", "2,3"])
    assert table.column("_parse_error").to_pylist() == [None, None, None]


def test_huge_message_is_one_row() -> None:
    """A 70 kB message is one row like any other."""
    huge = "1," + "x" * 70_000
    table = MessageParser().parse(["a,b", huge, "2,y"])
    assert table.column("b").to_pylist()[1:2] == ["x" * 70_000]


BIG = 2**53 + 1  # 9007199254740993: a float64 would round it to ...992


def _json(**fields: object) -> str:
    return orjson.dumps(fields).decode()


@pytest.mark.parametrize(
    ("first", "second"), [(BIG, 1.5), (1.5, BIG)], ids=["big-int-first", "float-first"]
)
def test_integers_a_double_would_round_widen_to_string_and_stay_so(
    first: object, second: object
) -> None:
    """int64 beyond 2^53 meeting float64 becomes string, exact, across a state round trip.

    Float first used to fail the whole batch (`parser failure: ArrowInvalid`); int first
    widened to float64, whose cast the sink then refused for the buffered integers.
    """
    parser = MessageParser()
    parser.parse([_json(a=first, n=1)] * 20)
    parser = resumed(parser)
    table = parser.parse([_json(a=second, n=2)])
    assert table.column("_parse_error").to_pylist() == [None]
    assert table.schema.field("a").type == pa.string()
    assert table.column("a").to_pylist() == [str(second)]
    later = resumed(parser)
    assert ["a", "string"] in later.state()["columns"]
    after = later.parse([_json(a=7, n=3), _json(a=BIG + 2, n=4)])
    assert after.column("a").to_pylist() == ["7", str(BIG + 2)]
    assert after.schema.field("a").type == pa.string()
    assert after.schema.field("n").type == pa.int64()


def test_one_text_line_does_not_decide_a_json_log() -> None:
    """A JSON log opening with one plain line ends up json, its fields typed.

    The decision stays provisional (re-made on each batch from every message seen,
    carried through the state) until enough messages were seen; rows parsed meanwhile
    use the provisional format and none is dropped.
    """
    parser = MessageParser()
    first = parser.parse(["service starting"])
    assert (first.num_rows, first.column("_format").to_pylist()) == (1, ["text"])
    tables = []
    for start in range(0, 30, 5):
        parser = resumed(parser)
        tables.append(parser.parse([_json(n=i, level="info") for i in range(start, start + 5)]))
    assert parser.format == "json"
    assert parser.state()["sample"] is None  # decided: the sample left the state
    last = tables[-1]
    assert last.column("_format").to_pylist() == ["json"] * 5
    assert last.column("_parse_error").to_pylist() == [None] * 5
    assert (last.schema.field("n").type, last.schema.field("level").type) == (
        pa.int64(),
        pa.string(),
    )
    assert last.column("n").to_pylist() == [25, 26, 27, 28, 29]
    assert sum(table.num_rows for table in tables) == 30


def test_a_decided_format_stays_and_the_sample_stays_bounded() -> None:
    """Once enough messages decided, other lines do not change it; meanwhile the
    state holds fewer messages than the deciding sample."""
    parser = MessageParser()
    for i in range(19):
        parser = resumed(parser)
        parser.parse(["", _json(i=i)])
        assert len(parser.state()["sample"]) == i + 1
    parser = resumed(parser)
    parser.parse([_json(i=19)])
    assert (parser.format, parser.state()["sample"]) == ("json", None)
    parser = resumed(parser)
    table = parser.parse(["plain text"] * 50)
    assert parser.format == "json"
    assert table.column("_format").to_pylist() == ["json"] * 50
    assert None not in table.column("_parse_error").to_pylist()
