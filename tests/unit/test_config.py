"""Session.from_config: TOML files, secrets by environment variable, errors that point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_the_store_comes_from_a_url_or_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "fleet.db"
    from_url = httpkit.Session.from_config({"session": {"store_url": f"sqlite://{db}"}})
    assert from_url._shared.store == httpkit.SQLiteStore(db)
    monkeypatch.setenv("FLEET_STORE", "redis://:pw-in-env@127.0.0.1:6379/2")
    from_env = httpkit.Session.from_config({"session": {"store_url_env": "FLEET_STORE"}})
    store = from_env._shared.store
    assert isinstance(store, httpkit.RedisStore)
    assert store.url.endswith("/2")
    assert "pw-in-env" not in repr(store)


@pytest.mark.parametrize(
    ("session", "message"),
    [
        ({"store_url": "redis://:pw@127.0.0.1/0"}, "store_url_env"),
        ({"store_url": "ftp://x"}, "unknown store URL"),
        ({"store_url": 5}, "expected a URL string"),
        ({"store_url": "memory://", "store_url_env": "X"}, "not both"),
        ({"store_url_env": "HTTPKIT_UNSET_VARIABLE"}, "is not set"),
    ],
)
def test_store_settings_errors_name_the_key(session: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"<mapping> \[session\]") as info:
        httpkit.Session.from_config({"session": session})
    assert message in str(info.value)
    assert "pw@" not in str(info.value)


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


# -- one meaning per setting: a keyword and a TOML key of the same name agree ---------------

_seconds = st.one_of(st.integers(1, 10**6), st.floats(0.001, 1e6, allow_nan=False))
_SETTINGS = {
    "timeout": st.one_of(_seconds, st.tuples(_seconds, _seconds), st.none()),
    "retry": st.one_of(st.integers(0, 20), st.just(False)),
    "deadline": st.one_of(_seconds, st.none()),
    "max_body": st.one_of(st.integers(1, 10**9), st.none()),
    "rate_limit": st.one_of(
        st.builds("{}/{}".format, st.integers(1, 1000), st.sampled_from(["s", "min", "h"])),
        st.sampled_from(["auto", "5/s+auto"]),
        st.none(),
    ),
    "min_tls": st.sampled_from(["1.2", "1.3"]),
    "user_agent": st.from_regex(r"[a-z]{1,8}/[0-9]\.[0-9]", fullmatch=True),
    "raise_for_status": st.booleans(),
    "cache": st.one_of(st.just(True), st.none()),
    "pool_maxsize": st.one_of(st.integers(1, 100), st.none()),
}


def _toml_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_SETTINGS)).flatmap(lambda k: st.tuples(st.just(k), _SETTINGS[k])))
def test_a_keyword_and_a_toml_key_of_one_name_mean_the_same(item: tuple[str, Any]) -> None:
    key, value = item
    if value is None and key in ("user_agent", "raise_for_status", "min_tls"):
        return
    with (
        httpkit.Session(**{key: value}) as from_python,
        httpkit.Session.from_config({"session": {key: _toml_value(value)}}) as from_toml,
    ):
        assert repr(from_toml.defaults) == repr(from_python.defaults)
        for attribute in ("headers", "pool_maxsize", "raise_for_status"):
            assert getattr(from_toml, attribute) == getattr(from_python, attribute)


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "total": st.integers(0, 10),
            "backoff_factor": st.floats(0, 5),
            "statuses": st.lists(st.sampled_from([429, 500, 502, 503, 504]), unique=True),
            "retry_after_max": st.floats(1, 600),
            "idempotency_key": st.booleans(),
        },
    )
)
def test_a_retry_table_is_the_retry_policy_of_the_same_fields(fields: dict[str, Any]) -> None:
    with httpkit.Session.from_config({"session": {"retry": fields}}) as session:
        assert session.defaults.retry == RetryPolicy(**fields)


# -- one meaning per setting: configure() keywords and [hosts] keys agree --------------------

_paths = st.sampled_from(["/etc/ssl/ca.pem", "ca bundle.pem", "C:/certs/ca.pem"])
_header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,10}", fullmatch=True)
_header_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
_pins = st.binary(min_size=32, max_size=32).map(lambda digest: "sha256:" + digest.hex())
_hosts_ssrf = st.one_of(
    st.booleans(),
    st.fixed_dictionaries(
        {},
        optional={
            "allow": st.lists(st.sampled_from(["10.1.0.0/16", "*.corp.example", "::1"])),
            "deny": st.lists(st.sampled_from(["203.0.113.7", "evil.example"])),
            "ports": st.lists(st.integers(1, 65535), max_size=3),
        },
    ),
)
#: key -> (Python value, TOML value) pairs that must mean the same.
_HOST_SETTINGS = {
    **{key: strategy.map(lambda v: (v, _toml_value(v))) for key, strategy in _SETTINGS.items()
       if key not in ("user_agent", "raise_for_status", "pool_maxsize")},
    "retry": st.one_of(
        st.integers(0, 20).map(lambda n: (n, n)),
        st.fixed_dictionaries({}, optional={"total": st.integers(0, 9), "statuses": st.just([503])})
        .map(lambda fields: (RetryPolicy(**fields), fields)),
    ),
    "headers": st.dictionaries(_header_names, _header_values, max_size=3).map(lambda h: (h, h)),
    "verify": st.one_of(st.booleans(), _paths).map(lambda v: (v, v)),
    "cert": st.one_of(
        _paths.map(lambda p: (p, p)),
        st.tuples(_paths, _paths).map(lambda pair: (pair, list(pair))),
    ),
    "trust": st.sampled_from(["certifi", certifi.where()]).map(lambda v: (v, v)),
    "pins": st.lists(_pins, min_size=1, max_size=2).map(lambda p: (frozenset(p), p)),
    "ssrf": _hosts_ssrf.map(lambda v: (v, v)),
}  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(sorted(_HOST_SETTINGS)).flatmap(
        lambda key: st.tuples(st.just(key), _HOST_SETTINGS[key])
    )
)
def test_a_configure_keyword_and_a_hosts_key_of_one_name_mean_the_same(
    item: tuple[str, tuple[Any, Any]],
) -> None:
    key, (python, toml) = item
    if python is None and key in ("min_tls", "trust"):
        return
    target = "https://api.example.com"
    with httpkit.Session() as from_python:
        from_python.configure(target, **{key: python})
        with httpkit.Session.from_config({"hosts": {target: {key: toml}}}) as from_toml:
            url = target + "/v1/items"
            ours, theirs = from_toml.policy_for(url), from_python.policy_for(url)
            assert repr(ours) == repr(theirs)
            if key not in ("cache", "rate_limit"):  # stores and limiters are per session
                assert getattr(ours, key) == getattr(theirs, key)


@pytest.mark.parametrize(
    ("table", "python"),
    [
        ({"username": "alice", "password_env": "TEST_PW"}, BasicAuth("alice", "pä ss")),
        (
            {"auth": "digest", "username": "alice", "password_env": "TEST_PW"},
            DigestAuth("alice", "pä ss"),
        ),
        ({"token_env": "TEST_PW"}, TokenAuth("pä ss")),
        (
            {"token_env": "TEST_PW", "token_header": "X-Key", "token_scheme": ""},
            TokenAuth("pä ss", header="X-Key", scheme=None),
        ),
    ],
)
def test_auth_keys_of_a_hosts_table_are_the_auth_plugin_of_the_same_values(
    table: dict[str, str], python: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PW", "pä ss")
    target = "https://api.example.com"
    url = target + "/v1/items"
    with httpkit.Session() as from_python:
        from_python.configure(target, auth=python)
        with httpkit.Session.from_config({"hosts": {target: table}}) as from_toml:
            ours, theirs = from_toml.policy_for(url).auth, from_python.policy_for(url).auth
            assert type(ours) is type(theirs)
            assert repr(ours) == repr(theirs)
            sent = [
                s.prepare_request(requests.Request("GET", url)).headers
                for s in (from_toml, from_python)
            ]
            assert sent[0] == sent[1]
