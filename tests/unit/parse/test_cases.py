"""Parser behaviours kept as data: each file in `cases/` holds input batches and output."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from log_ingestion.parse import MessageParser

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


def render(value: Any) -> Any:
    """A cell as JSON can hold it: timestamps as ISO text in UTC, milliseconds shown."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def outcome(batches: list[list[str | None]]) -> dict[str, Any]:
    """Rows of every batch (null cells left out), then the log's format and final types."""
    parser = MessageParser()
    rows = []
    for batch in batches:
        table = parser.parse(pa.array(batch, pa.string()))
        rows.append(
            [
                {name: render(value) for name, value in row.items() if value is not None}
                for row in table.to_pylist()
            ]
        )
    types = {field.name: str(field.type) for field in parser.schema}
    return {"format": parser.format, "types": types, "rows": rows}


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_case(path: Path) -> None:
    """The parser's output for the case's batches is the output the case records."""
    case = json.loads(path.read_text())
    expected = case["expected"]
    assert expected == outcome(case["batches"])
