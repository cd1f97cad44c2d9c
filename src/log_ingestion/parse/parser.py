"""`MessageParser`: one log's raw messages -> typed columns, batch after batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from log_ingestion.logging import get_logger
from log_ingestion.parse import formats
from log_ingestion.parse.csvrows import one_array, parse_records, split_fields
from log_ingestion.parse.detections import JSON_STRING_DETECTORS, STRING, TEXT_DETECTORS
from log_ingestion.parse.formats import CSV, CSV_HEADER, JSON, KV, TEXT
from log_ingestion.parse.names import ColumnNames
from log_ingestion.parse.records import (
    Record,
    decode_json,
    decode_kv,
    json_array,
    split_key,
    to_columns,
)
from log_ingestion.parse.types import (
    NAME_OF_TYPE,
    NULL,
    TYPE_NAMES,
    has_big_ints,
    type_native,
    type_text,
)

STATE_VERSION = 1
# The format stays provisional until this many non-empty messages were seen: one line
# ("service starting" opening a JSON log) must not decide a log's format for good.
DECIDING_SAMPLE = 20
# While provisional the messages seen are kept in the state, each cut at this length.
SAMPLE_MESSAGE_CHARS = 65_536
FIXED_FIELDS = (pa.field("_format", STRING), pa.field("_parse_error", STRING))
log = get_logger(component="parse")


@dataclass(slots=True)
class _Batch:
    """What one batch produced before typing: text or native columns, errors, formats."""

    size: int
    formats: pa.Array
    errors: pa.Array
    text: dict[str, pa.Array] = field(default_factory=dict)
    json_text: dict[str, pa.Array] = field(default_factory=dict)
    native: dict[str, pa.Array] = field(default_factory=dict)


class MessageParser:
    """Parses the messages of one log; keeps what it learnt (format, header, types).

    `parse` never raises: a message that does not fit the log's format gets null fields
    and a `_parse_error`. The table holds every column seen so far, in first-seen order.
    """

    def __init__(self) -> None:
        self.format: str | None = None
        self.header: list[str] | None = None
        self.width: int | None = None
        self._names = ColumnNames()
        self._types: dict[str, pa.DataType] = {}
        # The non-empty messages seen while the format is provisional; None once decided.
        self._sample: list[str] | None = []
        # int64 columns that held a value beyond +-2^53: meeting floats they become string
        self._big_ints: set[str] = set()

    @property
    def schema(self) -> pa.Schema:
        """The schema of the next table, unless that batch brings columns or widens."""
        fields = [pa.field(name, kind) for name, kind in self._types.items()]
        return pa.schema([*FIXED_FIELDS, *fields])

    def parse(self, messages: pa.Array | Sequence[str | None]) -> pa.Table:
        """One row per message, in order: `_format`, `_parse_error`, then the fields."""
        array = _as_strings(messages)
        try:
            batch = self._parse(array)
            columns = self._typed(batch)
        except Exception as error:  # never fail a batch: report every row instead
            log.exception("parse.failed", format=self.format, rows=len(array))
            reason = f"parser failure: {type(error).__name__}"
            batch = _Batch(
                len(array), _repeat(self.format or TEXT, len(array)), _repeat(reason, len(array))
            )
            columns = {}
        return self._table(batch, columns)

    def state(self) -> dict[str, Any]:
        """Everything `from_state` needs to carry on exactly; JSON-serialisable."""
        return {
            "version": STATE_VERSION,
            "format": self.format,
            "header": self.header,
            "width": self.width,
            "columns": [[name, NAME_OF_TYPE[kind]] for name, kind in self._types.items()],
            "keys": [[raw, occurrence, name] for (raw, occurrence), name in self._names.pairs()],
            "big_ints": sorted(self._big_ints),
            "sample": self._sample,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MessageParser:
        """A parser that continues where the one that saved `state` stopped."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported parser state version: {state.get('version')!r}")
        parser = cls()
        parser.format = state["format"]
        parser.header = state["header"]
        parser.width = state["width"]
        parser._types = {name: TYPE_NAMES[kind] for name, kind in state["columns"]}
        parser._big_ints = set(state.get("big_ints", []))  # absent in older states
        # Older states have no sample: a format they name was final.
        sample = state.get("sample", None if parser.format is not None else [])
        parser._sample = None if sample is None else [str(message) for message in sample]
        parser._names = ColumnNames(
            [((raw, occurrence), name) for raw, occurrence, name in state["keys"]]
        )
        return parser

    # -- one batch -------------------------------------------------------------------

    def _parse(self, messages: pa.Array) -> _Batch:
        if self._sample is not None:
            self._detect(messages)
        if self.format == CSV:
            return self._parse_csv(messages)
        if self.format in (JSON, KV):
            return self._parse_records(messages, self.format)
        return _Batch(len(messages), _repeat(TEXT, len(messages)), pa.nulls(len(messages), STRING))

    def _detect(self, messages: pa.Array) -> None:
        """(Re)decide the format from every message seen so far, while it is provisional.

        The batch is parsed with the answer either way; once `DECIDING_SAMPLE` non-empty
        messages were seen the answer is final and the sample is dropped from the state.
        """
        seen = self._sample or []
        head = _head_with_content(messages, formats.SAMPLE_SIZE - len(seen))
        sample = [*seen, *head]
        if not sample:
            return
        found = formats.detect_format(sample)
        if len(sample) >= DECIDING_SAMPLE:
            self._sample = None
        else:
            self._sample = [message[:SAMPLE_MESSAGE_CHARS] for message in sample]
        if found == self.format:
            return  # the header (CSV) in force stays, as parsing may have moved it on
        if self.format is not None:
            log.info("parse.format_redetected", previous=self.format, format=found)
        self.format, self.header, self.width = found, None, None
        if self.format != CSV:
            return
        rows = [_fields_or_empty(message) for message in sample]
        self.header = formats.first_header(rows)
        if self.header is None:
            widths = [len(fields) for fields in rows if fields]
            self.width = max(set(widths), key=widths.count)
            self._register_header([""] * self.width)  # col_1, col_2, ...
        else:
            self._register_header(self.header)

    def _register_header(self, header: list[str]) -> list[str]:
        names = self._names.for_fields(header)
        for name in names:
            self._types.setdefault(name, NULL)
        return names

    def _parse_csv(self, messages: pa.Array) -> _Batch:
        """Split at header lines; each stretch is read with the header in force."""
        size = len(messages)
        headers = self._header_rows(messages) if self.header is not None else []
        stretches = _Stretches()
        start = 0
        names = self._current_names()
        for row, header in [*headers, (size, None)]:
            stretches.add(messages.slice(start, row - start), names)
            if header is not None:
                names = self._register_header(header)
                self.header = header
                stretches.add_header_row()
            start = row + 1
        if headers:
            is_header = _mask(size, [row for row, _ in headers])
            batch_formats = pc.if_else(is_header, CSV_HEADER, CSV)
        else:
            batch_formats = _repeat(CSV, size)
        return _Batch(size, batch_formats, stretches.errors(), text=stretches.columns())

    def _current_names(self) -> list[str]:
        if self.header is not None:
            return self._names.for_fields(self.header)
        return self._names.for_fields([""] * (self.width or 0))

    def _header_rows(self, messages: pa.Array) -> list[tuple[int, list[str]]]:
        """Rows that are header lines, in order, each judged against the header before it."""
        candidates = pc.indices_nonzero(
            pc.fill_null(pc.match_substring_regex(messages, formats.HEADER_LINE_PATTERN), False)
        ).to_pylist()
        headers = []
        current = self.header or []
        for row in candidates:
            fields = _fields_or_empty(messages[row].as_py())
            if formats.replaces_header(current, fields):
                headers.append((row, fields))
                current = fields
        return headers

    def _parse_records(self, messages: pa.Array, kind: str) -> _Batch:
        size = len(messages)
        values: list[str | None] = messages.to_pylist()
        if kind == JSON:
            decoded = [decode_json(message or "") for message in values]
        else:
            decoded = _decode_kv_batch(messages, values)
        records = [record for record, _ in decoded]
        errors = pa.array([error for _, error in decoded], STRING)
        batch = _Batch(size, _repeat(kind, size), errors)
        for position, (slot, column) in enumerate(to_columns(records).items(), start=1):
            name = self._names.for_key(split_key(slot, whole=kind == JSON), position)
            self._types.setdefault(name, NULL)
            if kind == KV:
                batch.text[name] = pa.array(column, STRING)
                continue
            array, is_text = json_array(column)
            (batch.json_text if is_text else batch.native)[name] = array
        return batch

    # -- types and the table ---------------------------------------------------------

    def _typed(self, batch: _Batch) -> dict[str, pa.Array]:
        """Each column typed as the log's column, widening (and remembering) when needed."""
        typed: dict[str, pa.Array] = {}
        widened: dict[str, pa.DataType] = {}
        sources = (
            (batch.text, TEXT_DETECTORS),
            (batch.json_text, JSON_STRING_DETECTORS),
        )
        for columns, detectors in sources:
            for name, values in columns.items():
                typed[name], widened[name] = type_text(
                    values, self._types[name], detectors, big_ints=name in self._big_ints
                )
        for name, values in batch.native.items():
            typed[name], widened[name] = type_native(
                values, self._types[name], big_ints=name in self._big_ints
            )
        self._types.update(widened)  # only once the whole batch is typed
        self._big_ints.update(name for name, values in typed.items() if has_big_ints(values))
        return typed

    def _table(self, batch: _Batch, typed: dict[str, pa.Array]) -> pa.Table:
        arrays = [batch.formats, batch.errors]
        for name, kind in self._types.items():
            column = typed.get(name)
            arrays.append(column if column is not None else pa.nulls(batch.size, kind))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _as_strings(messages: pa.Array | Sequence[str | None]) -> pa.Array:
    """The messages as one Arrow string array, whatever form they came in."""
    if isinstance(messages, pa.ChunkedArray):
        messages = one_array(messages)
    if isinstance(messages, pa.Array):
        if messages.type == STRING:
            return messages
        try:
            return messages.cast(STRING)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            messages = messages.to_pylist()  # e.g. binary that is not UTF-8
    try:
        return pa.array(messages, STRING)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return pa.array([_clean(message) for message in messages], STRING)


