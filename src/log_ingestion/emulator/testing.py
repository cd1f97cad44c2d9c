"""A minimal protocol walker for tests and benchmarks of the emulator itself.

It follows the protocol literally (poll `Self`, follow `Next`) and records what it saw;
the product's real client lives in `log_ingestion.source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


@dataclass
class Walk:
    """Everything one walk of a query saw, in order."""

    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[tuple[int, int]]:
        """(timestamp, exact sequence number) of each event."""
        return [(e["timestamp"], int(e["sequence_number_str"])) for e in self.events]

    @property
    def messages(self) -> list[str]:
        return [e["message"] for e in self.events]

    @property
    def final(self) -> dict[str, Any]:
        return self.bodies[-1]


def find_link(body: dict[str, Any], rel: str) -> str | None:
    """The href of the first link with `rel`, compared case-insensitively."""
    for item in body.get("links") or []:
        if str(item.get("rel", "")).lower() == rel.lower():
            return str(item["href"])
    return None


def walk(client: httpx.Client, response: httpx.Response, *, max_requests: int = 100_000) -> Walk:
    """Poll Self links and follow Next links from `response` until the query is exhausted."""
    seen = Walk()
    for _ in range(max_requests):
        if response.status_code not in (200, 202):
            raise AssertionError(f"{response.status_code} from {response.url}: {response.text}")
        body = orjson.loads(response.content)
        seen.statuses.append(response.status_code)
        seen.bodies.append(body)
        seen.urls.append(str(response.url))
        self_href = find_link(body, "self")
        if self_href is not None:
            response = client.get(self_href)
            continue
        seen.events.extend(body.get("events") or [])
        next_href = find_link(body, "next")
        if next_href is None:
            return seen
        response = client.get(next_href)
    raise AssertionError(f"the walk did not end within {max_requests} requests")
