"""Pull log events from the Rapid7 Log Search API into analytics-ready Parquet.

`__version__` is read from the installed metadata when first asked for: importlib.metadata
costs tens of milliseconds, and the signal handlers are installed before anything else.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("log-ingestion")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
