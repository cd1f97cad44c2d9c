"""Settings: validated once, one readable line per problem, the key never echoed."""

import pytest

from log_ingestion.config import Settings, load_settings
from log_ingestion.config_values import (
    check_compression_level,
    check_endpoint,
    check_key,
    codecs_with_levels,
    local_path,
)
from log_ingestion.errors import ConfigError
from log_ingestion.timeparse import parse_duration_ms

KEY = "k3y-that-must-never-show"
FLOAT_SETTINGS = [
    "REQUEST_TIMEOUT",
    "POLL_INTERVAL",
    "MAX_POLL_WAIT",
    "RETRY_WAIT_INITIAL",
    "RETRY_WAIT_MAX",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No variable from the machine or a stray .env leaks into these tests."""
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_missing_key_is_one_line_naming_the_variable():
    """Without RAPID7_API_KEY the error says where to set it."""
    with pytest.raises(ConfigError, match=r"^RAPID7_API_KEY: required"):
        load_settings()


def test_key_is_a_secret(monkeypatch):
    """The key is held as a secret and not shown by repr."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    settings = load_settings()
    assert KEY not in repr(settings)
    assert settings.rapid7_api_key is not None
    assert settings.rapid7_api_key.get_secret_value() == KEY


def test_key_from_file(tmp_path, monkeypatch):
    """RAPID7_API_KEY_FILE holds the key for secret mounts."""
    secret = tmp_path / "key"
    secret.write_text(KEY + "\n")
    monkeypatch.setenv("RAPID7_API_KEY_FILE", str(secret))
    settings = load_settings()
    assert settings.rapid7_api_key is not None
    assert settings.rapid7_api_key.get_secret_value() == KEY


def test_key_file_used_when_key_variable_is_empty(tmp_path, monkeypatch):
    """`RAPID7_API_KEY=` left empty does not hide RAPID7_API_KEY_FILE."""
    secret = tmp_path / "key"
    secret.write_text(KEY)
    monkeypatch.setenv("RAPID7_API_KEY", "")
    monkeypatch.setenv("RAPID7_API_KEY_FILE", str(secret))
    settings = load_settings()
    assert settings.rapid7_api_key is not None
    assert settings.rapid7_api_key.get_secret_value() == KEY


def test_key_from_dotenv(tmp_path):
    """A .env file in the working folder is read."""
    (tmp_path / ".env").write_text(f"RAPID7_API_KEY={KEY}\nOUTPUT_DIR=out\n")
    settings = load_settings(require_output=True)
    assert settings.output_dir == "out"


def test_every_problem_is_reported_without_values(monkeypatch):
    """Bad values give one line each, and never echo the value."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("PARQUET_COMPRESSION", "brotli-" + KEY)
    monkeypatch.setenv("CONCURRENCY", "-1")
    monkeypatch.setenv("RAPID7_API_ENDPOINT", "http://example.com")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "RAPID7_API_ENDPOINT",
        "PARQUET_COMPRESSION",
        "CONCURRENCY",
    ]
    assert KEY not in str(caught.value)


def test_region_picks_the_endpoint(monkeypatch):
    """RAPID7_REGION=eu means the EU host."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("RAPID7_REGION", "EU")
    assert load_settings().endpoint == "https://eu.rest.logs.insight.rapid7.com"


def test_log_ids_are_comma_separated(monkeypatch):
    """RAPID7_LOG_IDS is a plain comma-separated list."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("RAPID7_LOG_IDS", " a, b ,,c")
    assert load_settings().rapid7_log_ids == ["a", "b", "c"]


def test_output_dir_required_when_asked(monkeypatch):
    """Commands that write say so when OUTPUT_DIR is missing."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    with pytest.raises(ConfigError, match="OUTPUT_DIR"):
        load_settings(require_output=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://us.rest.logs.insight.rapid7.com",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
    ],
)
def test_endpoint_accepted(url):
    """https anywhere, http only to loopback."""
    assert check_endpoint(url + "/") == url


@pytest.mark.parametrize("url", ["http://10.0.0.1", "ftp://x", "not a url", "http://example.com"])
def test_endpoint_refused(url):
    """Plain http to another host, or no URL at all, is refused."""
    with pytest.raises(ValueError, match=r"refused|absolute"):
        check_endpoint(url)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("1h", 3_600_000), ("15m", 900_000), ("90", 90_000), ("250ms", 250), ("7d", 604_800_000)],
)
def test_durations(text, ms):
    """Durations read the way people write them."""
    assert parse_duration_ms(text) == ms


