"""Management endpoints: logs, log sets and labels with the real object shapes."""

from __future__ import annotations

import httpx
import pytest

from log_ingestion.emulator import Emulator
from log_ingestion.emulator.testing import walk

LOG_KEYS = {
    "id", "name", "links", "logsets_info", "retention_period", "rrn", "source_type",
    "structures", "token_seed", "tokens", "user_data",
}  # fmt: skip
SAMPLE_LOGS = {
    "firewall-traffic",
    "cdn-access-noheader",
    "vpn-sessions",
    "idr-auth-json",
    "app-kv",
    "syslog-text",
}


def test_list_logs_has_every_sample_log_with_real_fields(client: httpx.Client) -> None:
    """GET /management/logs lists the six sample logs in the §6 shape."""
    logs = client.get("/management/logs").json()["logs"]
    assert {log["name"] for log in logs} == SAMPLE_LOGS
    assert all(set(log) == LOG_KEYS for log in logs)


def test_log_links_are_related_topkeys_and_logset_self(
    client: httpx.Client, emulator: Emulator
) -> None:
    """A log carries a Related /topkeys link; its logsets_info entries a Self link and rrn."""
    log_id = emulator.dataset.log_id("firewall-traffic")
    log = client.get(f"/log_search/management/logs/{log_id}").json()["log"]
    assert [
        {"rel": "Related", "href": f"{emulator.url}/log_search/management/logs/{log_id}/topkeys"}
    ] == [{"rel": link["rel"], "href": link["href"]} for link in log["links"]]
    logset = log["logsets_info"][0]
    assert logset["name"] == "Network Devices"
    assert (
        f"{emulator.url}/log_search/management/logsets/{logset['id']}" == logset["links"][0]["href"]
    )
    assert logset["rrn"].startswith("rrn:logsearch:")


def test_logsets_group_the_logs(client: httpx.Client) -> None:
    """Three log sets; each lists its logs in logs_info with Self links."""
    logsets = client.get("/management/logsets").json()["logsets"]
    members = {ls["name"]: {info["name"] for info in ls["logs_info"]} for ls in logsets}
    assert {
        "Network Devices": {"firewall-traffic", "cdn-access-noheader", "vpn-sessions"},
        "Insight IDR": {"idr-auth-json"},
        "Applications": {"app-kv", "syslog-text"},
    } == members


def test_get_one_logset(client: httpx.Client, emulator: Emulator) -> None:
    """GET /management/logsets/{id} wraps the object in `logset`."""
    logset_id = emulator.dataset.logset_id("Applications")
    body = client.get(f"/management/logsets/{logset_id}").json()
    assert {"id", "name", "description", "user_data", "logs_info"} == set(body["logset"])


@pytest.mark.parametrize("kind", ["logs", "logsets", "labels"])
def test_unknown_id_is_404(client: httpx.Client, kind: str) -> None:
    """Unknown ids answer 404 {"message":"HTTP 404 Not Found"}."""
    response = client.get(f"/management/{kind}/00000000-dead-beef-0000-000000000000")
    assert (response.status_code, response.json()) == (404, {"message": "HTTP 404 Not Found"})


def test_label_by_id(client: httpx.Client) -> None:
    """GET /management/labels/{id} returns id, sn, name, color, reserved."""
    label_id = "00000000-0000-0000-0000-000000000006"
    body = client.get(f"/management/labels/{label_id}").json()
    assert {
        "id": label_id,
        "sn": 6,
        "name": "Out of order entry",
        "color": "ffab04",
        "reserved": True,
    } == body["label"]


def test_restricted_key_sees_only_its_logs_and_403_on_others(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A key limited to some logs lists only them and gets 403 Forbidden for the rest."""
    emulator = make_emulator()
    allowed = emulator.dataset.log_id("app-kv")
    emulator.api_keys["narrow"] = {allowed}
    http = make_client(emulator, key="narrow")
    assert [allowed] == [log["id"] for log in http.get("/management/logs").json()["logs"]]
    other = emulator.dataset.log_id("syslog-text")
    response = http.get(f"/management/logs/{other}")
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize("prefix", ["", "/log_search"])
def test_every_label_on_events_resolves_through_its_self_link(
    client: httpx.Client, emulator: Emulator, prefix: str
) -> None:
    """Each label on any event links to /management/labels/<id>, which answers that label."""
    dataset = emulator.dataset
    ids = ":".join(dataset.logs)
    bounds = {"from": dataset.start_ms, "to": dataset.end_ms, "per_page": 500}
    events = walk(client, client.get(f"{prefix}/query/logs/{ids}", params=bounds)).events
    labels = {label["id"]: label["links"] for event in events for label in event["labels"]}
    assert len(labels) >= 1
    for label_id, links in labels.items():
        href = f"{emulator.url}{prefix}/management/labels/{label_id}"
        assert [{"rel": "Self", "href": href}] == links
        answer = client.get(href).json()["label"]
        assert (label_id, {"id", "sn", "name", "color", "reserved"}) == (answer["id"], set(answer))
