"""The API key only follows links to the API's own hosts."""

from __future__ import annotations

import pytest

from log_ingestion.errors import ApiError
from log_ingestion.models import Window


def test_links_to_a_foreign_host_are_refused(make_harness):
    """A Self/Next href pointing elsewhere over plain http is not followed with the key."""
    harness = make_harness(public_base_url="http://collector.example:8080")
    log_id = harness.dataset.log_id("app-kv")
    with harness.client(per_page=50) as client, pytest.raises(ApiError, match="refusing to follow"):
        list(client.pages(log_id, Window(harness.start_ms, harness.end_ms)))
    # the start's Self link was refused before any poll went out
    assert harness.emulator.stats.count("poll") == 0
    assert harness.emulator.stats.count("start") == 1


def test_links_to_the_endpoint_host_are_followed(harness):
    """Hrefs on the endpoint's own host (loopback http here) are followed as given."""
    assert harness.fetch("app-kv", per_page=50) == harness.truth("app-kv")
