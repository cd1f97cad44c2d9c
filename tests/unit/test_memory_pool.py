"""The allocator of Arrow buffers during a run."""

import pyarrow as pa
import pytest

from log_ingestion.runner import choose_memory_pool


@pytest.fixture(autouse=True)
def restore_pool():
    pool = pa.default_memory_pool()
    yield
    pa.set_memory_pool(pool)


def test_a_run_uses_jemalloc_or_the_system_allocator():
    """Unset, a run moves off mimalloc, which held more memory at peak."""
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert choose_memory_pool() in {"jemalloc", "system"}
    assert pa.default_memory_pool().backend_name in {"jemalloc", "system"}


def test_an_explicit_pool_is_left_as_arrow_set_it():
    """ARROW_DEFAULT_MEMORY_POOL was applied by Arrow itself; the run does not override it."""
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert choose_memory_pool("mimalloc") == "mimalloc"
