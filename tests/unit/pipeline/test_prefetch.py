"""Background prefetching keeps order, passes errors on, and stops with its consumer."""

import threading

import pytest

from log_ingestion.pipeline.overlap import prefetch


def test_items_arrive_in_order():
    """What the source yields, the consumer sees, in the same order."""
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_error_reaches_the_consumer_after_earlier_items():
    """A failing source hands over what it made, then its error."""

    def source():
        yield 1
        yield 2
        raise ValueError("boom")

    seen = []
    with pytest.raises(ValueError, match="boom"):
        seen.extend(prefetch(source()))
    assert seen == [1, 2]


def test_consumer_stopping_early_stops_the_producer():
    """Breaking out of the loop ends the producer thread instead of leaking it."""
    produced = []

    def source():
        for number in range(10_000):
            produced.append(number)
            yield number

    for number in prefetch(source(), depth=2):
        if number == 3:
            break
    assert len(produced) < 10_000
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


def test_empty_source():
    """Nothing in, nothing out."""
    assert list(prefetch(iter([]))) == []


def test_an_abandoned_prefetch_closed_in_its_producer_thread_does_not_join_itself():
    """A generator left suspended is finalised by whichever thread collects it, its own
    producer included: closing it there must not try to join that very thread."""
    outcome: list[BaseException | None] = []
    suspended = threading.Event()
    ahead = None

    def source():
        yield 1
        suspended.wait(5)  # the consumer holds item 1; the generator is suspended
        try:
            ahead.close()  # as the garbage collector would, in the producer thread
            outcome.append(None)
        except RuntimeError as error:
            outcome.append(error)
        yield 2

    ahead = prefetch(source(), depth=4)
    assert next(ahead) == 1
    suspended.set()
    done = threading.Event()
    for _ in range(500):
        if outcome or done.wait(0.01):
            break

    assert outcome == [None]
