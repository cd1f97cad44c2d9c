"""Every setting is documented where a user looks for it: a row of the README's
configuration table and an entry (set or commented out) in `.env.example`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from log_ingestion.config import Settings

ROOT = Path(__file__).resolve().parents[2]
# the AWS chain's own file locations: the README names them in the AWS_PROFILE row
NOT_IN_ENV_EXAMPLE = {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"}
VARIABLES = sorted(name.upper() for name in Settings.model_fields)


def readme_rows() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith("| `"))


@pytest.mark.parametrize("variable", VARIABLES)
def test_the_readme_table_has_a_row_for_it(variable: str) -> None:
    assert f"`{variable}`" in readme_rows()


@pytest.mark.parametrize("variable", sorted(set(VARIABLES) - NOT_IN_ENV_EXAMPLE))
def test_env_example_names_it(variable: str) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(rf"^(# )?{variable}=", text, re.MULTILINE), variable
