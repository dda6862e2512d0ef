"""Session.from_config: TOML files, secrets by environment variable, errors that point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses

import httpkit
from httpkit import ConfigError, RetryPolicy, Timeouts
from httpkit.auth import BasicAuth, DigestAuth, TokenAuth

GOOD = """
[session]
timeout = [2, 20]
retry = { total = 4, backoff_factor = 0.1, statuses = [503] }
deadline = 60
user_agent = "importer/2.0"
base_url = "https://api.example.com/v1"
headers = { Accept = "application/json" }

[hosts."https://api.example.com"]
timeout = 10
token_env = "TEST_API_TOKEN"
headers = { "X-Team" = "data" }

[hosts."https://*.corp.example"]
timeout = { connect = 1, read = 5 }
retry = false
username = "svc"
password_env = "TEST_CORP_PASSWORD"
auth = "digest"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "httpkit.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_API_TOKEN", "tok-123")
    monkeypatch.setenv("TEST_CORP_PASSWORD", "pw-456")


@pytest.mark.usefixtures("secrets")
def test_a_full_config_builds_the_session_it_describes(tmp_path: Path) -> None:
    s = httpkit.Session.from_config(write(tmp_path, GOOD))
    assert s.defaults.timeout == Timeouts(connect=2, read=20)
    assert s.defaults.retry == RetryPolicy(total=4, backoff_factor=0.1, statuses={503})
    assert s.defaults.deadline == 60
    assert s.base_url == "https://api.example.com/v1/"
    assert s.headers["Accept"] == "application/json"
    assert s.headers["User-Agent"].startswith("importer/2.0 httpkit/")
    api = s.policy_for("https://api.example.com/v1/users")
    assert api.timeout == Timeouts(connect=10, read=10)
    assert isinstance(api.auth, TokenAuth)
    corp = s.policy_for("https://build.corp.example/")
    assert corp.timeout == Timeouts(connect=1, read=5)
    assert corp.retry == RetryPolicy(total=0, redirects=0)
    assert isinstance(corp.auth, DigestAuth)


@pytest.mark.usefixtures("secrets")
def test_config_secrets_reach_the_wire_but_not_the_repr(tmp_path: Path) -> None:
    s = httpkit.Session.from_config(write(tmp_path, GOOD))
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.example.com/v1/users", body="[]")
        s.get("users")
        sent = rsps.calls[0].request.headers
    assert sent["Authorization"] == "Bearer tok-123"
    assert sent["X-Team"] == "data"
    shown = repr(s) + repr(s.policy_for("https://api.example.com/")) + repr(s.adapters)
    assert "tok-123" not in shown
    assert "pw-456" not in repr(s.policy_for("https://a.corp.example/"))


def test_a_mapping_works_like_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PW", "pw")
    s = httpkit.Session.from_config(
        {
            "session": {"timeout": 3, "verify": "/etc/ca.pem"},
            "hosts": {"https://x.test": {"username": "u", "password_env": "TEST_PW"}},
        }
    )
    assert s.verify == "/etc/ca.pem"
    assert isinstance(s.policy_for("https://x.test/").auth, BasicAuth)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[hosts."https://api.example.com"]\ntimout = 5\n',
            r'httpkit.toml \[hosts."https://api.example.com"\]: unknown key \'timout\'',
        ),
        (
            "[session]\ntimeout = 'soon'\n",
            r"httpkit.toml \[session\]: timeout: Timeout value connect was soon, but it must be "
            r"an int, float or None",
        ),
        (
            "[session]\nretry = { total = 3, backof = 1 }\n",
            r"httpkit.toml \[session\]: retry: unknown key 'backof'",
        ),
        (
            "[session]\nretry = { total = -3 }\n",
            r"httpkit.toml \[session\]: retry: RetryPolicy.total must be >= 0",
        ),
        (
            '[hosts."https://a.test"]\ntoken = "abc"\n',
            r'\[hosts."https://a.test"\]: token: secrets are not read from config files; '
            r"name an environment variable instead \(token_env",
        ),
        (
            '[hosts."https://a.test"]\npassword = "abc"\nusername = "u"\n',
            r"password: secrets are not read from config files",
        ),
        (
            '[hosts."https://a.test"]\ntoken_env = "TEST_NOT_SET_ANYWHERE"\n',
            r'\[hosts."https://a.test"\]: token_env: the environment variable '
            r"TEST_NOT_SET_ANYWHERE is not set",
        ),
        (
            '[hosts."https://a.test"]\nusername = "u"\n',
            r"username is set but no credential is: add password_env or token_env",
        ),
        ('[hosts."https://a.test"]\nauth = "kerberos"\n', r"auth: expected 'basic', 'digest'"),
        ("[sesion]\ntimeout = 3\n", r"httpkit.toml: unknown table \[sesion\]"),
        ('[hosts."a.test"]\ntimeout = 3\n', r"needs a scheme and a host"),
        ("[session]\ntimeout = [1, 2\n", r"httpkit.toml: not valid TOML"),
        ('[session]\nheaders = { X = "a\\nb" }\n', r"\[session\]: headers: the value of 'X'"),
    ],
)
def test_config_errors_name_file_table_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        httpkit.Session.from_config(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: cannot read the config file"):
        httpkit.Session.from_config(tmp_path / "nope.toml")


def test_config_error_never_shows_the_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TOKEN_WITH_NEWLINE", "abc\r\ndef")
    text = '[hosts."https://a.test"]\ntoken_env = "TEST_TOKEN_WITH_NEWLINE"\n'
    with pytest.raises(Exception) as caught:  # noqa: PT011  # the type is the plugin's choice
        httpkit.Session.from_config(write(tmp_path, text))
    assert "abc" not in str(caught.value)


@pytest.mark.parametrize(
    ("toml_value", "expected"),
    [("false", (None, None)), ("[1, 2]", (1.0, 2.0)), ("{ read = 7 }", (None, 7.0))],
)
def test_timeout_spellings(tmp_path: Path, toml_value: str, expected: Any) -> None:
    s = httpkit.Session.from_config(write(tmp_path, f"[session]\ntimeout = {toml_value}\n"))
    assert isinstance(s.defaults.timeout, Timeouts)
    assert s.defaults.timeout.as_tuple() == expected


def test_max_body_and_other_session_settings_route_to_the_session(tmp_path: Path) -> None:
    text = '[session]\nmax_body = 1000\nverify = false\n[hosts."https://a.test"]\nmax_body = 50\n'
    s = httpkit.Session.from_config(write(tmp_path, text))
    assert s.defaults.max_body == 1000
    assert s.verify is False
    assert s.policy_for("https://a.test/").max_body == 50


def test_a_file_that_is_not_utf8_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "httpkit.toml"
    path.write_bytes(b'[session]\nuser_agent = "app/1"\n# r\xe9sum\xe9\n')
    with pytest.raises(ConfigError, match=r"httpkit.toml: line 3: not UTF-8 \(byte 0xe9\)"):
        httpkit.Session.from_config(path)