def test_bad_duration(monkeypatch):
    """WINDOW_SIZE=soon is refused with the accepted forms."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("WINDOW_SIZE", "soon")
    with pytest.raises(ConfigError, match=r"WINDOW_SIZE: not a duration"):
        load_settings()


def test_an_unknown_arrow_memory_pool_is_one_line_naming_the_choices(monkeypatch):
    """ARROW_DEFAULT_MEMORY_POOL is Arrow's variable; a value Arrow does not know fails at start."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "tcmalloc")
    with pytest.raises(ConfigError, match=r"^ARROW_DEFAULT_MEMORY_POOL: .*jemalloc"):
        load_settings()


# -- the API key ----------------------------------------------------------------------


def test_spaces_around_the_key_are_removed(monkeypatch):
    """A header value cannot start or end with whitespace; a pasted key often does."""
    monkeypatch.setenv("RAPID7_API_KEY", f"  {KEY}\t\n")
    settings = load_settings()
    assert settings.rapid7_api_key is not None
    expected = KEY
    assert expected == settings.rapid7_api_key.get_secret_value()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("“k3y”", "has a non-ASCII character (such as a smart quote)"),
        ("\ufeffk3y", "has a non-ASCII character (such as a smart quote)"),
        ("k3y\nk3y", "has a line break inside it"),
        ("k3y\r\nk3y", "has a line break inside it"),
        ("k3y k3y", "has a space or a control character inside it"),
        ("k3y\x00k3y", "has a space or a control character inside it"),
        ("k3y\x7f", "has a space or a control character inside it"),
    ],
)
def test_a_key_that_cannot_be_a_header_value_is_refused(key, problem):
    """Non-ASCII, line breaks, inner spaces and control characters are refused, each named."""
    with pytest.raises(ValueError, match=r"^has ") as caught:
        check_key(key)
    assert problem == str(caught.value).split(";")[0]


def test_a_refused_key_is_one_line_naming_the_variable_not_the_value(monkeypatch):
    """RAPID7_API_KEY with smart quotes: one line naming it, without the key."""
    monkeypatch.setenv("RAPID7_API_KEY", f"“{KEY}”")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = (
        "RAPID7_API_KEY: has a non-ASCII character (such as a smart quote); "
        "copy the key again as plain text"
    )
    assert expected == str(caught.value)


def test_a_key_file_with_a_bom_and_crlf_is_read(tmp_path, monkeypatch):
    """A key file saved by a Windows editor (UTF-8 BOM, CRLF) gives the bare key."""
    secret = tmp_path / "key"
    secret.write_bytes(b"\xef\xbb\xbf" + KEY.encode() + b"\r\n")
    monkeypatch.setenv("RAPID7_API_KEY_FILE", str(secret))
    settings = load_settings()
    assert settings.rapid7_api_key is not None
    expected = KEY
    assert expected == settings.rapid7_api_key.get_secret_value()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("“k3y”".encode(), "the key in it has a non-ASCII character (such as a smart quote)"),
        (b"\xffk3y", "the key in it has a non-ASCII character (such as a smart quote)"),
        (b"k3y\nk3y\n", "the key in it has a line break inside it"),
        (b"\xef\xbb\xbf\r\n", "is empty"),
        (b"k" * (64 * 1024 + 1), "is over 64 KiB"),
    ],
)
def test_a_bad_key_file_is_one_line_naming_the_file_variable(
    tmp_path, monkeypatch, content, problem
):
    """What is wrong with the key file is said against RAPID7_API_KEY_FILE, never with its content."""
    secret = tmp_path / "key"
    secret.write_bytes(content)
    monkeypatch.setenv("RAPID7_API_KEY_FILE", str(secret))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"RAPID7_API_KEY_FILE: {problem}" == str(caught.value).split(";")[0]


