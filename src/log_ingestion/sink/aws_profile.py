"""Credentials of an AWS profile, read from the shared files as the AWS tools do.

delta-rs's object store finds credentials in the AWS variables, a web identity token, a
container's or an instance's role, but not in `~/.aws/credentials`: a profile with static
keys (`aws_access_key_id`, `aws_secret_access_key`, optionally `aws_session_token`, and a
`region`) is read here and handed to it. A profile that needs a role, SSO or a
credential process is refused with the command that exports its credentials.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from log_ingestion.errors import ConfigError

DEFAULT_PROFILE = "default"
_KEYS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}
_UNSUPPORTED = ("role_arn", "sso_session", "sso_start_url", "credential_process")


def profile_credentials(
    name: str | None, credentials_file: Path, config_file: Path
) -> dict[str, str]:
    """The profile's keys and region as AWS variable names; empty when no profile is named
    and the files have no `default` one. A named profile that is nowhere is a `ConfigError`."""
    wanted = name or DEFAULT_PROFILE
    credentials = _section(credentials_file, wanted)
    config = _section(config_file, wanted if wanted == DEFAULT_PROFILE else f"profile {wanted}")
    if credentials is None and config is None:
        if name:
            raise ConfigError(
                f"AWS_PROFILE: no profile {name!r} in {credentials_file} or {config_file}"
            )
        return {}
    merged = {**(config or {}), **(credentials or {})}
    if any(key in merged for key in _UNSUPPORTED) and "aws_access_key_id" not in merged:
        raise ConfigError(
            f"AWS_PROFILE: profile {wanted!r} takes a role, SSO or a credential process, which "
            "the object store cannot resolve; export its credentials first "
            f"(aws configure export-credentials --profile {wanted} --format env)"
        )
    found = {variable: merged[key] for key, variable in _KEYS.items() if merged.get(key)}
    if merged.get("region"):
        found["AWS_REGION"] = merged["region"]
    return found


def _section(path: Path, name: str) -> dict[str, str] | None:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"AWS_PROFILE: {path} cannot be read ({exc})") from None
    return dict(parser[name]) if parser.has_section(name) else None
