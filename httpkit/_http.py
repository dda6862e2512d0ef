"""The HTTP rules httpkit applies, one copy each: origins, tokens, field values, dates.

A leaf module: it imports nothing of httpkit's, so every other module can use it.

- URLs: :func:`origin_of` and :func:`split_url` share one parser, :func:`parse_url`.
- Tokens (RFC 9110 §5.6.2): method names, header names and auth schemes are tokens.
- Field values (RFC 9110 §5.5): no control character other than HTAB.
- Lists (RFC 9110 §5.6.1): ``Cache-Control`` directives and ``*-Authenticate``
  challenges, split by :func:`split_list`.
- Times: HTTP-dates (RFC 9110 §5.6.7), delta-seconds (RFC 9111 §1.2.2) and
  ``Retry-After`` (RFC 9110 §10.2.3).
"""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import idna

# -- origins and URLs --------------------------------------------------------------------

#: The port a scheme implies when a URL names none.
DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class Origin(NamedTuple):
    """A URL's origin (RFC 6454): scheme and host lowercased, the port always explicit.

    >>> origin_of("HTTPS://API.Example.com./v1?q=1")
    Origin(scheme='https', host='api.example.com', port=443)
    >>> str(origin_of("http://[::1]:8080/"))
    'http://[::1]:8080'
    """

    scheme: str
    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None or self.port == DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


class URLParts(NamedTuple):
    """The parts of a URL that policies match on, normalized (see :func:`parse_url`)."""

    scheme: str
    host: str
    port: int | None
    path: str


def normalize_host(host: str) -> str:
    """Lowercase, drop trailing dots and IDNA-encode a host name the way requests does.

    ASCII names are only lowercased; IPv6 literals (without brackets) take their one
    canonical spelling (RFC 5952), so that every spelling of an address is one origin.

    >>> normalize_host("Bücher.Example.")
    'xn--bcher-kva.example'
    >>> normalize_host("2001:DB8::1"), normalize_host("EXAMPLE.com..")
    ('2001:db8::1', 'example.com')
    >>> normalize_host("0:0:0:0:0:0:0:1"), normalize_host("fe80::1%eth0")
    ('::1', 'fe80::1%eth0')
    >>> normalize_host("a..bé")
    Traceback (most recent call last):
    ...
    ValueError: invalid international host name 'a..bé': ...
    """
    host = host.rstrip(".").lower()
    if ":" in host:
        return _canonical_ipv6(host)
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"invalid international host name {host!r}: {exc}") from None


@lru_cache(maxsize=256)
def _canonical_ipv6(host: str) -> str:
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError:
        return host  # not an address urlsplit would have let through; leave it as given


