"""Policy targets and origin matching: never a raw string prefix."""

from __future__ import annotations

import pytest
from requests.adapters import HTTPAdapter

import httpkit
from httpkit import ConfigError, HostConfig, Timeouts
from httpkit._hosts import HostPattern, MountTable
from httpkit._http import origin_of, same_origin
from httpkit._timeouts import UNSET


@pytest.mark.parametrize(
    ("target", "prefix"),
    [
        ("https://api.example.com", "https://api.example.com/"),
        ("HTTPS://API.Example.COM/", "https://api.example.com/"),
        ("https://api.example.com:443", "https://api.example.com/"),
        ("https://api.example.com:8443", "https://api.example.com:8443/"),
        ("http://api.example.com:80/", "http://api.example.com/"),
        ("https://*.example.com", "https://*.example.com/"),
        ("https://example.com/api/v2", "https://example.com/api/v2/"),
        ("https://bücher.example", "https://xn--bcher-kva.example/"),
        ("https://api.example.com.", "https://api.example.com/"),
        ("http://[::1]:8080", "http://[::1]:8080/"),
    ],
)
def test_targets_normalize_to_one_prefix(target: str, prefix: str) -> None:
    assert HostPattern.parse(target).prefix == prefix


@pytest.mark.parametrize(
    ("target", "url", "expected"),
    [
        # the suffix attack: a raw prefix match would accept these
        ("https://api.example.com", "https://api.example.com.evil.test/", False),
        ("https://api.example.com", "https://api.example.community/", False),
        ("https://api.example.com", "https://api.example.com@evil.test/", False),
        # ports: omitted means the scheme's default
        ("https://api.example.com", "https://api.example.com/x", True),
        ("https://api.example.com", "https://api.example.com:443/x", True),
        ("https://api.example.com", "https://api.example.com:8443/x", False),
        ("https://api.example.com:8443", "https://api.example.com:8443/x", True),
        # scheme is part of the origin
        ("https://api.example.com", "http://api.example.com/", False),
        # case and trailing dots do not matter, IDNA is compared encoded
        ("https://API.example.com", "https://api.EXAMPLE.com/", True),
        ("https://api.example.com", "https://api.example.com./", True),
        ("https://bücher.example", "https://xn--bcher-kva.example/", True),
        ("https://xn--bcher-kva.example", "https://BÜCHER.example/", True),
        # wildcards: any depth of subdomain, never the apex or a lookalike
        ("https://*.example.com", "https://a.example.com/", True),
        ("https://*.example.com", "https://a.b.example.com/", True),
        ("https://*.example.com", "https://example.com/", False),
        ("https://*.example.com", "https://badexample.com/", False),
        ("https://*.example.com", "https://a.example.com.evil.test/", False),
        # path prefixes end at segment boundaries
        ("https://example.com/api", "https://example.com/api", True),
        ("https://example.com/api", "https://example.com/api/users", True),
        ("https://example.com/api", "https://example.com/apis", False),
        ("https://example.com/api", "https://example.com/", False),
        # IPv6 literals
        ("http://[::1]:8080", "http://[::1]:8080/x", True),
        ("http://[::1]:8080", "http://[::2]:8080/x", False),
        # garbage never matches
        ("https://api.example.com", "not a url", False),
        ("https://api.example.com", "https://api.example.com:99999/", False),
    ],
)
def test_pattern_matching_is_by_origin(target: str, url: str, expected: bool) -> None:
    assert HostPattern.parse(target).matches_url(url) is expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("api.example.com", "needs a scheme and a host, e.g. 'https://api.example.com'"),
        ("https://", "needs a scheme and a host"),
        ("https://api.*.com", "a wildcard must be the leftmost label"),
        ("https://*", "a wildcard must be the leftmost label"),
        ("https://api.example.com/?q=1", "remove the query"),
        ("https://user:pw@api.example.com", "holds user info; remove it and pass credentials"),
        ("https://api.example.com:port", "is not a valid URL"),
        (42, "must be a string URL"),
    ],
)
def test_bad_targets_raise_config_error_with_the_fix(target: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace("?", r"\?")):
        HostPattern.parse(target)  # type: ignore[arg-type]


def test_user_info_in_target_error_does_not_echo_a_password() -> None:
    with pytest.raises(ConfigError) as caught:
        HostPattern.parse("https://user:hunter2@api.example.com")
    assert "hunter2" not in str(caught.value)
    assert "user" not in str(caught.value).split("'")[1]


def _table(*prefixes: str) -> tuple[MountTable, dict[str, HTTPAdapter]]:
    adapters = {p: HTTPAdapter() for p in prefixes}
    return MountTable(adapters), adapters


def test_most_specific_prefix_wins_whatever_the_mount_order() -> None:
    table, adapters = _table(
        "https://",
        "https://*.example.com/",
        "https://api.example.com/",
        "https://api.example.com/v2/",
        "https://*.deep.example.com/",
    )
    assert (
        table.lookup("https://api.example.com/v2/users") is adapters["https://api.example.com/v2/"]
    )
    assert table.lookup("https://api.example.com/v1/users") is adapters["https://api.example.com/"]
    assert table.lookup("https://www.example.com/") is adapters["https://*.example.com/"]
    assert table.lookup("https://a.deep.example.com/") is adapters["https://*.deep.example.com/"]
    assert table.lookup("https://other.test/") is adapters["https://"]
    assert table.lookup("ftp://other.test/") is None


