"""The allocator of Arrow buffers during a run."""

import pyarrow as pa
import pytest

from log_ingestion.errors import ConfigError
from log_ingestion.process import choose_memory_pool


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


@pytest.mark.parametrize("name", ["mimalloc", "system"])
def test_an_explicit_pool_is_used_even_from_a_dot_env(name):
    """ARROW_DEFAULT_MEMORY_POOL from `.env` never reaches Arrow itself: the run applies it."""
    pa.set_memory_pool(pa.jemalloc_memory_pool())
    assert choose_memory_pool(name) == name
    assert pa.default_memory_pool().backend_name == name


def test_a_pool_this_pyarrow_lacks_is_a_configuration_error(monkeypatch):
    """Asked for an allocator the build does not have: one line naming the others."""

    def missing() -> pa.MemoryPool:
        raise NotImplementedError("built without jemalloc")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", missing)
    with pytest.raises(ConfigError, match=r"^ARROW_DEFAULT_MEMORY_POOL: .*no jemalloc.*system"):
        choose_memory_pool("jemalloc")
    assert choose_memory_pool() == "system"  # unset: the system allocator instead
