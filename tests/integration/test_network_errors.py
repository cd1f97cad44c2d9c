"""A request that cannot reach the API says which host, why, and what to check."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from log_ingestion.emulator import DEFAULT_API_KEY, Emulator
from log_ingestion.errors import RetryableError
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter


def client(endpoint: str) -> LogSearchClient:
    options = ClientOptions(retry_attempts=0, request_timeout=2.0)
    return LogSearchClient(endpoint, SecretStr(DEFAULT_API_KEY), options, RateLimiter(1e6))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_names_the_host_the_cause_and_the_fix():
    """Nothing listens there: the host, "refused", and where the endpoint comes from."""
    port = closed_port()
    with client(f"http://127.0.0.1:{port}") as api, pytest.raises(RetryableError) as caught:
        api.list_logs()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert "RAPID7_API_ENDPOINT" in message


def test_tls_against_a_plain_http_port_says_so(emulator: Emulator):
    """https:// to a server that speaks plain http: a TLS failure, named as one."""
    endpoint = emulator.url.replace("http://", "https://")
    with client(endpoint) as api, pytest.raises(RetryableError) as caught:
        api.list_logs()
    assert "does not speak https" in str(caught.value)
