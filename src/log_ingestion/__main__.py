"""`python -m log_ingestion` runs the same CLI as the `log-ingestion` script."""

from log_ingestion.cli import main

main()
