"""Shards: every log in exactly one of N, the same everywhere, and K/N read strictly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.errors import ConfigError
from log_ingestion.shard import Shard, parse_shard, shard_of


@given(st.text(min_size=1), st.integers(1, 64))
def test_every_log_falls_in_exactly_one_shard(log_id, count):
    """Of the N shards, exactly one takes a log."""
    assert [Shard(k, count).takes(log_id) for k in range(1, count + 1)].count(True) == 1


def test_a_logs_shard_is_stable():
    """The hash is of the id alone: the same on every run and machine."""
    assert shard_of("0c24fcd2-c496-45b8-a8ef-385845adf2ff", 3) == shard_of(
        "0c24fcd2-c496-45b8-a8ef-385845adf2ff", 3
    )


def test_shards_spread_logs_evenly():
    """600 logs over 3 shards: each gets between 150 and 250."""
    counts = [0, 0, 0]
    for n in range(600):
        counts[shard_of(f"log-{n}", 3) - 1] += 1
    assert all(150 <= count <= 250 for count in counts), counts


def test_k_of_n_is_read():
    """`2/3` is shard 2 of 3, spaces allowed."""
    assert Shard(2, 3) == parse_shard(" 2 / 3 ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/3", "K runs from 1"),
        ("4/3", "K runs from 1"),
        ("2", "not K/N"),
        ("1/0", "give 1 to"),
        ("a/b", "not K/N"),
    ],
)
def test_a_bad_shard_is_one_line_naming_the_option(text, message):
    """A shard outside 1..N, or not K/N, is a configuration error."""
    with pytest.raises(ConfigError, match=rf"^--shard: .*{message}"):
        parse_shard(text, option="--shard")
