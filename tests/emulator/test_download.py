"""GET /download/logs/{ids}: raw messages, one per line, streamed with chunked encoding."""

from __future__ import annotations

import httpx
import pytest

from log_ingestion.emulator import Emulator


def test_download_streams_raw_messages_one_per_line(
    client: httpx.Client, emulator: Emulator
) -> None:
    """The body is every message of the range followed by a newline, as text/plain."""
    dataset = emulator.dataset
    log_id = dataset.log_id("app-kv")
    response = client.get(
        f"/download/logs/{log_id}", params={"from": dataset.start_ms, "to": dataset.end_ms}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-disposition"] == "attachment; filename=app-kv.log"
    assert response.text == "".join(m + "\n" for _, _, m in dataset.events(log_id))


def test_download_honours_query_and_limit(client: httpx.Client, emulator: Emulator) -> None:
    """query filters the lines and limit caps them."""
    dataset = emulator.dataset
    log_id = dataset.log_id("app-kv")
    bounds = {"from": dataset.start_ms, "to": dataset.end_ms}
    errors = client.get(
        f"/download/logs/{log_id}", params={**bounds, "query": "where(level=ERROR)"}
    )
    assert all("level=ERROR" in line for line in errors.text.splitlines())
    limited = client.get(f"/download/logs/{log_id}", params={**bounds, "limit": 7})
    assert len(limited.text.splitlines()) == 7


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"to": 10}, 400),
        ({"from": 0, "to": 10, "query": "calculate(count)"}, 400),
        ({"from": 0, "to": 10, "query": "where("}, 400),
    ],
)
def test_download_validation(
    client: httpx.Client, emulator: Emulator, params: dict[str, object], status: int
) -> None:
    """Download needs from or time_range and refuses calculations and bad LEQL."""
    log_id = emulator.dataset.log_id("app-kv")
    assert client.get(f"/download/logs/{log_id}", params=params).status_code == status


def test_download_more_than_ten_logs_is_400(client: httpx.Client, emulator: Emulator) -> None:
    """At most ten logs per download."""
    ids = ":".join([emulator.dataset.log_id("app-kv")] * 11)
    assert client.get(f"/download/logs/{ids}", params={"from": 0}).status_code == 400


def test_download_counts_against_its_own_family(emulator: Emulator, client: httpx.Client) -> None:
    """Download has a rate-limit window of its own."""
    emulator.faults.rate_limit = 1
    log_id = emulator.dataset.log_id("app-kv")
    assert client.get(f"/download/logs/{log_id}", params={"from": 0}).status_code == 200
    assert client.get("/management/logs").status_code == 200
    assert client.get(f"/download/logs/{log_id}", params={"from": 0}).status_code == 429
