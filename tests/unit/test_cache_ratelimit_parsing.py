"""Header parsing for caching and rate limits; settings validation. No sockets."""

from __future__ import annotations

import pytest

import httpkit
from httpkit._http import parse_http_date, parse_retry_after
from httpkit._ratelimit import RateLimit, parse_rate_limit_headers
from httpkit.cache import freshness_lifetime, initial_age, parse_cache_control

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"  # 784111777


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=60", {"max-age": "60"}),
        ("no-store", {"no-store": None}),
        (
            "Public, MAX-AGE=5, must-revalidate",
            {"public": None, "max-age": "5", "must-revalidate": None},
        ),
        ('private="Set-Cookie, X-A", max-age=1', {"private": "Set-Cookie, X-A", "max-age": "1"}),
        ("max-age=1, max-age=9", {"max-age": "1"}),
        ("", {}),
        (None, {}),
    ],
)
def test_cache_control_directives(value: str | None, expected: dict[str, str | None]) -> None:
    assert parse_cache_control(value) == expected


@pytest.mark.parametrize(
    ("headers", "directives", "lifetime"),
    [
        ({}, {"max-age": "60"}, 60.0),
        ({"Expires": "Sun, 06 Nov 1994 08:50:37 GMT", "Date": DATE}, {}, 60.0),
        ({"Expires": "Sun, 06 Nov 1994 08:50:37 GMT", "Date": DATE}, {"max-age": "5"}, 5.0),
        ({"Expires": "0", "Date": DATE}, {}, 0.0),
        ({"Expires": "Sun, 06 Nov 1994 08:48:37 GMT", "Date": DATE}, {}, 0.0),
        ({}, {"max-age": "soon"}, 0.0),
        ({}, {"s-maxage": "60"}, 0.0),
        ({}, {}, 0.0),
    ],
)
def test_freshness_lifetime(
    headers: dict[str, str], directives: dict[str, str], lifetime: float
) -> None:
    assert freshness_lifetime(headers, directives) == lifetime


def test_age_arithmetic() -> None:
    # Age header plus the time the response took to arrive.
    assert initial_age({"Age": "10"}, 100.0, 103.0) == 13.0
    # Date older than the response time: the apparent age wins when larger.
    assert initial_age({"Date": DATE, "Age": "1"}, 784111777.0 + 50, 784111777.0 + 50) == 50.0
    # A Date in the future never makes the age negative.
    assert initial_age({"Date": DATE}, 0.0, 0.0) == 0.0


@pytest.mark.parametrize(
    "value", [DATE, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"]
)
def test_three_http_date_forms(value: str) -> None:
    assert parse_http_date(value) == 784111777.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "7"},
            (100.0, 0.0, 7.0),
        ),
        (
            {
                "X-RateLimit-Limit": "60",
                "X-RateLimit-Remaining": "59",
                "X-RateLimit-Reset": "1000030",
            },
            (60.0, 59.0, 1000030.0),
        ),
        ({"X-RateLimit-Reset": "2000000030"}, (None, None, 30.0)),
        ({"X-RateLimit-Reset": "2000000030000"}, (None, None, 30.0)),
        ({"X-Rate-Limit-Remaining": "3"}, (None, 3.0, None)),
        ({"RateLimit": "limit=10, remaining=0, reset=5"}, (10.0, 0.0, 5.0)),
        ({"RateLimit": '"default";r=0;t=12'}, (None, 0.0, 12.0)),
        ({"RateLimit-Remaining": "lots"}, (None, None, None)),
        ({}, (None, None, None)),
    ],
)
def test_rate_limit_headers(
    headers: dict[str, str], expected: tuple[float | None, float | None, float | None]
) -> None:
    assert parse_rate_limit_headers(headers, now=2_000_000_000.0) == expected


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now=784111777.0) == 10.0
    assert parse_retry_after("-1") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/s", RateLimit(requests=10, per=1.0)),
        ("600/min", RateLimit(requests=600, per=60.0)),
        ("100/15min", RateLimit(requests=100, per=900.0)),
        ("5 / hour", RateLimit(requests=5, per=3600.0)),
        ("auto", RateLimit(adaptive=True)),
        ("10/s+auto", RateLimit(requests=10, per=1.0, adaptive=True)),
        ("auto + 2/seconds", RateLimit(requests=2, per=1.0, adaptive=True)),
    ],
)
def test_rate_limit_syntax(text: str, expected: RateLimit) -> None:
    assert RateLimit.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["10", "10/fortnight", "x/s", "10/s+5/min", "auto+auto", "0/s", "10/0s"]
)
def test_bad_rate_limit_names_the_key(text: str) -> None:
    with pytest.raises(httpkit.ConfigError, match=r"Session\(\): rate_limit: "):
        httpkit.Session(rate_limit=text)


def test_bad_cache_names_the_key() -> None:
    with pytest.raises(httpkit.ConfigError, match=r"configure\('https://a.example'\): cache: "):
        httpkit.Session().configure("https://a.example", cache=42)


def test_config_file_keys() -> None:
    s = httpkit.Session.from_config(
        {
            "session": {"cache": True, "rate_limit": "auto"},
            "hosts": {"https://api.example.com": {"rate_limit": "600/min", "cache": False}},
        }
    )
    assert isinstance(s.get_adapter("https://x.test/").settings.cache, httpkit.MemoryCache)  # type: ignore[attr-defined]
    policy = s.policy_for("https://api.example.com/x")
    assert (policy.cache, str(policy.rate_limit)) == (None, "600/min")
    with pytest.raises(httpkit.ConfigError, match=r"\[session\]: rate_limit"):
        httpkit.Session.from_config({"session": {"rate_limit": "lots"}})


def test_memory_cache_is_bounded_by_entries_and_bytes() -> None:
    from httpkit.cache import Entry

    def entry(size: int) -> Entry:
        return Entry(200, "OK", (), b"x" * size, 0.0, 0.0, 60.0, False, (), "")

    cache = httpkit.MemoryCache(max_entries=3, max_bytes=1000)
    for key in "abcd":
        cache.set(key, entry(10))
    assert [k for k in "abcd" if cache.get(k)] == ["b", "c", "d"]
    cache.get("b")  # most recently used now
    cache.set("e", entry(700))
    assert cache.get("b") is not None
    assert cache.get("c") is None
    cache.set("huge", entry(5000))
    assert cache.get("huge") is None
