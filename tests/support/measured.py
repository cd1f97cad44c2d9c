"""What a CLI subprocess inherits so that coverage measures it as well (coverage's
`patch = subprocess` puts its configuration in this variable; the tests otherwise give
each subprocess only the environment a user would)."""

from __future__ import annotations

import os

COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG",)


def coverage_env() -> dict[str, str]:
    return {name: os.environ[name] for name in COVERAGE_VARIABLES if name in os.environ}
