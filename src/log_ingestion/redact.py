"""Secrets out of every line: values under secret-looking keys, and the key's own value
wherever it got to. Used by the log records and by the lines the CLI prints itself; no
logging library is imported here."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

REDACTED = "***"
_SECRET_KEYS = frozenset({"api_key", "x-api-key", "rapid7_api_key", "authorization", "password"})


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any secret-looking key, wherever a caller put it."""
    for key in event.keys() & _SECRET_KEYS:
        event[key] = REDACTED
    return event


class RedactValues:
    """Cut known secret values out of every string value, however they got there."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(secret for secret in secrets if secret)

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self._secrets:
            for key, value in event.items():
                event[key] = self._scrub(value)
        return event

    def text(self, value: str) -> str:
        """`value` with every secret replaced by `***`."""
        scrubbed: str = self._scrub(value)
        return scrubbed

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(item) for item in value)
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        return value
