"""The emulator's constants, in a module of their own: the `emulator` command's option
defaults need them, and `log-ingestion --help` must not import the server to show them."""

ANCHOR_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
DEFAULT_API_KEY = "emulator-key"
