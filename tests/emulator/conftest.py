"""Fixtures for the emulator's own tests: httpx clients bound to a running emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from log_ingestion.emulator import DEFAULT_API_KEY, Emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.url, headers={"x-api-key": DEFAULT_API_KEY}, timeout=10
    ) as http:
        yield http


@pytest.fixture
def make_client() -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def factory(
        emulator: Emulator, key: str | None = DEFAULT_API_KEY, **options: Any
    ) -> httpx.Client:
        headers = {"x-api-key": key} if key is not None else {}
        headers.update(options.pop("headers", {}))
        options.setdefault("timeout", 10)
        http = httpx.Client(base_url=emulator.url, headers=headers, **options)
        clients.append(http)
        return http

    yield factory
    for http in clients:
        http.close()
