"""TLS settings: validation, precedence with the environment set, contexts, failure messages."""

from __future__ import annotations

import pickle
import ssl
import sys
from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
import trustme

import httpkit
from httpkit._tls import (
    CONTEXTS,
    KeyPassword,
    TLSConfig,
    build_context,
    config_for,
    config_of,
    explain_failure,
)
from httpkit._transport.connection import TLSFailure

URL = "https://api.example.com/x"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def _effective(session: httpkit.Session, verify: Any = None, url: str = URL) -> TLSConfig:
    """What the adapter builds a context from for a call given ``verify=verify``."""
    verify, cert = session._tls_for(url, verify, None)
    adapter = session.get_adapter(url)
    assert isinstance(adapter, httpkit.HostAdapter)
    return config_for(verify, cert, adapter.policy, adapter.defaults)


# -- precedence --------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_environment_is_used_only_when_nothing_is_set(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "/env/ca.pem")
    assert _effective(httpkit.Session()).ca == "/env/ca.pem"
    assert _effective(httpkit.Session(trust="certifi")).ca == "certifi"
    assert _effective(httpkit.Session(), verify=True).ca == "certifi"
    s = httpkit.Session()
    s.trust_env = False
    assert _effective(s).ca == "certifi"


def test_environment_variables_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/ssl.pem")
    assert _effective(httpkit.Session()).ca == "/ssl.pem"
    monkeypatch.setenv("CURL_CA_BUNDLE", "/curl.pem")
    assert _effective(httpkit.Session()).ca == "/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert _effective(httpkit.Session()).ca == "/requests.pem"


@pytest.mark.parametrize(
    ("session_trust", "session_verify", "policy", "call", "expected"),
    [
        (None, True, {}, None, "/env.pem"),  # nothing set: the environment
        ("S", True, {}, None, "S"),  # session trust beats the environment
        (None, "/sv.pem", {}, None, "/sv.pem"),  # session.verify path too
        ("S", "/sv.pem", {}, None, "/sv.pem"),  # verify beats trust at one level
        ("S", True, {"trust": "P"}, None, "P"),  # host policy beats session
        ("S", True, {"verify": "/pv.pem"}, None, "/pv.pem"),
        ("S", True, {"trust": "P"}, "/call.pem", "/call.pem"),  # call beats everything
        ("S", True, {"trust": "P"}, True, "P"),  # verify=True: on, the CA from the policy
        (None, True, {"verify": True}, None, "certifi"),  # explicit True: never the env
        (None, True, {"trust": "certifi"}, None, "certifi"),
        ("certifi", True, {}, None, "certifi"),
        (None, False, {"trust": "P"}, None, "P"),  # host policy beats session verify=False
        ("S", True, {"verify": False}, None, False),
        ("S", True, {"verify": False}, True, "S"),  # call True beats policy False
        (None, True, {}, False, False),
    ],
)
def test_verify_and_trust_precedence_with_environment_set(
    session_trust: str | None,
    session_verify: Any,
    policy: dict[str, Any],
    call: Any,
    expected: Any,
    monkeypatch: pytest.MonkeyPatch,
    ca_file: str,
) -> None:
    names = {"S": ca_file, "P": str(Path(ca_file).parent)}  # two existing CA paths
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/curl.pem")
    monkeypatch.setenv("SSL_CERT_FILE", "/ssl.pem")
    s = httpkit.Session(trust=names.get(session_trust, session_trust))
    s.verify = session_verify
    if policy:
        s.configure("https://api.example.com", **{k: names.get(v, v) for k, v in policy.items()})
    config = _effective(s, verify=call)
    if expected is False:
        assert config.verify is False
    else:
        assert config.verify is True
        assert config.ca == names.get(expected, expected)


def test_system_trust_is_chosen_through_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env.pem")
    assert _effective(httpkit.Session(trust="system")).ca == "system"
    s = httpkit.Session()
    s.configure("https://api.example.com", trust="system")
    assert _effective(s).ca == "system"
    assert _effective(s, url="https://other.example.com/").ca == "/env.pem"
    context = build_context(_effective(s))
    assert type(context).__module__.startswith("truststore")
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_min_tls_key_password_and_pins_come_from_policy_then_session(tmp_path: Path) -> None:
    s = httpkit.Session(min_tls="1.3")
    assert _effective(s).min_tls == "1.3"
    pin = "sha256:" + "AB:" * 31 + "AB"
    s.configure("https://api.example.com", min_tls="1.2", pins=[pin], key_password="pw")
    s.cert = ("/c.pem", "/k.pem")
    config = _effective(s)
    assert config.min_tls == "1.2"
    assert config.pins == frozenset({"sha256:" + "ab" * 32})
    assert config.key_password == KeyPassword("pw")
    assert _effective(s, url="https://other.example.com/").pins == frozenset()


# -- validation ------------------------------------------------------------------------------