def _clean(message: object) -> str | None:
    """A message Arrow can store: lone surrogates and undecodable bytes replaced."""
    if message is None:
        return None
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    text = message if isinstance(message, str) else str(message)
    return text.encode("utf-8", "replace").decode("utf-8")


def _head_with_content(messages: pa.Array, count: int) -> list[str]:
    head: list[str] = []
    # Scans in chunks so a batch that opens with thousands of empty messages stays cheap.
    for start in range(0, len(messages), count):
        chunk = messages.slice(start, count).to_pylist()
        head.extend(message for message in chunk if message and not message.isspace())
        if len(head) >= count:
            break
    return head[:count]


def _fields_or_empty(message: str | None) -> list[str]:
    try:
        return split_fields(message or "")
    except ValueError:
        return []


def _decode_kv_batch(
    messages: pa.Array, values: list[str | None]
) -> list[tuple[Record | None, str | None]]:
    is_kv = pc.fill_null(
        pc.match_substring_regex(messages, "(?s)" + formats.KV_LINE_PATTERN), False
    )
    decoded: list[tuple[Record | None, str | None]] = []
    for message, fits in zip(values, is_kv.to_pylist(), strict=True):
        if fits:
            decoded.append(decode_kv(message or ""))
        else:
            decoded.append((None, "empty message" if not message else "not key=value pairs"))
    return decoded


