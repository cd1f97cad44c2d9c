"""Measure how fast the emulator serves one client: `python -m log_ingestion.emulator.throughput`.

The client runs in a separate process (as a real puller would), walks one query with
`per_page=500` by following Next links, and reports events per second; the emulator's
stats give requests per million events.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import orjson

from log_ingestion.emulator.dataset import Dataset
from log_ingestion.emulator.defaults import DEFAULT_API_KEY
from log_ingestion.emulator.server import Emulator
from log_ingestion.emulator.testing import find_link


@dataclass(frozen=True, slots=True)
class Throughput:
    events: int
    requests: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def pull(url: str, api_key: str, params: dict[str, int]) -> Throughput:
    """Walk one query from `url` to its last page; the client side of the measurement."""
    events = requests = 0
    began = time.perf_counter()
    with httpx.Client(headers={"x-api-key": api_key}, timeout=60) as client:
        response = client.get(url, params=params)
        requests += 1
        while True:
            body = orjson.loads(response.content)
            href = find_link(body, "self")
            if href is None:
                events += len(body.get("events") or [])
                href = find_link(body, "next")
                if href is None:
                    break
            response = client.get(href)
            requests += 1
    return Throughput(events, requests, time.perf_counter() - began)


def _pull_in_child(url: str, params: dict[str, int]) -> Throughput:
    code = (
        "import json, sys\n"
        "from log_ingestion.emulator.throughput import pull\n"
        "r = pull(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))\n"
        "print(json.dumps([r.events, r.requests, r.seconds]))\n"
    )
    args = [sys.executable, "-c", code, url, DEFAULT_API_KEY, json.dumps(params)]
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout  # noqa: S603
    events, requests, seconds = json.loads(output)
    return Throughput(events, requests, seconds)


def measure(log_name: str = "firewall-traffic", events: int = 500_000) -> tuple[Throughput, float]:
    """Events/s for one client pulling `events` events, and requests per million events."""
    dataset = Dataset(events_per_log=events * 2)
    with Emulator(dataset) as emulator:
        log_id = dataset.log_id(log_name)
        params = {
            "from": dataset.start_ms,
            "to": dataset.start_ms + dataset.span_ms // 2,
            "per_page": 500,
        }
        result = _pull_in_child(f"{emulator.url}/query/logs/{log_id}", params)
        return result, emulator.stats.requests_per_million_events()


def main() -> None:
    names = sys.argv[1:] or ["firewall-traffic", "idr-auth-json", "app-kv", "syslog-text"]
    for name in names:
        result, per_million = measure(name)
        print(
            f"{name:22} {result.events:>8} events  {result.events_per_second:>10,.0f} events/s"
            f"  {per_million:>6,.0f} requests per 1M events"
        )


if __name__ == "__main__":
    main()