def test_system_trust_without_truststore_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "truststore", None)
    with pytest.raises(httpkit.ConfigError, match=r"pip install 'httpkit\[system\]'"):
        httpkit.Session(trust="system")
    with pytest.raises(httpkit.ConfigError, match="truststore"):
        httpkit.Session().configure("https://a.example", trust="system")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"trust": "/no/such/ca.pem"}, "trust: the CA bundle '/no/such/ca.pem' does not exist"),
        ({"trust": 3}, "trust: expected 'certifi', 'system' or the path"),
        ({"min_tls": "1.1"}, "min_tls: expected '1.2' or '1.3', got '1.1'"),
        ({"min_tls": 1.3}, "min_tls: expected '1.2' or '1.3'"),
        ({"pins": "sha256:" + "a" * 64}, "pins: expected a collection"),
        ({"pins": ["md5:abc"]}, "pins: 'md5:abc' is not 'sha256:'"),
        ({"pins": ["sha256:abc"]}, "64 hex digits"),
        ({"pins": []}, "at least one pin"),
        ({"key_password": ""}, "key_password: expected a non-empty string"),
    ],
)
def test_bad_tls_settings_are_named(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(httpkit.ConfigError, match="configure") as info:
        httpkit.Session().configure("https://a.example", **settings)
    assert message in str(info.value)


def test_min_tls_accepts_tls_version_members() -> None:
    s = httpkit.Session(min_tls=ssl.TLSVersion.TLSv1_3)  # type: ignore[arg-type]
    assert s.defaults.min_tls == "1.3"


def test_key_password_is_never_shown() -> None:
    s = httpkit.Session()
    policy = s.configure("https://a.example", key_password="hunter2")
    assert "hunter2" not in repr(policy)
    assert "key_password=<redacted>" in repr(policy)
    assert pickle.loads(pickle.dumps(policy)).key_password == KeyPassword("hunter2")


def test_config_file_tls_keys(monkeypatch: pytest.MonkeyPatch, ca_file: str) -> None:
    monkeypatch.setenv("KEY_PW", "pw")
    s = httpkit.Session.from_config(
        {
            "session": {"trust": ca_file, "min_tls": "1.3"},
            "hosts": {
                "https://api.example.com": {
                    "trust": "certifi",
                    "pins": ["sha256:" + "0" * 64],
                    "cert": ["/c.pem", "/k.pem"],
                    "cert_password_env": "KEY_PW",
                }
            },
        }
    )
    assert (s.defaults.trust, s.defaults.min_tls) == (ca_file, "1.3")
    policy = s.policy_for(URL)
    assert policy.trust == "certifi"
    assert policy.key_password == KeyPassword("pw")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"hosts": {"https://a.example": {"key_password": "x"}}}, "cert_password_env"),
        ({"session": {"pins": ["sha256:" + "0" * 64]}}, "unknown key 'pins'"),
        ({"hosts": {"https://a.example": {"cert_password_env": "UNSET_VAR"}}}, "UNSET_VAR"),
        ({"session": {"min_tls": "1.0"}}, "min_tls"),
    ],
)
def test_config_file_tls_errors(table: dict[str, Any], message: str) -> None:
    with pytest.raises(httpkit.ConfigError, match=message):
        httpkit.Session.from_config(table)


# -- contexts --------------------------------------------------------------------------------


def test_one_context_per_distinct_configuration(ca_file: str) -> None:
    a = CONTEXTS.get(TLSConfig(ca=ca_file))
    assert CONTEXTS.get(TLSConfig(ca=ca_file)) is a
    assert CONTEXTS.get(TLSConfig(ca=ca_file, min_tls="1.3")) is not a
    assert config_of(a) == TLSConfig(ca=ca_file)
    assert config_of(ssl.create_default_context()) is None
    assert a.minimum_version == ssl.TLSVersion.TLSv1_2
    assert (a.verify_mode, a.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_unverified_context_is_its_own() -> None:
    off = CONTEXTS.get(TLSConfig(verify=False, ca=""))
    assert off is not CONTEXTS.get(TLSConfig())
    assert (off.verify_mode, off.check_hostname) == (ssl.CERT_NONE, False)


def test_missing_ca_file_is_an_oserror_naming_it() -> None:
    with pytest.raises(OSError, match=r"/no/such/bundle\.pem"):
        CONTEXTS.get(TLSConfig(ca="/no/such/bundle.pem"))


def test_default_is_certifi_and_tls_12() -> None:
    config = _effective(httpkit.Session())
    assert config == TLSConfig()
    assert config.files() == (certifi.where(),)


# -- failures ----------------------------------------------------------------------------------


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code = code
    error.verify_message = message
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    return error


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, reason)
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_verify_error(20, "unable to get local issuer certificate"), "unknown CA"),
        (_verify_error(19, "self-signed certificate in certificate chain"), "unknown CA"),
        (_verify_error(10, "certificate has expired"), "certificate expired"),
        (_verify_error(62, "hostname mismatch"), "hostname mismatch"),
        (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), "protocol version"),
        (_ssl_error("UNSUPPORTED_PROTOCOL"), "protocol version"),
        (_ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED"), "client certificate"),
        (_ssl_error("WRONG_VERSION_NUMBER"), "plain HTTP"),
    ],
)
def test_permanent_failures_are_explained(error: ssl.SSLError, expected: str) -> None:
    message = explain_failure(error, TLSConfig())
    assert message is not None
    assert expected in message


@pytest.mark.parametrize("reason", ["UNEXPECTED_EOF_WHILE_READING", "DECRYPTION_FAILED"])
def test_other_tls_errors_may_be_retried(reason: str) -> None:
    assert explain_failure(_ssl_error(reason), TLSConfig()) is None


def test_tls_failure_becomes_requests_ssl_error_and_pickles() -> None:
    failure = TLSFailure("TLS with a.example:443 failed: unknown CA")
    assert str(failure) == "TLS with a.example:443 failed: unknown CA"
    assert str(pickle.loads(pickle.dumps(failure))) == str(failure)
    error = requests.exceptions.SSLError(failure)
    assert str(error) == str(failure)


def test_session_with_tls_settings_pickles(ca_file: str) -> None:
    s = httpkit.Session(trust=ca_file, min_tls="1.3")
    s.configure("https://api.example.com", pins=["sha256:" + "1" * 64], key_password="pw")
    clone = pickle.loads(pickle.dumps(s))
    assert clone.defaults.trust == ca_file
    assert _effective(clone) == _effective(s)
