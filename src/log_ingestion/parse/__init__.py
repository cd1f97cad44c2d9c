"""Each event's raw `message` -> typed columns.

One `MessageParser` per log. Its first messages decide the log's format, kept for good:

- `csv`: RFC 4180 records, one per message. Column names come from a header line when
  the log opens with one (that event is emitted as a `csv_header` row with null fields);
  a later header that adds or drops names changes the columns from that row on. Without
  a header the columns are `col_1`, `col_2`, ...
- `json`: one object per message (InsightIDR). Top-level keys become columns. Nested
  objects and arrays are kept as compact JSON text in a string column: their shape
  varies from event to event, and text keeps them queryable (`json_extract`) without
  a struct schema that would churn. Numbers and booleans keep their JSON type; JSON
  strings are only checked for timestamps, since the producer quoted `"00123"` or
  `"true"` on purpose. JSON null and `""` are null; an integer beyond int64 is kept as
  text, though one beyond 64 bits reaches us as a float (orjson). Messages are decoded
  with orjson, one call each: `pyarrow.json` cannot give nested values back as their
  text, turns an absent key into a null member and fails a whole block on one bad line.
- `kv`: `a=1 b="two words" c=x` pairs; values typed like CSV fields.
- `text`: anything else (syslog, web-server errors): no columns, no error.

Until a batch holds a non-empty message the format is undecided and rows report `text`.
Every row of a structured log either parses or has null fields and `_parse_error` set;
the raw message is kept by the pipeline. An empty message in a structured log is an
error ("empty message"); in a text log it is just an empty line.

Types are detected from the values (see `detections`) and only ever widen (see
`types`); names are sanitised and never collide with `RESERVED_COLUMNS` (see `names`).
"""

from log_ingestion.parse.detections import TEXT_DETECTORS
from log_ingestion.parse.names import RESERVED_COLUMNS
from log_ingestion.parse.parser import MessageParser

__all__ = ["RESERVED_COLUMNS", "TEXT_DETECTORS", "MessageParser"]
