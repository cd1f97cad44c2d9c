"""Table directory names: safe whatever the log is called, and stable."""

import os.path

from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.models import Window
from log_ingestion.sink import table_dir_name
from log_ingestion.sink.naming import (
    check_table,
    data_file,
    data_file_window,
    partition_dir,
    temp_file,
)

HOSTILE = [
    "../../etc/passwd",
    "/",
    "\0",
    "🔥 logs 🔥",
    "",
    "x" * 10_000,
    "..",
    "_staging",
    "C:\\Windows",
]


def test_hostile_names_become_one_safe_component():
    """Traversal, separators, NUL, emoji, empty and huge names all give a plain name."""
    for name in HOSTILE:
        table = table_dir_name(name, "id")
        assert check_table(table) == table
        assert len(table) <= 59


def test_name_is_a_slug_and_an_id_suffix():
    """Readable prefix, stable suffix from the log id."""
    assert table_dir_name("Web Server (prod)", "abc").startswith("web_server_prod-")
    assert table_dir_name("", "abc").startswith("log-")


def test_same_name_different_logs_differ():
    """Two logs called alike still get two directories."""
    assert table_dir_name("app", "1") != table_dir_name("app", "2")


@given(st.text(), st.text())
def test_never_escapes_the_root_and_is_stable(name: str, log_id: str):
    """Any name: one component under the root, never empty, never hidden, the same every time."""
    table = table_dir_name(name, log_id)
    root = "/out"
    joined = os.path.normpath(os.path.join(root, table))
    assert os.path.dirname(joined) == root
    assert check_table(table) == table  # non-empty, not hidden, no separator
    assert table == table_dir_name(name, log_id)


def test_partition_dirs_are_utc_dates():
    """Day 0 is the epoch; negative days are before it."""
    assert (partition_dir(0), partition_dir(-1)) == ("date=1970-01-01", "date=1969-12-31")


def test_a_data_file_name_gives_back_its_window_and_token() -> None:
    """Only published data file names parse; temps, journals and strangers do not."""
    window = Window(900_000, 1_800_000)
    assert data_file_window(data_file(window, "0a1b2c", 3)) == (window, "0a1b2c")
    assert data_file_window(temp_file("0a1b2c", 3)) is None
    assert data_file_window("journal-900000-1800000-0a1b2c.json") is None
    assert data_file_window("part-5-5-0a1b2c-0.parquet") is None
    assert data_file_window("notes.parquet") is None
