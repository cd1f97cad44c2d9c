"""The child side of `EmulatorProcess`: serve the emulator, answer `stats`/`reset` on stdin.

Run as `python -m benchmarks.emulator_process '<json config>'`. It prints one JSON line
(url, log ids, data range), then one JSON line per command; it stops when stdin closes
or after `max_seconds`, whichever comes first.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.dataset import DEFAULT_LOGSETS


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    logsets = {name: DEFAULT_LOGSETS.get(name, "Benchmarks") for name in config["logs"]}
    dataset = Dataset(
        events_per_log=config["events_per_log"], span_ms=config["span_ms"], logsets=logsets
    )
    emulator = Emulator(dataset, faults=Faults(**config["faults"])).start()
    # Bounded: a parent that died without closing stdin cannot leave this process behind.
    deadline = threading.Timer(config["max_seconds"], lambda: os._exit(3))
    deadline.daemon = True
    deadline.start()
    hello = {
        "url": emulator.url,
        "logs": {store.name: store.id for store in dataset.logs.values()},
        "start_ms": dataset.start_ms,
        "end_ms": dataset.end_ms,
    }
    print(json.dumps(hello), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                answer = emulator.stats.snapshot()
            elif command == "reset":
                emulator.stats.reset()
                answer = {}
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        emulator.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
