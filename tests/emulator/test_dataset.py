"""The sample data: deterministic, lazy, ordered, and full of the edge cases parsers meet."""

from __future__ import annotations

import csv
import io
import time

import orjson
import pytest

from log_ingestion.emulator import ANCHOR_MS, Dataset
from log_ingestion.emulator.dataset import KEY_MAX, KEY_MIN


def messages(dataset: Dataset, name: str) -> list[str]:
    return [m for _, _, m in dataset.events(dataset.log_id(name))]


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset(events_per_log=300, span_ms=3_600_000)


def test_same_seed_same_data_other_seed_other_ids() -> None:
    """Ids, keys and messages are a pure function of the seed."""
    first, again, other = (
        Dataset(events_per_log=50),
        Dataset(events_per_log=50),
        Dataset(seed=1, events_per_log=50),
    )
    log_id = first.log_id("app-kv")
    assert list(first.events(log_id)) == list(again.events(log_id))
    assert set(first.logs) != set(other.logs)


def test_default_anchor_and_names() -> None:
    """Data starts at 2026-01-01T00:00:00Z in six named logs."""
    dataset = Dataset(events_per_log=10)
    assert dataset.start_ms == ANCHOR_MS == 1_767_225_600_000
    assert [s.name for s in dataset.logs.values()] == [
        "firewall-traffic", "cdn-access-noheader", "vpn-sessions", "idr-auth-json", "app-kv", "syslog-text",
    ]  # fmt: skip


def test_keys_strictly_increase_and_sequence_numbers_exceed_2_pow_53(dataset: Dataset) -> None:
    """(timestamp, sequence_number) strictly increases; sequence numbers are unique across logs."""
    every: list[int] = []
    for log_id in dataset.logs:
        keys = [(ts, seq) for ts, seq, _ in dataset.events(log_id)]
        assert keys == sorted(set(keys))
        assert all(seq > 2**53 for _, seq in keys)
        every.extend(seq for _, seq in keys)
    assert len(every) == len(set(every))


def test_huge_logs_cost_no_memory_or_time() -> None:
    """A log of 50 million events is built instantly and its last event found by search."""
    began = time.monotonic()
    dataset = Dataset(events_per_log=50_000_000)
    log_id = dataset.log_id("idr-auth-json")
    last = dataset.event_at(log_id, 49_999_999)
    from_last = list(dataset.events(log_id, last[0], last[0] + 1))
    assert last in from_last
    assert dataset.count(log_id) == 50_000_000
    assert time.monotonic() - began < 1.0


def test_ground_truth_ranges_are_half_open(dataset: Dataset) -> None:
    """events(log, from, to) holds timestamps in [from, to)."""
    log_id = dataset.log_id("vpn-sessions")
    everything = list(dataset.events(log_id))
    ts = [t for t, _, _ in everything]
    assert list(dataset.events(log_id, ts[5], ts[9])) == everything[5:9]
    assert dataset.count(log_id, ts[5], ts[9]) == 4


def test_firewall_csv_has_header_first_and_typed_columns(dataset: Dataset) -> None:
    """The first event is a header of 16 columns; rows have ints, floats, booleans, quotes."""
    lines = messages(dataset, "firewall-traffic")
    header = csv_rows(lines[0])[0]
    assert len(header) == 16
    assert header[0] == "receive_time"
    rows = [csv_rows(line) for line in lines[1:]]
    good = [r[0] for r in rows if len(r) == 1 and len(r[0]) == 16]
    assert len(good) >= 290
    assert all(r[0][4] == "/" and r[0][10] == " " for r in good)
    assert any("," in r[13] for r in good)
    assert any(field == "" for r in good for field in r)
    assert {r[14] for r in good} == {"true", "false"}
    float(good[0][12])
    int(good[0][10])


def test_firewall_edge_cases(dataset: Dataset) -> None:
    """Embedded newline and quotes, non-ASCII, an unbalanced quote and a wrong field count."""
    lines = messages(dataset, "firewall-traffic")
    assert any("\n" in line and '""quotes""' in line for line in lines)
    assert any("防火墙" in line for line in lines)
    assert any(line.count('"') % 2 == 1 for line in lines)
    assert any(len(csv_rows(line)[0]) > 16 for line in lines if line.count('"') % 2 == 0)


def test_cdn_log_has_no_header(dataset: Dataset) -> None:
    """Every cdn line is data: it starts with a date."""
    lines = messages(dataset, "cdn-access-noheader")
    assert lines[0].startswith("2026-01-01,00:00:00,")
    assert any("naïve" in line for line in lines)


def test_vpn_header_gains_a_column_half_way(dataset: Dataset) -> None:
    """A second header with one more column appears as an event; later rows follow it."""
    lines = messages(dataset, "vpn-sessions")
    headers = [i for i, line in enumerate(lines) if line.startswith("session_id,")]
    assert headers == [0, 150]
    assert len(csv_rows(lines[1])[0]) == 8
    assert len(csv_rows(lines[151])[0]) == 9
    assert csv_rows(lines[150])[0][-1] == "mfa_method"


def test_idr_messages_are_nested_json(dataset: Dataset) -> None:
    """Every IDR message is a JSON object; most have nested r7_context."""
    parsed = [orjson.loads(m) for m in messages(dataset, "idr-auth-json")]
    assert all(isinstance(p, dict) for p in parsed)
    assert sum("r7_context" in p for p in parsed) >= 290
    assert any("🚀" in str(p) for p in parsed)


def test_kv_messages_have_quoted_values_with_spaces(dataset: Dataset) -> None:
    """key=value lines include quoted values with spaces."""
    lines = messages(dataset, "app-kv")
    assert any('msg="order placed successfully"' in line for line in lines)


def test_syslog_has_a_64k_line_an_empty_one_and_non_ascii(dataset: Dataset) -> None:
    """syslog-text carries a message over 64 KiB, empty messages and non-ASCII."""
    lines = messages(dataset, "syslog-text")
    assert max(len(line.encode()) for line in lines) >= 64 * 1024
    assert "" in lines
    assert any("日本語" in line for line in lines)


def test_events_per_log_may_differ_by_log() -> None:
    """A mapping gives each log its own count."""
    counts = {
        "firewall-traffic": 5,
        "cdn-access-noheader": 6,
        "vpn-sessions": 7,
        "idr-auth-json": 8,
        "app-kv": 9,
        "syslog-text": 10,
    }
    dataset = Dataset(events_per_log=counts)
    assert {s.name: dataset.count(s.id) for s in dataset.logs.values()} == counts


def test_tiny_logs_still_work() -> None:
    """A one-event log holds only its first event (the header for firewall-traffic)."""
    dataset = Dataset(events_per_log=1)
    assert messages(dataset, "firewall-traffic")[0].startswith("receive_time,")
    assert dataset.count(dataset.log_id("app-kv"), KEY_MIN[0], KEY_MAX[0]) == 1


def test_a_log_named_after_a_sample_has_its_kind_and_events_of_its_own():
    """`firewall-traffic-2` is a second firewall log: same format, other events."""
    data = Dataset(events_per_log=20, logsets={"firewall-traffic": "A", "firewall-traffic-2": "A"})
    first, second = (
        data.logs[data.log_id(name)] for name in ("firewall-traffic", "firewall-traffic-2")
    )
    assert type(first.source) is type(second.source)
    assert first.id != second.id
