"""The HTTP rules of ``httpkit._http``, and the modules that apply them. No sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import httpkit
from httpkit import ConfigError, HostConfig, RetryPolicy, TokenAuth
from httpkit._http import (
    CTL,
    DEFAULT_PORTS,
    FIELD_VALUE_FORBIDDEN,
    MAX_DELTA_SECONDS,
    TOKEN_PATTERN,
    Origin,
    URLParts,
    has_forbidden_field_char,
    is_token,
    normalize_host,
    origin_of,
    parse_delta_seconds,
    parse_http_date,
    parse_retry_after,
    parse_url,
    same_origin,
    split_host,
    split_url,
)
from httpkit._session import user_agent_string
from httpkit.cache import freshness_lifetime, initial_age
from httpkit.cli._request import UsageError, _method, _parse_header

IMF_FIXDATE = "Sun, 06 Nov 1994 08:49:37 GMT"
EPOCH_OF_IMF_FIXDATE = 784111777.0

# -- origins and URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://API.Example.com./v1?q=1", ("https", "api.example.com", 443)),
        ("http://example.com../", ("http", "example.com", 80)),
        ("https://example.com:443/", ("https", "example.com", 443)),
        ("https://example.com:8443", ("https", "example.com", 8443)),
        ("http://example.com:/", ("http", "example.com", 80)),  # empty port: the default
        ("ws://example.com/socket", ("ws", "example.com", 80)),
        ("wss://example.com/socket", ("wss", "example.com", 443)),
        ("ftp://example.com/file", ("ftp", "example.com", None)),
        ("https://user:secret@example.com:8443/", ("https", "example.com", 8443)),
        ("http://[::1]:8080/", ("http", "::1", 8080)),
        ("http://[2001:DB8::A]/", ("http", "2001:db8::a", 80)),
        ("http://[fe80::1%25eth0]/", ("http", "fe80::1%25eth0", 80)),
        ("http://127.0.0.1/", ("http", "127.0.0.1", 80)),
        ("https://Bücher.example/", ("https", "xn--bcher-kva.example", 443)),
        ("https://BÜCHER.EXAMPLE./", ("https", "xn--bcher-kva.example", 443)),
        ("https://xn--bcher-kva.example/", ("https", "xn--bcher-kva.example", 443)),
    ],
)
def test_origin_of(url: str, expected: tuple[str, str, int | None]) -> None:
    assert origin_of(url) == expected
    parts = split_url(url)
    assert parts is not None
    assert parts[:3] == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "no scheme or host"),
        ("/relative/path", "no scheme or host"),
        ("//example.com/no-scheme", "no scheme or host"),
        ("http://", "no scheme or host"),
        ("http:///path", "no scheme or host"),
        ("http://user@/path", "no scheme or host"),
        ("http://./", "no scheme or host"),
        ("http://.../", "no scheme or host"),
        ("mailto:someone@example.com", "no scheme or host"),
        ("http://example.com:99999/", "Port out of range"),
        ("http://example.com:port/", "Port"),
        ("http://example.com:-1/", "Port"),
        ("http://example.com:+80/", "Port"),
        ("http://[::1/", "Invalid IPv6 URL"),
        ("https://a..bé/", "invalid international host name"),
        ("https://☃.example/", "invalid international host name"),
    ],
)
def test_urls_without_an_origin(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        origin_of(url)
    with pytest.raises(ValueError, match=message):
        parse_url(url)
    assert split_url(url) is None
    assert split_host(url) is None
    assert not same_origin(url, url)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://example.com", "/"),
        ("https://example.com?q=1", "/"),
        ("https://example.com/a/b/?q=1#f", "/a/b/"),
        ("https://example.com/A%20B", "/A%20B"),  # the path keeps its case and escapes
    ],
)
def test_split_url_path(url: str, path: str) -> None:
    parts = split_url(url)
    assert isinstance(parts, URLParts)
    assert parts.path == path


@pytest.mark.parametrize(
    ("origin", "shown"),
    [
        (Origin("https", "example.com", 443), "https://example.com"),
        (Origin("https", "example.com", 80), "https://example.com:80"),
        (Origin("http", "example.com", 80), "http://example.com"),
        (Origin("ftp", "example.com", None), "ftp://example.com"),
        (Origin("http", "::1", 8080), "http://[::1]:8080"),
        (Origin("https", "2001:db8::1", 443), "https://[2001:db8::1]"),
    ],
)
def test_origin_text(origin: Origin, shown: str) -> None:
    assert str(origin) == shown
    assert origin_of(shown) == origin


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://127.0.0.1/a", "http://127.0.0.1:80/b", True),
        ("https://Example.com./", "https://example.com:443/x", True),
        ("https://bücher.example/", "https://xn--bcher-kva.example/", True),
        ("http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", True),  # one address, one origin
        ("http://example.com/", "https://example.com/", False),
        ("https://example.com/", "https://example.com:8443/", False),
        ("https://example.com/", "https://api.example.com/", False),
        ("https://example.com/", "//example.com/", False),
        ("garbage", "garbage", False),
    ],
)
def test_same_origin(a: str, b: str, same: bool) -> None:
    assert same_origin(a, b) is same
    assert same_origin(b, a) is same


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("example.com...", "example.com"),
        ("2001:DB8::1", "2001:db8::1"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("ドメイン.テスト", "xn--eckwd4c7c.xn--zckzah"),
        ("", ""),
    ],
)
def test_normalize_host(host: str, normalized: str) -> None:
    assert normalize_host(host) == normalized


def test_default_ports() -> None:
    assert DEFAULT_PORTS == {"http": 80, "https": 443, "ws": 80, "wss": 443}


# -- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *"!#$%&'*+-.^_`|~",
        "!#$%&'*+-.^_`|~",
        "GET",
        "M-SEARCH",
        "X-Request-ID",
        "Bearer",
        "0",
        "a1",
    ],
)
def test_tokens(text: str) -> None:
    assert is_token(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "GE T",
        " GET",
        "X:Y",
        "GET\n",  # a regex with "$" would let a trailing newline through
        "GET\r\n",
        "a\tb",
        "GÉT",
        "X-Ünicode",
        "\x7f",
        "\x00",
        *'"(),/:;<=>?@[\\]{}',
        None,
        3,
        b"GET",
    ],
)
def test_not_tokens(text: object) -> None:
    assert not is_token(text)


def test_token_pattern_builds_larger_patterns() -> None:
    import re

    assert re.fullmatch(rf"({TOKEN_PATTERN})=({TOKEN_PATTERN})", "realm=x-y") is not None
    assert re.fullmatch(TOKEN_PATTERN, "a b") is None


# -- field values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "text/html",
        "text/html;\tq=0.9",  # HTAB is allowed
        "\t",
        "a b",
        "é",  # obs-text
        "\x80\xff",
        "~",
    ],
)
def test_allowed_field_values(value: str) -> None:
    assert not has_forbidden_field_char(value)


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nX-Injected: 1",
        "a\r\n b",  # obs-fold
        "a\r\n\tb",  # obs-fold with HTAB
        "a\rb",
        "a\nb",
        "a\x00b",
        "a\x7fb",  # DEL
        "\x01",
        "\x08",
        "\x0b",
        "\x0c",
        "\x1b[2J",
        "\x1f",
    ],
)
def test_forbidden_field_values(value: str) -> None:
    assert has_forbidden_field_char(value)


def test_forbidden_field_characters_are_the_controls_but_htab() -> None:
    assert {chr(c) for c in range(0x20)} | {"\x7f"} == CTL
    assert {chr(c) for c in range(0x20) if c != 0x09} | {"\x7f"} == FIELD_VALUE_FORBIDDEN
    for code in range(0x100):
        char = chr(code)
        assert has_forbidden_field_char(char) is (char in FIELD_VALUE_FORBIDDEN), hex(code)


# -- times -------------------------------------------------------------------------------


@pytest.fixture
def zone_west_of_utc() -> Iterator[None]:
    """Run in a zone five hours from UTC: HTTP-dates must not depend on it."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset() is not available on this platform")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "EST+05")  # POSIX spelling: no zone database needed
        time.tzset()
        assert time.timezone == 5 * 3600
        try:
            yield
        finally:
            mp.undo()
            time.tzset()


