"""Benchmarks of log-ingestion: `make bench` or `python -m benchmarks [--quick] [NAME ...]`."""