def parse_url(url: str) -> URLParts:
    """Normalized ``(scheme, host, port, path)`` of an absolute URL.

    The scheme and host are lowercased, the host IDNA-encoded without brackets or trailing
    dots, the port is the scheme's default when the URL names none (``None`` for schemes
    without one), and the path is ``/`` when empty.

    >>> parse_url("HTTPS://Bücher.example.:8443")
    URLParts(scheme='https', host='xn--bcher-kva.example', port=8443, path='/')
    >>> parse_url("http://[2001:DB8::1]/a/b?q").host
    '2001:db8::1'
    >>> parse_url("//example.com/no-scheme")
    Traceback (most recent call last):
    ...
    ValueError: URL has no scheme or host: '//example.com/no-scheme'
    >>> parse_url("http://example.com:99999/")
    Traceback (most recent call last):
    ...
    ValueError: Port out of range 0-65535
    >>> parse_url("http://a@127.0.0.1:1@127.0.0.2:2/")
    Traceback (most recent call last):
    ...
    ValueError: URL has more than one '@' in its authority; percent-encode it as %40

    Raises:
        ValueError: no scheme, no host (or only dots), more than one ``@`` in the
            authority, a bad port, a bad IPv6 literal or an international name IDNA refuses.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname  # lowercased by urlsplit, brackets removed
    if not scheme or not host or not host.strip("."):
        raise ValueError(f"URL has no scheme or host: {url!r}")
    if has_two_userinfo_ats(url):
        raise ValueError("URL has more than one '@' in its authority; percent-encode it as %40")
    port = parts.port
    if port is None:
        port = DEFAULT_PORTS.get(scheme)
    return URLParts(scheme, normalize_host(host), port, parts.path or "/")


def has_two_userinfo_ats(url: str) -> bool:
    """Whether the authority of ``url`` holds more than one ``@``.

    Clients disagree on which host such a URL names (``http://a@10.0.0.1:1@example.com/``):
    some take the first ``@`` as the end of the user info, some the last.

    >>> has_two_userinfo_ats("http://a@127.0.0.1:1@127.0.0.2:2/"), has_two_userinfo_ats("http://u:p@h/@")
    (True, False)
    """
    return urlsplit(url).netloc.count("@") > 1


@lru_cache(maxsize=1024)
def origin_of(url: str) -> Origin:
    """The origin of ``url``.

    >>> origin_of("wss://chat.example.com/socket")
    Origin(scheme='wss', host='chat.example.com', port=443)

    Raises:
        ValueError: as :func:`parse_url`.
    """
    scheme, host, port, _ = parse_url(url)
    return Origin(scheme, host, port)


def origin_key(url: str) -> str:
    """``url``'s origin as text, the key of per-origin state (rate limits, circuits,
    retry budgets); an unparsable URL is its own key.

    >>> origin_key("HTTPS://API.example.com:443/x?q=1"), origin_key("not a url")
    ('https://api.example.com', 'not a url')
    """
    try:
        return str(origin_of(url))
    except ValueError:
        return url


def same_origin(a: str, b: str) -> bool:
    """True when both URLs share scheme, host and port; unparsable URLs never match.

    >>> same_origin("http://127.0.0.1/a", "HTTP://127.0.0.1:80/b")
    True
    >>> same_origin("https://example.com", "http://example.com"), same_origin("x", "x")
    (False, False)
    """
    try:
        return origin_of(a) == origin_of(b)
    except ValueError:
        return False


@lru_cache(maxsize=1024)
def split_url(url: str) -> URLParts | None:
    """:func:`parse_url`, or ``None`` where that raises.

    >>> split_url("https://API.example.com/v2")
    URLParts(scheme='https', host='api.example.com', port=443, path='/v2')
    >>> split_url("/relative") is None, split_url("http://h:port/") is None
    (True, True)
    """
    try:
        return parse_url(url)
    except ValueError:
        return None


def split_host(url: str) -> str | None:
    """The normalized host of ``url``, or ``None``.

    >>> split_host("https://API.example.com:8443/x")
    'api.example.com'
    """
    parts = split_url(url)
    return parts.host if parts is not None else None


# -- tokens ------------------------------------------------------------------------------

#: A token (RFC 9110 §5.6.2: one or more ``tchar``) as a regular expression fragment,
#: for building larger patterns.
TOKEN_PATTERN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TOKEN_RE: Final = re.compile(TOKEN_PATTERN)


def is_token(text: object) -> bool:
    """Whether ``text`` is an RFC 9110 token: a method, a header name, an auth scheme.

    >>> is_token("M-SEARCH"), is_token("X-Request-ID"), is_token("!#$%&'*+-.^_`|~")
    (True, True, True)
    >>> is_token(""), is_token("GE T"), is_token("X:Y"), is_token("GET\\n"), is_token("GÉT")
    (False, False, False, False, False)
    """
    return isinstance(text, str) and _TOKEN_RE.fullmatch(text) is not None


# -- field values ------------------------------------------------------------------------

#: ``CTL`` (RFC 5234): the C0 controls and DEL.
CTL: Final = frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
#: What a header (field) value may not hold: every CTL but HTAB (RFC 9110 §5.5). CR and LF
#: end the header line, NUL cuts it short in some servers, the others are invalid too.
FIELD_VALUE_FORBIDDEN: Final = CTL - {"\t"}
_FIELD_VALUE_FORBIDDEN_RE: Final = re.compile(
    "[" + re.escape("".join(sorted(FIELD_VALUE_FORBIDDEN))) + "]"
)


def has_forbidden_field_char(text: str) -> bool:
    """Whether ``text`` holds a character a header value may not (see FIELD_VALUE_FORBIDDEN).

    An obs-fold (CRLF then a space) is refused as well: it holds CR and LF.

    >>> has_forbidden_field_char("text/html;\\tq=0.9"), has_forbidden_field_char("é")
    (False, False)
    >>> [has_forbidden_field_char(s) for s in ("a\\r\\n b", "a\\x00", "a\\x7f", "\\x1b[2J")]
    [True, True, True, True]
    """
    return _FIELD_VALUE_FORBIDDEN_RE.search(text) is not None


# -- lists, directives and challenges ---------------------------------------------------

#: A quoted-string (RFC 9110 §5.6.4) as a regular expression fragment.
QUOTED_STRING_PATTERN: Final = r'"(?:[^"\\]|\\.)*"'
#: A token68 (RFC 9110 §11.2): base64 and its URL-safe form, padding included.
_TOKEN68_PATTERN: Final = r"[A-Za-z0-9\-._~+/]+=*"
_DIRECTIVE_RE: Final = re.compile(
    rf"[ \t]*({TOKEN_PATTERN})[ \t]*(?:=[ \t]*({TOKEN_PATTERN}|{QUOTED_STRING_PATTERN}))?[ \t]*",
    re.ASCII | re.DOTALL,
)
# A parameter's value may also be a token68: servers send base64 nonces unquoted, padding too.
_AUTH_PARAM_RE: Final = re.compile(
    rf"({TOKEN_PATTERN})\s*=\s*({TOKEN_PATTERN}|{_TOKEN68_PATTERN}|{QUOTED_STRING_PATTERN})",
    re.ASCII | re.DOTALL,
)
# A scheme, then nothing or something that is not "=" (that would be a parameter: "a = b").
_AUTH_SCHEME_RE: Final = re.compile(rf"({TOKEN_PATTERN})(?:\s+([^\s=].*))?", re.ASCII | re.DOTALL)
_TOKEN68_RE: Final = re.compile(_TOKEN68_PATTERN, re.ASCII)
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_UNTERMINATED: Final = "the challenge has an unterminated quoted-string (broken quoting)"


def split_list(value: str) -> tuple[list[str], bool]:
    """Split a list-valued header on the commas that are not inside a quoted-string.

    Returns:
        The items, unstripped and empty ones kept, and whether the last one ends inside
        an unterminated quoted-string.

    >>> split_list('a, b="c, d", e="f')
    (['a', ' b="c, d"', ' e="f'], True)
    """
    items: list[str] = []
    start = 0
    i = 0
    quoted = False
    while i < len(value):
        char = value[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            items.append(value[start:i])
            start = i + 1
        i += 1
    items.append(value[start:])
    return items, quoted


def unquote(value: str) -> str:
    """The text of a quoted-string, quoted-pairs resolved; any other value as it is.

    >>> unquote('"a \\\\"b\\\\" c"'), unquote("token")
    ('a "b" c', 'token')
    """
    if value.startswith('"'):
        return _QUOTED_PAIR_RE.sub(r"\1", value[1:-1])
    return value


def parse_cache_control(value: str | None) -> dict[str, str | None]:
    """Directives of a ``Cache-Control`` value (RFC 9111 §5.2): names lowercased, quotes removed.

    Each directive is a token, with an optional ``=`` and a token or a quoted string;
    one that is not (``max-age=6 0``, non-ASCII) is ignored, as RFC 9111 asks of
    directives a cache does not understand. The first of two directives of one name wins.

    >>> parse_cache_control('max-age=60, No-Cache, private="Set-Cookie, Date"')
    {'max-age': '60', 'no-cache': None, 'private': 'Set-Cookie, Date'}
    >>> parse_cache_control("max-age=6 0, no-störe, , public")
    {'public': None}
    """
    directives: dict[str, str | None] = {}
    if not value:
        return directives
    for element in split_list(value)[0]:
        match = _DIRECTIVE_RE.fullmatch(element)
        if match is None:
            continue
        argument = match.group(2)
        directives.setdefault(
            match.group(1).lower(), None if argument is None else unquote(argument)
        )
    return directives


class Challenge(NamedTuple):
    """One challenge of an ``*-Authenticate`` header: a scheme and its parameters."""

    scheme: str  # lowercased; "" for text before the first scheme
    params: dict[str, str]  # names lowercased, quoted values unescaped
    token68: str | None
    error: str | None = None  # the first way the challenge breaks the grammar, if any


def parse_challenges(value: str) -> list[Challenge]:
    """Parse an ``*-Authenticate`` value that may hold several challenges (RFC 9110 §11.6.1).

    requests joins repeated header fields with ``", "``, so challenges and their
    parameters are told apart by shape: ``scheme [param]`` starts a challenge,
    ``name=value`` continues one. A value is a token, a token68 or a quoted-string.

    >>> parse_challenges('Basic realm="a", Digest realm="b, c", nonce=bg==')[1].params
    {'realm': 'b, c', 'nonce': 'bg=='}

    Nothing raises: a challenge that breaks the grammar (broken quoting, a duplicated
    parameter, text that is neither a parameter nor a scheme, non-ASCII outside a
    quoted-string) is returned with ``error`` naming the first problem, so that the
    challenges of other schemes can be ignored. Parameters before any scheme make a
    challenge with the scheme ``""`` and an error.

    >>> parse_challenges('Digest realm="r", realm="s"')[0].error
    "the digest challenge repeats the parameter 'realm'"
    """
    challenges: list[Challenge] = []
    items, unterminated = split_list(value)
    for index, raw in enumerate(items):
        item = raw.strip()
        if not item:
            continue
        if unterminated and index == len(items) - 1:
            start = _AUTH_SCHEME_RE.fullmatch(item)
            if start:
                challenges.append(Challenge(start.group(1).lower(), {}, None))
            _fail(challenges, _UNTERMINATED)
            continue
        param = _AUTH_PARAM_RE.fullmatch(item)
        if param is None:
            start = _AUTH_SCHEME_RE.fullmatch(item)
            if start is None:
                _fail(challenges, f"cannot parse the challenge near {item[:40]!r}")
                continue
            challenges.append(Challenge(start.group(1).lower(), {}, None))
            rest = start.group(2)
            if rest is None:
                continue
            param = _AUTH_PARAM_RE.fullmatch(rest)
            if param is None:
                if _TOKEN68_RE.fullmatch(rest):
                    challenges[-1] = challenges[-1]._replace(token68=rest)
                else:
                    _fail(challenges, f"cannot parse the challenge near {rest[:40]!r}")
                continue
        if not challenges:
            _fail(challenges, "the challenge starts with a parameter instead of a scheme")
        else:
            _add_param(challenges, param.group(1), param.group(2))
    return challenges


def _fail(challenges: list[Challenge], problem: str) -> None:
    """Record ``problem`` on the challenge being parsed, unless it already has one."""
    if not challenges:
        challenges.append(Challenge("", {}, None))
    if challenges[-1].error is None:
        challenges[-1] = challenges[-1]._replace(error=problem)


def _add_param(challenges: list[Challenge], name: str, value: str) -> None:
    challenge = challenges[-1]
    key = name.lower()
    if challenge.token68 is not None:
        _fail(challenges, f"the {challenge.scheme} challenge mixes a token68 with parameters")
    elif key in challenge.params:
        _fail(challenges, f"the {challenge.scheme} challenge repeats the parameter {key!r}")
    else:
        challenge.params[key] = unquote(value)


# -- numbers -----------------------------------------------------------------------------

_DECIMAL_RE: Final = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?", re.ASCII)


def parse_decimal(value: str | None) -> float | None:
    """A non-negative decimal number a server sent (``RateLimit-Limit: 60``, ``1.5``).

    ASCII digits with an optional fraction, surrounding blanks ignored; anything else
    (signs, exponents, ``inf``, ``nan``, other scripts' digits, 16 digits or more) is
    ``None``, as an absent value.

    >>> parse_decimal(" 60 "), parse_decimal("1.5"), parse_decimal("INF"), parse_decimal("1e3")
    (60.0, 1.5, None, None)
    >>> parse_decimal("-1"), parse_decimal("\u0663"), parse_decimal("9" * 400), parse_decimal(None)
    (None, None, None, None)
    """
    if value is None:
        return None
    text = value.strip(" \t")
    return float(text) if _DECIMAL_RE.fullmatch(text) else None


# -- times -------------------------------------------------------------------------------

#: The largest delta-seconds value: anything larger reads as this (RFC 9111 §1.2.2).
MAX_DELTA_SECONDS: Final = 2**31
_MAX_DELTA_DIGITS: Final = len(str(MAX_DELTA_SECONDS))


def parse_delta_seconds(value: str | None) -> int | None:
    """A delta-seconds value (``max-age``, ``Age``); ``None`` if absent or invalid.

    Only ASCII digits count; values above 2**31 are read as 2**31.

    >>> parse_delta_seconds(" 120 "), parse_delta_seconds("-1"), parse_delta_seconds("soon")
    (120, None, None)
    >>> parse_delta_seconds("9" * 40), parse_delta_seconds("2147483649")
    (2147483648, 2147483648)
    >>> parse_delta_seconds("\\u0661\\u0662"), parse_delta_seconds("+1"), parse_delta_seconds("")
    (None, None, None)
    """
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return None
    if len(value) > _MAX_DELTA_DIGITS:
        return MAX_DELTA_SECONDS
    return min(int(value), MAX_DELTA_SECONDS)


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch for an HTTP-date in any of its three forms; ``None`` if bad.

    A date without a zone (asctime) is UTC, as every HTTP-date is.

    >>> parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    784111777.0
    >>> parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")
    784111777.0
    >>> parse_http_date("Sun Nov  6 08:49:37 1994")
    784111777.0
    >>> parse_http_date("0"), parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT")
    (None, None)
    """
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait for a ``Retry-After`` (delta-seconds or HTTP-date); ``None`` if bad.

    A date in the past means no wait; ``now`` is seconds since the epoch (default: now).

    >>> parse_retry_after("3"), parse_retry_after("soon"), parse_retry_after("-1")
    (3.0, None, None)
    >>> parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now=784111777.0)
    10.0
    """
    if not value:
        return None
    seconds = parse_delta_seconds(value)
    if seconds is not None:
        return float(seconds)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, when - (time.time() if now is None else now))