@pytest.mark.parametrize(
    "value",
    [
        IMF_FIXDATE,  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 form
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime form
        f"  {IMF_FIXDATE}  ",
    ],
)
@pytest.mark.usefixtures("zone_west_of_utc")
def test_http_dates_in_the_three_forms_are_utc(value: str) -> None:
    assert parse_http_date(value) == EPOCH_OF_IMF_FIXDATE


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "0",
        "-1",
        "soon",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
    ],
)
def test_bad_http_dates(value: str | None) -> None:
    assert parse_http_date(value) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0),
        ("120", 120),
        (" 7 ", 7),
        ("0007", 7),
        ("2147483647", 2147483647),
        ("2147483648", MAX_DELTA_SECONDS),
        ("2147483649", MAX_DELTA_SECONDS),
        ("9" * 40, MAX_DELTA_SECONDS),
        ("9" * 5000, MAX_DELTA_SECONDS),  # beyond int()'s digit limit: no error
    ],
)
def test_delta_seconds(value: str, seconds: int) -> None:
    assert parse_delta_seconds(value) == seconds


@pytest.mark.parametrize(
    "value",
    [None, "", " ", "-1", "-0", "+1", "1.5", "1e3", "0x10", "1 2", "½", "²", "\u0661\u0662"],
)
def test_bad_delta_seconds(value: str | None) -> None:
    assert parse_delta_seconds(value) is None


