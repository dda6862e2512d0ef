"""Every parser of a value a server or a user sends, fuzzed: only documented errors come out.

Server values (``Retry-After``, ``Cache-Control``, ``Age``, ``Expires``, ``Date``,
``RateLimit-*``, ``WWW-Authenticate``, ``Location``) arrive as text decoded from Latin-1 by
http.client; users give any ``str``. Invalid server values count as absent, so those parsers
raise nothing at all; the others raise only the error their docstring names.
"""

from __future__ import annotations

import contextlib
import io
import math

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from httpkit import AuthError, ConfigError, Session
from httpkit._http import (
    has_forbidden_field_char,
    is_token,
    parse_challenges,
    parse_delta_seconds,
    parse_http_date,
    parse_retry_after,
    parse_url,
    split_url,
)
from httpkit._ratelimit import check_rate_limit, parse_rate_limit_headers
from httpkit._timeouts import Timeouts
from httpkit.auth._digest import select_challenge
from httpkit.cache import freshness_lifetime, initial_age, parse_cache_control

#: What a header value looks like after http.client decoded it: any byte, as Latin-1.
wire = st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
#: Header values that look almost right, to reach deeper into the grammars.
near = st.one_of(
    wire,
    st.text(alphabet='0123456789 ,;="-.:+eEinfINFaxGMTSunMonJan', max_size=40),
    st.from_regex(r"[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{1,5} \d\d:\d\d:\d\d GMT", fullmatch=True),
)
#: Anything a user may pass as a string.
user_text = st.text(max_size=80)

FAST = settings(max_examples=150, deadline=None)


def _finite_or_none(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value >= 0)


@FAST
@given(near)
def test_delta_seconds_and_dates_never_raise(value: str) -> None:
    seconds = parse_delta_seconds(value)
    assert seconds is None or (isinstance(seconds, int) and seconds >= 0)
    assert parse_http_date(value) is None or math.isfinite(parse_http_date(value) or 0.0)
    assert _finite_or_none(parse_retry_after(value, now=1_700_000_000.0))


@FAST
@given(near, near, near, near)
def test_cache_rules_never_raise(control: str, age: str, expires: str, date: str) -> None:
    directives = parse_cache_control(control)
    headers = {"Age": age, "Expires": expires, "Date": date, "Cache-Control": control}
    lifetime = freshness_lifetime(headers, directives)
    assert math.isfinite(lifetime)
    assert lifetime >= 0
    assert math.isfinite(initial_age(headers, 1_700_000_000.0, 1_700_000_001.0))


@FAST
@given(st.dictionaries(st.sampled_from(_RATE := [
    "RateLimit", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
]), near))  # fmt: skip
def test_rate_limit_headers_never_raise(headers: dict[str, str]) -> None:
    for value in parse_rate_limit_headers(headers, now=1_700_000_000.0):
        assert value is None or math.isfinite(value)


_tokens = st.from_regex(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}", fullmatch=True)
#: The text of a quoted-string: any Latin-1 character but the controls (RFC 9110 qdtext).
_quoted_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=20,
)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@FAST
@given(
    st.lists(
        st.tuples(
            _tokens.filter(lambda t: "=" not in t),
            st.dictionaries(_tokens.map(str.lower), _quoted_text, max_size=4),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_challenges_round_trip(challenges: list[tuple[str, dict[str, str]]]) -> None:
    """Challenges written by the grammar come back as they were written, however joined."""
    value = ", ".join(
        scheme + (" " + ", ".join(f"{k}={_quote(v)}" for k, v in params.items()) if params else "")
        for scheme, params in challenges
    )
    parsed = parse_challenges(value)
    assert [(c.scheme, c.params, c.error) for c in parsed] == [
        (scheme.lower(), params, None) for scheme, params in challenges
    ]


@FAST
@given(near)
def test_challenges_never_raise(value: str) -> None:
    for challenge in parse_challenges(value):
        assert challenge.error is None or challenge.error


@FAST
@given(near)
def test_digest_challenges_raise_only_auth_error(value: str) -> None:
    with contextlib.suppress(AuthError):
        select_challenge(value)


@FAST
@given(st.text(alphabet=st.characters(), max_size=60).map(lambda tail: "Digest " + tail))
def test_digest_like_challenges_raise_only_auth_error(value: str) -> None:
    with contextlib.suppress(AuthError):
        select_challenge(value)


@FAST
@given(st.one_of(user_text, st.from_regex(r"[a-z]+://[^/]*(/.*)?", fullmatch=True)))
def test_urls_raise_only_value_error(url: str) -> None:
    try:
        parts = parse_url(url)
    except ValueError:
        assert split_url(url) is None
    else:
        assert split_url(url) == parts
        assert parts.host


@FAST
@given(user_text)
def test_field_rules_never_raise(text: str) -> None:
    if is_token(text):
        assert text.isascii()
        assert not has_forbidden_field_char(text)


@FAST
@given(wire)
def test_a_redirect_location_raises_only_invalid_url(location: str) -> None:
    response = requests.Response()
    response.status_code = 302
    response.url = "http://127.0.0.1:1/start"
    response.headers["Location"] = location
    response.raw = io.BytesIO()
    with Session() as session, contextlib.suppress(requests.exceptions.InvalidURL):
        session.get_redirect_target(response)


@FAST
@given(st.one_of(user_text, st.integers(), st.floats(), st.none(), st.tuples(st.floats())))
def test_user_settings_raise_only_config_error(value: object) -> None:
    with contextlib.suppress(ConfigError):
        Timeouts.coerce(value)  # type: ignore[arg-type]
    with contextlib.suppress(ConfigError):
        check_rate_limit("Session()", value)
