"""The window step's pure pieces: the row layout and what KEEP_MESSAGE=on_error keeps."""

import pyarrow as pa

from log_ingestion.pipeline.window import without_parsed_messages


def test_on_error_drops_only_the_messages_the_columns_hold():
    """Parsed CSV, JSON and kv rows lose their raw line; errors, text and headers keep it."""
    rows = pa.table(
        {
            "message": ["a,1", "{bad", "free text", "x=1", "h1,h2", '{"k":1}'],
            "_parse_error": [None, "not JSON", None, None, None, None],
            "_format": ["csv", "json", "text", "kv", "csv_header", "json"],
        }
    )
    kept = without_parsed_messages(rows).column("message").to_pylist()
    assert kept == [None, "{bad", "free text", None, "h1,h2", None]