def test_huge_delta_seconds_in_the_cache_arithmetic() -> None:
    assert freshness_lifetime({}, {"max-age": "9" * 400}) == float(MAX_DELTA_SECONDS)
    assert freshness_lifetime({}, {"max-age": "²"}) == 0.0
    assert initial_age({"Age": "9" * 400}, 0.0, 0.0) == float(MAX_DELTA_SECONDS)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 3 ", 3.0),
        ("9" * 40, float(MAX_DELTA_SECONDS)),
        ("Sun, 06 Nov 1994 08:49:47 GMT", 10.0),
        ("Sunday, 06-Nov-94 08:49:47 GMT", 10.0),
        ("Sun Nov  6 08:49:47 1994", 10.0),
        ("Sun, 06 Nov 1994 08:49:27 GMT", 0.0),  # in the past: no wait
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
@pytest.mark.usefixtures("zone_west_of_utc")
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=EPOCH_OF_IMF_FIXDATE) == seconds


# -- the modules that apply the rules ----------------------------------------------------


@pytest.mark.parametrize("name", ["X(A)", "Ä", "X/Y", "X,Y", "X\x7f", "", "Bad Name", "X:Y"])
def test_host_policy_header_names_are_tokens(name: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid header name"):
        HostConfig.from_settings({"headers": {name: "v"}}, where="here")


@pytest.mark.parametrize("value", ["a\x7fb", "a\x01b", "a\r\n b"])
def test_host_policy_header_values_have_no_controls(value: str) -> None:
    with pytest.raises(ConfigError, match="contains CR, LF, NUL or another control character"):
        HostConfig.from_settings({"headers": {"X-A": value}}, where="here")


def test_host_policy_header_values_may_hold_htab() -> None:
    config = HostConfig.from_settings({"headers": {"X-A": "a\tb", "X_B!": "é"}}, where="here")
    assert config.header_dict() == {"X-A": "a\tb", "X_B!": "é"}


@pytest.mark.parametrize("value", ["app\x7f", "app\x1b", "app\r\n/1"])
def test_user_agent_has_no_controls(value: str) -> None:
    with pytest.raises(ConfigError, match="one-line product token"):
        user_agent_string(value)
    assert user_agent_string("app\t/1").startswith("app\t/1 httpkit/")


@pytest.mark.parametrize(
    ("methods", "ok"),
    [(["M-SEARCH", "propfind"], True), (["GÉT"], False), (["GET\n"], False), ([""], False)],
)
def test_retry_methods_are_tokens(methods: list[str], ok: bool) -> None:
    if ok:
        policy = RetryPolicy(methods=frozenset(methods))
        assert policy.methods == frozenset(m.upper() for m in methods)
    else:
        with pytest.raises(ConfigError, match="must hold method names"):
            RetryPolicy(methods=frozenset(methods))


def test_token_auth_names_are_tokens() -> None:
    assert TokenAuth("t", header="X-API_Key", scheme="Token!").header == "X-API_Key"
    with pytest.raises(ConfigError, match="header must be an HTTP header name"):
        TokenAuth("t", header="Authorization\n")
    with pytest.raises(ConfigError, match="scheme must be an HTTP token"):
        TokenAuth("t", scheme="Bearer\n")


def test_basic_auth_refuses_every_control_even_htab() -> None:
    # RFC 7617: no control characters at all in user-id and password (they are base64'd).
    for char in sorted(CTL):
        with pytest.raises(ConfigError, match="must not contain control characters"):
            httpkit.BasicAuth("user", f"pass{char}word")


def test_cli_headers_and_methods() -> None:
    assert _parse_header("X-A:  a\tb ") == ("X-A", "a\tb")
    assert _method("m-search") == "M-SEARCH"
    for text in ("X-A: a\x7fb", "X-A: a\x00b"):
        with pytest.raises(UsageError, match="one line without control characters"):
            _parse_header(text)
    with pytest.raises(UsageError, match="expected 'Name: value'"):
        _parse_header("X(A): b")
    with pytest.raises(UsageError, match="is not an HTTP method"):
        _method("GET\n")
