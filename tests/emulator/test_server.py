"""Transport, auth, prefixes and hrefs of the emulator's HTTP server."""

from __future__ import annotations

import socket

import httpx
import pytest

from log_ingestion.emulator import DEFAULT_API_KEY, Emulator
from log_ingestion.emulator.testing import find_link


def test_url_is_loopback_without_trailing_slash(emulator: Emulator) -> None:
    """The base URL is http://127.0.0.1:PORT with no trailing slash."""
    assert emulator.url == f"http://127.0.0.1:{emulator.port}"


@pytest.mark.parametrize("prefix", ["", "/log_search"])
def test_validate_accepts_the_key_under_both_prefixes(client: httpx.Client, prefix: str) -> None:
    """GET /validate answers 200 Authorized under / and /log_search."""
    response = client.get(f"{prefix}/validate")
    assert (response.status_code, response.json()) == (200, {"message": "Authorized"})


def test_api_key_header_name_is_case_insensitive(make_client, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    """X-API-KEY works as well as x-api-key."""
    http = make_client(emulator, key=None, headers={"X-API-KEY": DEFAULT_API_KEY})
    assert http.get("/validate").status_code == 200


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_unknown_key_is_401(make_client, emulator: Emulator, key: str | None) -> None:  # type: ignore[no-untyped-def]
    """No key or an unknown key: 401 {"message":"Unauthorized"} on every endpoint."""
    http = make_client(emulator, key=key)
    for path in ("/validate", "/management/logs", "/query/logs/x?from=0&to=1"):
        response = http.get(path)
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


def test_json_content_type_has_no_charset(client: httpx.Client) -> None:
    """JSON responses say exactly application/json."""
    assert client.get("/management/logs").headers["content-type"] == "application/json"


def test_unknown_path_is_404(client: httpx.Client) -> None:
    """A path the API does not have answers the API's 404 body."""
    response = client.get("/nothing/here")
    assert (response.status_code, response.json()) == (404, {"message": "HTTP 404 Not Found"})


@pytest.mark.parametrize("prefix", ["", "/log_search"])
def test_hrefs_follow_host_header_and_prefix(
    client: httpx.Client, emulator: Emulator, prefix: str
) -> None:
    """Every href is absolute: the Host the client called plus the prefix it used."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(
        f"{prefix}/query/logs/{log_id}",
        params={"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms},
        headers={"Host": "us.example.test"},
    )
    assert find_link(
        response.json(),
        "Self",
    ).startswith(f"http://us.example.test{prefix}/query/")  # type: ignore[union-attr]


def test_public_base_url_overrides_host(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A configured public base URL is used for every href."""
    emulator = make_emulator(public_base_url="https://us.rest.logs.insight.rapid7.com/")
    body = make_client(emulator).get("/management/logs").json()
    href = body["logs"][0]["links"][0]["href"]
    assert href.startswith("https://us.rest.logs.insight.rapid7.com/management/logs/")


def test_keep_alive_serves_many_requests_on_one_connection(client: httpx.Client) -> None:
    """HTTP/1.1 keep-alive: consecutive requests succeed on a pooled connection."""
    assert all(client.get("/validate").status_code == 200 for _ in range(20))


def test_stop_closes_the_port(make_emulator) -> None:  # type: ignore[no-untyped-def]
    """After stop() nothing listens on the port any more."""
    emulator = make_emulator()
    url = emulator.url
    emulator.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/validate", timeout=2)


def test_context_manager_starts_and_stops() -> None:
    """`with Emulator() as e:` serves inside the block."""
    with Emulator() as emulator:
        response = httpx.get(f"{emulator.url}/validate", headers={"x-api-key": DEFAULT_API_KEY})
    assert response.status_code == 200


def test_refuses_non_loopback_host() -> None:
    """The emulator never listens beyond loopback."""
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")  # noqa: S104 - the point of the test


def test_an_emulator_bug_answers_500_not_a_hang(
    emulator: Emulator,
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An exception inside a handler becomes a 500 JSON answer and a printed traceback."""

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(emulator.api, "handle", broken)
    response = client.get("/validate")
    assert response.status_code == 500
    assert response.json() == {"message": "emulator error: RuntimeError: boom"}
    assert "RuntimeError" in capsys.readouterr().err


def test_bad_content_length_is_400(emulator: Emulator) -> None:
    """A request whose Content-Length is not a number answers 400."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as raw:
        raw.sendall(b"POST /query/logs HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
