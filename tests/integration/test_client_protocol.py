"""The async query protocol over real HTTP: pages, polls, link quirks, exact sequence numbers."""

from __future__ import annotations

from tests.integration.conftest import Harness, HarnessFactory

from log_ingestion.emulator import Faults
from log_ingestion.models import Window

LOG = "app-kv"


def test_multi_page_windows_land_every_event_once(make_harness: HarnessFactory) -> None:
    """With 7 events a page, every window takes many Next pages and nothing is lost or doubled."""
    harness = make_harness()

    harness.ingest(rapid7_log_ids=[LOG], per_page=7)

    assert harness.truth(LOG) == harness.landed(LOG)
    assert harness.emulator.stats.count("next", 200) > 20


def test_queries_that_need_several_polls_are_awaited(make_harness: HarnessFactory) -> None:
    """A query that answers 202 and stays running for 4 polls is polled until done."""
    harness = make_harness(faults=Faults(polls_before_ready=4))

    harness.ingest(rapid7_log_ids=[LOG], verify_counts=False)

    assert harness.truth(LOG) == harness.landed(LOG)
    assert harness.emulator.stats.count("poll", 200) == 4  # one query reads the whole hour


def test_next_pages_that_answer_202_are_polled(make_harness: HarnessFactory) -> None:
    """A Next that answers 202 and needs 2 polls is polled like a new query."""
    harness = make_harness(faults=Faults(next_polls_before_ready=2))

    harness.ingest(rapid7_log_ids=[LOG], per_page=20, verify_counts=False)

    assert harness.truth(LOG) == harness.landed(LOG)
    assert harness.emulator.stats.count("next", 202) == harness.emulator.stats.count("next")


def test_lower_case_rels_are_followed(make_harness: HarnessFactory) -> None:
    """`self` and `next` in lower case are followed like `Self` and `Next`."""
    harness = make_harness(faults=Faults(lowercase_rels=True, next_polls_before_ready=1))

    harness.ingest(rapid7_log_ids=[LOG], per_page=20)

    assert harness.truth(LOG) == harness.landed(LOG)


def test_rounded_numeric_sequence_numbers_still_land_exact(make_harness: HarnessFactory) -> None:
    """When the JSON number is rounded, `sequence_number_str` gives the exact value landed."""
    harness = make_harness(faults=Faults(round_sequence_numbers=True))

    harness.ingest(rapid7_log_ids=[LOG], per_page=50)

    assert harness.truth(LOG) == harness.landed(LOG)


def test_client_pages_carry_exact_sequence_numbers(make_harness: HarnessFactory) -> None:
    """The client's pages hold the exact 64-bit sequence numbers above 2**53, in order."""
    harness = make_harness(faults=Faults(round_sequence_numbers=True))
    log_id = harness.dataset.log_id(LOG)
    window = Window(harness.start_ms, harness.end_ms)

    with harness.client(per_page=30) as client:
        pages = list(client.pages(log_id, window))

    expected = [sequence for _, sequence, _ in harness.dataset.events(log_id)]
    actual = [sequence for page in pages for sequence in page.sequence_numbers]
    assert expected == actual
    assert min(actual) > 2**53


def test_client_count_matches_the_ground_truth(make_harness: HarnessFactory) -> None:
    """`calculate(count)` through the client agrees with the emulator's own count."""
    harness = make_harness(faults=Faults(polls_before_ready=2))
    log_id = harness.dataset.log_id(LOG)

    with harness.client() as client:
        actual = client.count(log_id, Window(harness.start_ms, harness.end_ms))

    assert harness.dataset.count(log_id) == actual


def test_events_appended_between_pages_are_neither_lost_nor_doubled(
    make_harness: HarnessFactory,
) -> None:
    """Live events that arrive while a window is paged land once, with everything else."""
    harness = make_harness(faults=Faults(live_append_per_page=3))

    harness.ingest(rapid7_log_ids=[LOG], per_page=20, verify_counts=False)

    truth = harness.truth(LOG)  # read after the run: it includes the appended events
    assert len(truth) > 200
    assert truth == harness.landed(LOG)


def test_logs_lists_the_six_sample_logs(make_harness: HarnessFactory) -> None:
    """The management API lists the sample logs with their log sets."""
    harness = make_harness()

    with harness.client() as client:
        logs = client.list_logs()

    expected = {
        (store.id, store.name, (ls.name,))
        for store in harness.dataset.logs.values()
        for ls in harness.dataset.logsets_of(store.id)
    }
    assert expected == {(log.id, log.name, log.logsets) for log in logs}


def test_labels_land_by_name_asked_once_per_run(harness: Harness) -> None:
    """Events carry label ids; the rows carry their names, each name asked for once."""
    harness.ingest(rapid7_log_ids=[LOG])

    labels = {name for row in harness.table(LOG).column("labels").to_pylist() for name in row}
    assert labels == {"Sample"}
    management = harness.emulator.stats.count("management")
    assert management == 2  # the log list, and the one label
