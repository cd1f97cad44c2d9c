"""The `log-ingestion` command and `python -m log_ingestion`: the signal handlers first, then
the command line (its imports alone take tens of milliseconds, a run's many more)."""

from log_ingestion import process


def main() -> None:
    process.install_signal_handlers()
    from log_ingestion import cli

    try:
        cli.main()
    except SystemExit as done:
        process.leave(done)


if __name__ == "__main__":
    main()