def test_a_key_file_that_is_a_folder_is_one_line(tmp_path, monkeypatch):
    """RAPID7_API_KEY_FILE naming a folder says it cannot be read, and why."""
    monkeypatch.setenv("RAPID7_API_KEY_FILE", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = "RAPID7_API_KEY_FILE: cannot be read (Is a directory)"
    assert expected == str(caught.value)


# -- .env --------------------------------------------------------------------------------


def test_a_dotenv_folder_is_one_line(tmp_path, monkeypatch):
    """A folder named .env is refused, not passed over: it was surely meant as settings."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    (tmp_path / ".env").mkdir()
    with pytest.raises(ConfigError, match=r"^\.env: cannot be read \(Is a directory\); make it"):
        load_settings()


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path, monkeypatch):
    """A .env in another encoding is refused with the fix, not a UnicodeDecodeError."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    (tmp_path / ".env").write_bytes(b"RAPID7_QUERY=caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = ".env: is not UTF-8 text; save it as UTF-8"
    assert expected == str(caught.value)


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_a_float_setting_must_be_finite(monkeypatch, name, value):
    """inf, nan and numbers too big for a float are refused, naming the variable."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"{name}: Input should be a finite number" == str(caught.value)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
def test_a_float_setting_of_more_than_a_day_is_refused(monkeypatch, name):
    """A timeout or wait of more than 86400 seconds is refused, naming the bound."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv(name, "86400.5")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"{name}: Input should be less than or equal to 86400" == str(caught.value)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
def test_a_float_setting_of_a_day_is_accepted(monkeypatch, name):
    """86400 seconds, a day, is the longest timeout or wait."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv(name, "86400")
    expected = 86400.0
    assert expected == getattr(load_settings(), name.lower())


# -- compression levels ------------------------------------------------------------------


def test_the_codecs_with_levels_are_pyarrows():
    """zstd, gzip and lz4 take a level; snappy and none do not."""
    expected = ["zstd", "gzip", "lz4"]
    assert expected == codecs_with_levels()


@pytest.mark.parametrize(
    ("codec", "level"),
    [("zstd", -131072), ("zstd", 22), ("gzip", 1), ("gzip", 9), ("lz4", 1), ("lz4", 12)],
)
def test_a_level_in_pyarrows_range_is_accepted(codec, level):
    """The ends of each codec's range, as pyarrow reports it, are accepted."""
    assert check_compression_level(codec, level) is None


@pytest.mark.parametrize(
    ("codec", "level", "problem"),
    [
        ("gzip", 22, "PARQUET_COMPRESSION=gzip takes levels 1 to 9"),
        ("gzip", 0, "PARQUET_COMPRESSION=gzip takes levels 1 to 9"),
        ("zstd", 23, "PARQUET_COMPRESSION=zstd takes levels -131072 to 22"),
        ("lz4", 13, "PARQUET_COMPRESSION=lz4 takes levels 1 to 12"),
        ("snappy", 5, "PARQUET_COMPRESSION=snappy has no levels"),
        ("none", 1, "PARQUET_COMPRESSION=none has no levels"),
    ],
)
def test_a_level_the_codec_does_not_take_is_refused(codec, level, problem):
    """Outside the codec's range, or any level for a codec without levels, is refused."""
    with pytest.raises(ValueError, match=r"^PARQUET_COMPRESSION=") as caught:
        check_compression_level(codec, level)
    assert problem == str(caught.value).split(";")[0]


def test_a_level_for_snappy_names_both_variables(monkeypatch):
    """PARQUET_COMPRESSION=snappy with a level fails at load, naming both variables."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("PARQUET_COMPRESSION", "snappy")
    monkeypatch.setenv("PARQUET_COMPRESSION_LEVEL", "5")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = (
        "PARQUET_COMPRESSION_LEVEL: PARQUET_COMPRESSION=snappy has no levels; unset "
        "PARQUET_COMPRESSION_LEVEL, or choose a PARQUET_COMPRESSION that has them (zstd, gzip, lz4)"
    )
    assert expected == str(caught.value)


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("file:///tmp/u", "/tmp/u"),
        ("FILE:///tmp/u/", "/tmp/u/"),
        ("file://localhost/tmp/u", "/tmp/u"),
        ("file:///tmp/my%20logs", "/tmp/my logs"),
        ("s3://bucket/logs", "s3://bucket/logs"),
        ("out/logs", "out/logs"),
        ("/data/rapid7", "/data/rapid7"),
    ],
)
def test_a_file_uri_becomes_its_local_path(given, expected):
    """file:// URIs are local paths; other schemes and plain paths are kept as given."""
    assert expected == local_path(given)


def test_a_tilde_is_the_home_folder(monkeypatch, tmp_path):
    """`~/x` is $HOME/x, not a folder named `~`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert f"{tmp_path}/x" == local_path("~/x")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("file://server/share", "a file:// URI must name a local folder: file:///data/rapid7"),
        ("file://", "a file:// URI must name a local folder: file:///data/rapid7"),
        ("~no-such-user-here/x", "cannot expand ~ (HOME is empty or unset, or no such user)"),
    ],
)
def test_a_path_that_is_not_local_is_refused(given, problem):
    """A file:// URI on another host, or a ~user that does not exist, is refused."""
    with pytest.raises(ValueError, match=r"file://|~") as caught:
        local_path(given)
    assert problem == str(caught.value).split(";")[0]


def test_an_empty_home_is_not_the_root_folder(monkeypatch):
    """With HOME set but empty, `~` is refused instead of meaning `/`."""
    monkeypatch.setenv("HOME", "")
    with pytest.raises(ValueError, match=r"^cannot expand ~"):
        local_path("~")


def test_the_state_folder_follows_a_file_uri_output(monkeypatch):
    """OUTPUT_DIR=file:///tmp/u puts the checkpoints in /tmp/u/_state, not ./file:/tmp/u."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("OUTPUT_DIR", "file:///tmp/u")
    settings = load_settings()
    expected = ("/tmp/u", "/tmp/u/_state")
    assert expected == (settings.output_dir, settings.resolved_state_dir)


def test_a_tilde_state_dir_is_expanded(monkeypatch, tmp_path):
    """STATE_DIR=~/state is under $HOME."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("STATE_DIR", "~/state")
    assert f"{tmp_path}/state" == load_settings().resolved_state_dir


# -- durations and times -------------------------------------------------------------------


@pytest.mark.parametrize("window", ["1s", "1500ms", "1m", "7.5m", "15m", "1h", "6h", "1d"])
def test_a_window_that_divides_a_day_is_accepted(monkeypatch, window):
    """From 1s to 1d, any window that divides a day evenly."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("WINDOW_SIZE", window)
    assert parse_duration_ms(window) == load_settings().window_ms


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("999ms", "must be from 1s to 1d"),
        ("0s", "must be from 1s to 1d"),
        ("25h", "must be from 1s to 1d"),
        ("1w", "must be from 1s to 1d"),
        (
            "7m",
            "must divide a day evenly (such as 1m, 5m, 15m, 1h, 6h or 1d), so windows start at midnight UTC",
        ),
        (
            "1001ms",
            "must divide a day evenly (such as 1m, 5m, 15m, 1h, 6h or 1d), so windows start at midnight UTC",
        ),
    ],
)
def test_a_window_too_small_too_large_or_off_the_day_is_refused(monkeypatch, window, problem):
    """Below 1s, above 1d, or not dividing a day: one line naming WINDOW_SIZE."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("WINDOW_SIZE", window)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"WINDOW_SIZE: {problem}" == str(caught.value)


@pytest.mark.parametrize("lag", ["0s", "25h", "9" * 400 + "w"])
def test_follow_lag_is_above_zero_and_at_most_a_day(monkeypatch, lag):
    """FOLLOW_LAG of zero, or of more than a day, is refused."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("FOLLOW_LAG", lag)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = "FOLLOW_LAG: must be longer than zero and at most 1d"
    assert expected == str(caught.value)


@pytest.mark.parametrize(
    ("start", "problem"),
    [
        ("garbage", "is not a time"),
        ("100000w", "reaches back before 1970-01-01T00:00:00Z"),
        ("99999999999999999999", "is after 9999-12-31T23:59:59Z"),
    ],
)
def test_start_time_is_read_at_load(monkeypatch, start, problem):
    """A START_TIME that is not a time, or out of range, fails every command at load."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("START_TIME", start)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"START_TIME: {problem}" == str(caught.value).split(";")[0]


def test_row_groups_are_at_most_what_pyarrow_writes(monkeypatch):
    """ROW_GROUP_ROWS above pyarrow's 64Mi cap is refused at load, not mid-run."""
    monkeypatch.setenv("RAPID7_API_KEY", KEY)
    monkeypatch.setenv("ROW_GROUP_ROWS", str(10**30))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    expected = "ROW_GROUP_ROWS: Input should be less than or equal to 67108864"
    assert expected == str(caught.value)