def test_user_mount_without_trailing_slash_matches_by_origin() -> None:
    """requests would send https://api.example.com.evil.test/ through this adapter."""
    table, adapters = _table("https://", "https://api.example.com")
    assert table.lookup("https://api.example.com/x") is adapters["https://api.example.com"]
    assert table.lookup("https://api.example.com.evil.test/") is adapters["https://"]


def test_unparsable_user_prefixes_still_match_as_requests_does() -> None:
    table, adapters = _table("http+unix://", "mock://")
    assert table.lookup("http+unix://%2Fvar%2Frun%2Fdocker.sock/info") is adapters["http+unix://"]
    assert table.lookup("MOCK://anything") is adapters["mock://"]


def test_mount_table_notices_changes() -> None:
    adapters: dict[str, HTTPAdapter] = {"https://": HTTPAdapter()}
    table = MountTable(adapters)
    assert table.is_current(adapters)
    adapters["https://"] = HTTPAdapter()
    assert not table.is_current(adapters)


def test_origins() -> None:
    assert origin_of("https://A.example.com:443/x") == ("https", "a.example.com", 443)
    assert str(origin_of("https://a.example.com:8443/x")) == "https://a.example.com:8443"
    assert same_origin("http://127.0.0.1/a", "http://127.0.0.1:80/b")
    assert not same_origin("http://127.0.0.1/a", "http://127.0.0.2/a")
    assert not same_origin("garbage", "garbage")


def test_host_config_validates_every_key() -> None:
    with pytest.raises(ConfigError, match=r"here: unknown setting 'timout'; known settings: auth"):
        HostConfig.from_settings({"timout": 5}, where="here")
    with pytest.raises(ConfigError, match=r"here: timeout: .* got 'soon'"):
        HostConfig.from_settings({"timeout": "soon"}, where="here")
    with pytest.raises(ConfigError, match=r"here: deadline: expected seconds > 0"):
        HostConfig.from_settings({"deadline": 0}, where="here")
    with pytest.raises(ConfigError, match=r"here: headers: the value of 'X-A' contains CR, LF"):
        HostConfig.from_settings({"headers": {"X-A": "a\r\nInjected: 1"}}, where="here")
    with pytest.raises(ConfigError, match=r"here: headers: 'Bad Name' is not a valid header name"):
        HostConfig.from_settings({"headers": {"Bad Name": "x"}}, where="here")
    with pytest.raises(ConfigError, match=r"here: auth: expected an auth plugin"):
        HostConfig.from_settings({"auth": "user:pw"}, where="here")
    with pytest.raises(ConfigError, match=r"here: cert: expected a path or a \(cert, key\) pair"):
        HostConfig.from_settings({"cert": ("a", "b", "c")}, where="here")


def test_host_config_merges_and_hides_secret_headers() -> None:
    first = HostConfig.from_settings({"timeout": 5, "headers": {"X-Api-Key": "s3cret"}}, where="t")
    second = first.merged(HostConfig.from_settings({"retry": 2}, where="t"))
    assert second.timeout == Timeouts(connect=5, read=5)
    assert repr(second) == (
        "HostConfig(timeout=Timeouts(connect=5.0, read=5.0), retry=RetryPolicy(total=2, "
        "backoff_factor=0.5, backoff_max=30.0, jitter=1.0, statuses=[429, 500, 502, 503, 504], "
        "methods=['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'TRACE'], respect_retry_after=True, "
        "retry_after_max=120.0, idempotency_key=False), headers={'X-Api-Key': '<redacted>'})"
    )
    assert "s3cret" not in repr(second)


@pytest.mark.parametrize(
    ("target", "same", "other"),
    [
        (
            "https://api.example.com",
            ["https://API.example.com/x", "https://api.example.com.:443/x"],
            ["https://api.example.com.evil.test/", "https://api.example.com@evil.test/"],
        ),
        ("http://127.0.0.1:8080", ["http://127.0.0.1:8080/a"], ["http://127.0.0.10:8080/"]),
        ("http://[::1]:8080", ["http://[0:0:0:0:0:0:0:1]:8080/"], ["http://[::2]:8080/"]),
        ("https://intranet", ["https://INTRANET/x", "https://intranet./"], ["https://intranet.a/"]),
        ("https://bücher.example", ["https://xn--bcher-kva.example/"], ["https://bucher.example/"]),
    ],
)
def test_policies_match_every_spelling_of_their_origin(
    target: str, same: list[str], other: list[str]
) -> None:
    with httpkit.Session() as s:
        s.configure(target, timeout=7)
        assert [s.policy_for(url).timeout for url in same] == [Timeouts(connect=7, read=7)] * len(
            same
        )
        assert [s.policy_for(url).timeout for url in other] == [UNSET] * len(other)


def test_mount_prefixes_match_case_insensitively_as_in_requests() -> None:
    own = HTTPAdapter()
    with httpkit.Session() as s:
        s.mount("hTtPs://eXamPle.CoM/MixEd_CAse_PREfix", own)
        assert s.get_adapter("https://example.com/mixed_case_prefix/x") is own
        assert s.get_adapter("HTTPS://EXAMPLE.COM/MIXED_CASE_PREFIX") is own
        assert s.get_adapter("https://example.com/other") is not own
