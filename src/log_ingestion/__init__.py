"""Pull log events from the Rapid7 Log Search API into analytics-ready Parquet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("log-ingestion")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
