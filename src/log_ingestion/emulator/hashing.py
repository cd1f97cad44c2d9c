"""Cheap, deterministic integer hashing: event i of a log is computed from (seed, log, i).

A per-event `random.Random` would cost microseconds; splitmix64 costs a few integer
operations and gives well-spread bits to pick from precomputed pools.
"""

from __future__ import annotations

import hashlib

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(value: int) -> int:
    """The splitmix64 finaliser: a bijection on 64-bit integers with good avalanche."""
    value &= MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def event_hash(salt: int, index: int) -> int:
    """64 well-mixed bits for event `index` of the log salted with `salt`."""
    return mix64(salt + index * GOLDEN)


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from `parts`, stable across runs and Python versions."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stable_uuid(*parts: object) -> str:
    """A UUID-shaped id derived from `parts`, stable across runs."""
    hexdigest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return f"{hexdigest[:8]}-{hexdigest[8:12]}-4{hexdigest[13:16]}-a{hexdigest[17:20]}-{hexdigest[20:32]}"
