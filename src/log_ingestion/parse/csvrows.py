"""CSV messages -> string columns, one record per message, alignment kept exactly.

The fast path hands Arrow's CSV reader only messages that are provably one well-formed
record of the expected width: a full-match RE2 check (RFC 4180 quoting, no line breaks)
plus a vectorised field count. Those are joined with newlines and read in one call, so
the reader's row i is exactly the i-th such message. Everything else (line breaks inside
quotes, stray quotes, wrong width) goes one by one through Python's `csv` module, which
either finds one record of the right width or names what is wrong.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from log_ingestion.parse.detections import STRING

_FIELD = r'(?:"(?:[^"\r\n]|"")*"|[^",\r\n]*)'
RECORD_PATTERN = rf"^{_FIELD}(?:,{_FIELD})*$"


def split_fields(message: str) -> list[str]:
    """The fields of a one-record CSV message; ValueError says why it is not one."""
    try:
        records = list(csv.reader(io.StringIO(message, newline=""), strict=True))
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise ValueError("unbalanced quote") from None
        raise ValueError(f"malformed CSV: {error}") from None
    if len(records) != 1:
        raise ValueError(f"expected one CSV record, found {len(records)}")
    return records[0]


def parse_records(messages: pa.Array, width: int) -> tuple[list[pa.Array], pa.Array]:
    """`width` string columns and an error column, one row per message (no nulls in input).

    Empty fields are null. A row that is not one record of `width` fields has null fields
    and an error.
    """
    # Arrow reads an empty line as a row of nulls, and drops a byte order mark that starts
    # its input (the first message's leading U+FEFF): those messages go the slow way.
    fast = pc.and_(
        pc.and_(
            pc.match_substring_regex(messages, RECORD_PATTERN),
            pc.greater(pc.binary_length(messages), 0),
        ),
        pc.invert(pc.starts_with(messages, "\ufeff")),
    )
    fast_count = pc.sum(fast).as_py() or 0
    if fast_count == 0:
        return _parse_slowly(messages.to_pylist(), width)
    if fast_count == len(messages):
        read = _read_joined(messages, width)
        if read is not None:
            return read
        return _parse_slowly(messages.to_pylist(), width)
    return _merge(messages, fast, width)


def _read_joined(messages: pa.Array, width: int) -> tuple[list[pa.Array], pa.Array] | None:
    """Arrow's reader over well-formed one-line records joined by newlines.

    Each message is then exactly one reader row, so the reader's row numbers are message
    positions; rows of the wrong width are reported by number and kept as errors. None
    when the reader disagrees with that (it should not; the caller then goes slowly).
    """
    widths: dict[int, int] = {}

    def wrong_width(row: pacsv.InvalidRow) -> str:
        if row.number is None:
            return "error"
        widths[row.number - 1] = row.actual_columns
        return "skip"

    try:
        table = _read_csv(_joined_lines(messages), width, wrong_width)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows + len(widths) != len(messages):
        return None
    columns = [one_array(table.column(i)) for i in range(width)]
    if not widths:
        return columns, pa.nulls(len(messages), STRING)
    kept = pc.invert(_mask(len(messages), widths))
    errors = [
        f"expected {width} fields, found {widths[i]}" if i in widths else None
        for i in range(len(messages))
    ]
    return _scatter(columns, kept), pa.array(errors, STRING)


def one_array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is (combining would copy it)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _joined_lines(messages: pa.Array) -> pa.Buffer:
    lines = pc.binary_join_element_wise(messages, "", "\n")
    _, offsets_buffer, data = lines.buffers()
    offsets = pa.Array.from_buffers(
        pa.int32(), len(lines) + 1, [None, offsets_buffer], offset=lines.offset
    )
    return data[offsets[0].as_py() : offsets[-1].as_py()]


def _read_csv(body: pa.Buffer, width: int, on_invalid: object) -> pa.Table:
    names = [f"f{i}" for i in range(width)]
    return pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(
            column_names=names, use_threads=False, block_size=max(len(body) + 1, 1 << 16)
        ),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, STRING),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def _mask(length: int, positions: Iterable[int]) -> pa.Array:
    flags = [False] * length
    for position in positions:
        flags[position] = True
    return pa.array(flags, pa.bool_())


def _scatter(columns: list[pa.Array], kept: pa.Array) -> list[pa.Array]:
    """Columns of the kept rows spread over all rows, nulls where a row was not kept."""
    positions = pc.subtract(pc.cumulative_sum(pc.cast(kept, pa.int64())), 1)
    indices = pc.if_else(kept, positions, pa.scalar(None, pa.int64()))
    return [column.take(indices) for column in columns]


def _parse_slowly(messages: Sequence[str], width: int) -> tuple[list[pa.Array], pa.Array]:
    rows: list[list[str | None]] = []
    errors: list[str | None] = []
    for message in messages:
        fields, error = _one_record(message, width)
        rows.append(fields)
        errors.append(error)
    columns = [
        pa.array([row[i] for row in rows], STRING) for i in range(width)
    ]  # a loop per field, but only over the rare messages the fast path refused
    return columns, pa.array(errors, STRING)


def _one_record(message: str, width: int) -> tuple[list[str | None], str | None]:
    nulls: list[str | None] = [None] * width
    if not message:
        return nulls, "empty message"
    try:
        fields = split_fields(message)
    except ValueError as error:
        return nulls, str(error)
    if len(fields) != width:
        return nulls, f"expected {width} fields, found {len(fields)}"
    return [field or None for field in fields], None


def _merge(messages: pa.Array, fast: pa.Array, width: int) -> tuple[list[pa.Array], pa.Array]:
    """Fast rows and slow rows parsed apart, then put back in message order."""
    slow = pc.invert(fast)
    read = _read_joined(messages.filter(fast), width)
    if read is None:
        return _parse_slowly(messages.to_pylist(), width)
    fast_columns, fast_errors = read
    slow_columns, slow_errors = _parse_slowly(messages.filter(slow).to_pylist(), width)
    order = pc.sort_indices(pa.concat_arrays([pc.indices_nonzero(fast), pc.indices_nonzero(slow)]))
    columns = [
        pa.concat_arrays([f, s]).take(order)
        for f, s in zip(fast_columns, slow_columns, strict=True)
    ]
    return columns, pa.concat_arrays([fast_errors, slow_errors]).take(order)