class _Stretches:
    """The string columns of a CSV batch, built stretch by stretch (between headers)."""

    def __init__(self) -> None:
        self._rows = 0
        self._chunks: dict[str, list[pa.Array]] = {}
        self._errors: list[pa.Array] = []

    def add(self, messages: pa.Array, names: list[str]) -> None:
        if len(messages) == 0:
            return
        columns, errors = parse_records(pc.fill_null(messages, ""), len(names))
        self._append(dict(zip(names, columns, strict=True)), errors)

    def add_header_row(self) -> None:
        self._append({}, pa.nulls(1, STRING))

    def _append(self, columns: dict[str, pa.Array], errors: pa.Array) -> None:
        size = len(errors)
        for name, column in columns.items():
            if name not in self._chunks:  # first seen in this batch: null before
                self._chunks[name] = [pa.nulls(self._rows, STRING)] if self._rows else []
            self._chunks[name].append(column)
        for name, chunks in self._chunks.items():
            if name not in columns:
                chunks.append(pa.nulls(size, STRING))
        self._errors.append(errors)
        self._rows += size

    def columns(self) -> dict[str, pa.Array]:
        return {name: _concat(chunks) for name, chunks in self._chunks.items()}

    def errors(self) -> pa.Array:
        return _concat(self._errors) if self._errors else pa.nulls(0, STRING)


def _concat(chunks: list[pa.Array]) -> pa.Array:
    return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)


def _mask(size: int, rows: list[int]) -> pa.Array:
    flags = [False] * size
    for row in rows:
        flags[row] = True
    return pa.array(flags, pa.bool_())


def _repeat(value: str, size: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, STRING), size)
