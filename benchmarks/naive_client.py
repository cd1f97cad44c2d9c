"""The plain client a user would write first: one query per log over the whole range.

For each log in turn: start the query, poll its Self link every `poll_interval` until it
is done, then follow every Next link (polling those too). No windows, no counts, no
checkpoints: the fewest requests any client can make for the events, and the yardstick of
the API-efficiency benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from log_ingestion.emulator import DEFAULT_API_KEY


def _link(body: dict[str, Any], rel: str) -> str | None:
    for link in body.get("links") or []:
        if str(link.get("rel", "")).lower() == rel:
            return str(link["href"])
    return None


def _awaited(
    client: httpx.Client, response: httpx.Response, poll_interval: float
) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(response.content)
    while (href := _link(body, "self")) is not None:
        time.sleep(poll_interval)
        body = orjson.loads(client.get(href).content)
    return body


def backfill(
    url: str, log_ids: Sequence[str], start_ms: int, end_ms: int, *, poll_interval: float
) -> tuple[int, float]:
    """(events read, seconds) for every log's events in `[start_ms, end_ms)`."""
    began, events = time.perf_counter(), 0
    with httpx.Client(headers={"x-api-key": DEFAULT_API_KEY}, timeout=60) as client:
        for log_id in log_ids:
            params = {"query": "where(/.*/)", "from": start_ms, "to": end_ms, "per_page": 500}
            response = client.get(f"{url}/query/logs/{log_id}", params=params)
            body = _awaited(client, response, poll_interval)
            events += len(body.get("events") or [])
            while (href := _link(body, "next")) is not None:
                body = _awaited(client, client.get(href), poll_interval)
                events += len(body.get("events") or [])
    return events, time.perf_counter() - began
