"""Shared fixtures: the Log Search emulator as a real server on 127.0.0.1, random port.

`emulator` is a fresh server per test over a small dataset; `make_emulator` builds one
with a custom dataset, keys, faults or options. Both stop their servers after the test.

`s3_server` (one SeaweedFS S3 server a session) and `s3_bucket` (a fresh bucket on it per
test) come from tests/support/s3.py.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import pytest

from log_ingestion.emulator import DEFAULT_API_KEY, Dataset, Emulator, Faults

from .support.s3 import s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # fixtures: pytest finds them in this module

SMALL_EVENTS_PER_LOG = 300
SMALL_SPAN_MS = 3_600_000
API_KEY = DEFAULT_API_KEY

EmulatorFactory = Callable[..., Emulator]


def small_dataset(**overrides: Any) -> Dataset:
    """300 events per log over one hour from 2026-01-01T00:00:00Z, unless overridden."""
    options: dict[str, Any] = {"events_per_log": SMALL_EVENTS_PER_LOG, "span_ms": SMALL_SPAN_MS}
    options.update(overrides)
    return Dataset(**options)


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """Start emulators with `make_emulator(dataset=..., api_keys=..., faults=..., **options)`."""
    started: list[Emulator] = []

    def factory(
        dataset: Dataset | None = None,
        *,
        api_keys: Mapping[str, Collection[str] | None] | None = None,
        faults: Faults | None = None,
        **options: Any,
    ) -> Emulator:
        emulator = Emulator(
            dataset or small_dataset(), api_keys=api_keys, faults=faults, **options
        ).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> Emulator:
    """A running emulator over the small dataset; key `API_KEY` reads every log."""
    return make_emulator()
