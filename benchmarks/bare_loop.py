"""The bare loop: download every page of one log's range, decode it, and nothing else.

`python -m benchmarks.bare_loop URL API_KEY LOG_ID FROM TO` (httpx, orjson; one query,
polls and Next links followed). What downloading alone costs per event: a ceiling that no
pipeline which also parses and writes can pass.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx
import orjson


def link(body: dict[str, Any], rel: str) -> str | None:
    return next(
        (item["href"] for item in body.get("links") or [] if item["rel"].lower() == rel), None
    )


def main(url: str, key: str, log_id: str, start: str, end: str) -> int:
    params = {"query": "where(/.*/)", "from": start, "to": end, "per_page": 500}
    events = 0
    with httpx.Client(headers={"x-api-key": key}, timeout=60) as client:
        body = orjson.loads(client.get(f"{url}/query/logs/{log_id}", params=params).content)
        while True:
            while (href := link(body, "self")) is not None:
                time.sleep(0.01)
                body = orjson.loads(client.get(href).content)
            events += len(body.get("events") or [])
            href = link(body, "next")
            if href is None:
                break
            body = orjson.loads(client.get(href).content)
    print(events)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
