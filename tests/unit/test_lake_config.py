"""Settings of a Delta output: OUTPUT_DIR on s3://, TABLE_FORMAT, the AWS variables."""

import pytest

from log_ingestion.config import Settings, load_settings
from log_ingestion.errors import ConfigError
from log_ingestion.sink.delta import writer_properties
from log_ingestion.sink.lake_store import lake_options

KEY = "k3y-that-must-never-show"
AWS_SECRET = "aws-secret-that-must-never-show"
TOKEN = "aws-token-that-must-never-show"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No variable from the machine or a stray .env leaks into these tests."""
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws of the machine's
    monkeypatch.chdir(tmp_path)


def refused(**settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**settings)
    return str(caught.value)


def test_an_s3_output_defaults_to_delta():
    """OUTPUT_DIR=s3://bucket/prefix means Delta tables unless told otherwise."""
    settings = load_settings(output_dir="s3://lake/logs/")
    assert (settings.output_dir, settings.resolved_table_format) == ("s3://lake/logs", "delta")


def test_a_local_output_defaults_to_parquet(tmp_path):
    """A local path keeps today's Parquet folder."""
    assert load_settings(output_dir=str(tmp_path)).resolved_table_format == "parquet"


def test_delta_on_a_local_path_is_accepted(tmp_path):
    """TABLE_FORMAT=delta (any case) writes Delta tables to a local folder too."""
    assert load_settings(output_dir=str(tmp_path), table_format="DELTA").table_format == "delta"


def test_parquet_on_s3_is_refused_with_the_reason():
    """Plain Parquet on an object store is refused in one line that says why."""
    message = refused(output_dir="s3://lake/logs", table_format="parquet")
    assert message.startswith("TABLE_FORMAT: parquet is refused on s3://")
    assert "atomic rename" in message


@pytest.mark.parametrize("uri", ["gs://bucket/x", "s3://", "s3:///prefix", "http://host/x"])
def test_other_uris_are_refused(uri):
    """Only local paths and s3://bucket[/prefix] are outputs."""
    assert refused(output_dir=uri).startswith("OUTPUT_DIR: ")


def test_state_dir_with_delta_is_refused(tmp_path):
    """A Delta table keeps its own checkpoints, so STATE_DIR would be ignored: refused."""
    assert refused(output_dir="s3://lake/x", state_dir=str(tmp_path)).startswith("STATE_DIR: ")


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"]
)
def test_allow_http_takes_a_loopback_endpoint(endpoint):
    """AWS_ALLOW_HTTP=true with a plain-HTTP endpoint on loopback is accepted."""
    settings = load_settings(
        output_dir="s3://lake/x", aws_endpoint_url=endpoint, aws_allow_http=True
    )
    assert lake_options(settings).storage_options()["AWS_ALLOW_HTTP"] == "true"


@pytest.mark.parametrize(
    ("endpoint", "allow"),
    [("http://10.0.0.5:9000", True), (None, True), ("https://s3.example.com", True)],
)
def test_allow_http_without_a_loopback_http_endpoint_is_refused(endpoint, allow):
    """Plain HTTP is for a store on this machine only, as for the API."""
    message = refused(output_dir="s3://lake/x", aws_endpoint_url=endpoint, aws_allow_http=allow)
    assert message.startswith("AWS_ALLOW_HTTP: plain HTTP is allowed only")


def test_a_plain_http_endpoint_needs_allow_http():
    """An http:// endpoint without AWS_ALLOW_HTTP=true is refused, naming both."""
    message = refused(output_dir="s3://lake/x", aws_endpoint_url="http://127.0.0.1:9000")
    assert message.startswith("AWS_ENDPOINT_URL: plain http needs AWS_ALLOW_HTTP=true")


def test_aws_settings_are_not_checked_for_a_local_output(tmp_path):
    """An AWS_ALLOW_HTTP left in the environment for other tools does not stop a local run."""
    assert load_settings(output_dir=str(tmp_path), aws_allow_http=True).aws_allow_http


def test_aws_secrets_are_secret(monkeypatch):
    """The secret key and the session token are held as secrets, listed for redaction."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    settings = load_settings(output_dir="s3://lake/x")
    assert AWS_SECRET not in repr(settings)
    assert TOKEN not in repr(settings)
    assert settings.secret_values() == [KEY, AWS_SECRET, TOKEN]


def test_unset_aws_variables_are_left_to_the_aws_chain():
    """Only variables that are set become storage options; the rest is the chain's."""
    options = lake_options(load_settings(output_dir="s3://lake/x", aws_region="eu-west-1"))
    assert {
        name: value for name, value in options.storage_options().items() if name.startswith("AWS")
    } == {"AWS_REGION": "eu-west-1"}


def test_timeouts_and_retries_come_from_the_settings():
    """A hung store fails in bounded time: REQUEST_TIMEOUT and RETRY_ATTEMPTS bound it."""
    settings = load_settings(output_dir="s3://lake/x", request_timeout=2.5, retry_attempts=1)
    options = lake_options(settings).storage_options()
    expected = {
        "timeout": "2500ms",
        "connect_timeout": "2500ms",
        "max_retries": "1",
        "retry_timeout": "2500ms",
    }
    assert expected == {name: options[name] for name in expected}


def test_the_store_is_named_without_secrets(monkeypatch):
    """Messages name the bucket and the endpoint, never a credential."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    options = lake_options(
        load_settings(output_dir="s3://lake/x", aws_endpoint_url="https://s3.example.com")
    )
    assert options.store == "s3://lake at https://s3.example.com"
    assert AWS_SECRET not in repr(options)


def write_profiles(tmp_path, credentials: str, config: str = "") -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(credentials)
    (tmp_path / ".aws" / "config").write_text(config)


def test_a_profile_with_keys_is_read_from_the_shared_files(tmp_path):
    """AWS_PROFILE names a profile of ~/.aws/credentials, its region from ~/.aws/config."""
    write_profiles(
        tmp_path,
        "[lake]\naws_access_key_id = AK\naws_secret_access_key = SK\n",
        "[profile lake]\nregion = eu-central-1\n",
    )
    options = lake_options(load_settings(output_dir="s3://lake/x", aws_profile="lake"))
    expected = {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": "SK",
        "AWS_REGION": "eu-central-1",
    }
    assert expected == dict(options.aws)


def test_keys_in_the_variables_win_over_the_default_profile(tmp_path):
    """The AWS order: variables first, then the shared files."""
    write_profiles(tmp_path, "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n")
    settings = load_settings(
        output_dir="s3://lake/x", aws_access_key_id="VAR", aws_secret_access_key="VS"
    )
    assert (
        lake_options(settings).aws["AWS_ACCESS_KEY_ID"],
        lake_options(settings).aws["AWS_SECRET_ACCESS_KEY"],
    ) == ("VAR", "VS")


def test_a_profile_that_needs_a_role_is_refused_with_the_way_out(tmp_path):
    """Roles, SSO and credential processes are not resolved: the message says how to export."""
    write_profiles(tmp_path, "", "[profile ops]\nrole_arn = arn:aws:iam::1:role/x\n")
    with pytest.raises(ConfigError, match="aws configure export-credentials --profile ops"):
        lake_options(load_settings(output_dir="s3://lake/x", aws_profile="ops"))


def test_a_missing_profile_is_refused(tmp_path):
    """A typo in AWS_PROFILE is one line naming it."""
    with pytest.raises(ConfigError, match="AWS_PROFILE: no profile 'nope'"):
        lake_options(load_settings(output_dir="s3://lake/x", aws_profile="nope"))


@pytest.mark.parametrize(
    ("codec", "level", "message"),
    [("zstd", -5, "should fall between 1-22"), ("lz4", 5, "with zstd or gzip only")],
)
def test_levels_delta_cannot_take_are_refused(codec, level, message):
    """Delta's Parquet writer takes zstd 1-22 and gzip levels; anything else is one line."""
    with pytest.raises(ConfigError, match=f"^PARQUET_COMPRESSION_LEVEL: .*{message}"):
        writer_properties(codec, level, 128_000)
