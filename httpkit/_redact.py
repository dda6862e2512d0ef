"""Which headers and URL parts carry credentials, and how to show them without their secrets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

#: Header names (lowercase) whose values are credentials. They are scoped to their origin
#: on redirects and never shown in logs or reprs.
SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-api-token",
        "private-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
    }
)

REDACTED: Final = "<redacted>"


def sensitive_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The default sensitive set plus ``extra``, lowercased."""
    return SENSITIVE_HEADERS | {name.lower() for name in extra}


def is_secret_header(name: str, sensitive: frozenset[str] = SENSITIVE_HEADERS) -> bool:
    """Whether a header's value is a credential: a ``sensitive`` name, or one that looks it.

    >>> is_secret_header("X-Custom-Token"), is_secret_header("Accept")
    (True, False)
    """
    return name.lower() in sensitive or SECRET_PARAMETER.search(name) is not None


def redact_headers(
    headers: Mapping[str, Any], sensitive: frozenset[str] = SENSITIVE_HEADERS
) -> dict[str, Any]:
    """A copy of ``headers`` with every credential value replaced.

    Credentials are the ``sensitive`` names and any name that looks like one (it contains
    ``token``, ``key``, ``secret``, ``auth``, ``session`` ...), such as a custom token header.

    >>> redact_headers({"Accept": "text/html", "Authorization": "Bearer s3cret"})
    {'Accept': 'text/html', 'Authorization': '<redacted>'}
    """
    return {k: (REDACTED if is_secret_header(k, sensitive) else v) for k, v in headers.items()}


#: Query parameter names whose values are credentials: ``token``, ``access_token``,
#: ``api_key``, ``client_secret``, ``password``, ``signature``, ``sig``, ``X-Amz-Signature``...
SECRET_PARAMETER: Final = re.compile(
    r"token|key|secret|passw|signature|credential|session|auth|^sig$", re.IGNORECASE
)


def redact_url(url: str, placeholder: str = REDACTED, *, user: bool = False) -> str:
    """``url`` without the password of its user info or the values of secret parameters
    (``user``: without the user name either), each replaced by ``placeholder``.

    >>> redact_url("https://bob:pw@example.com/x?api_key=k&page=2&sig=abc")
    'https://bob:<redacted>@example.com/x?api_key=<redacted>&page=2&sig=<redacted>'
    >>> redact_url("https://example.com/plain?page=2")
    'https://example.com/plain?page=2'
    >>> redact_url("https://bob@example.com/", "REDACTED", user=True)
    'https://REDACTED:REDACTED@example.com/'
    """
    try:
        parts = urlsplit(url)
        if parts.password is None and not parts.query and not (user and "@" in parts.netloc):
            return url
        netloc = parts.netloc
        if user and "@" in netloc:
            netloc = f"{placeholder}:{placeholder}@{netloc.rpartition('@')[2]}"
        elif parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{userinfo.partition(':')[0]}:{placeholder}@{hostport}"
        query = "&".join(
            f"{quote(k, safe='')}="
            f"{placeholder if SECRET_PARAMETER.search(k) else quote(v, safe='')}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparsable URL>"


def strip_query(url: str | None) -> str:
    """``url`` for a message: no query string, no fragment, no user info.

    >>> strip_query("https://u:pw@example.com/items?token=abc#top")
    'https://example.com/items'
    >>> strip_query("/path?sig=x")
    '/path'
    """
    text = (url or "").split("#", 1)[0].split("?", 1)[0]
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def url_secrets(url: str) -> tuple[str, ...]:
    """The secret values a URL carries (user-info password, secret parameters), longest first.

    >>> url_secrets("https://u:pw@example.com/?token=abc&page=2")
    ('abc', 'pw')
    """
    try:
        parts = urlsplit(url)
        found = {v for k, v in parse_qsl(parts.query) if SECRET_PARAMETER.search(k) and v}
        if parts.password:
            found.add(parts.password)
    except ValueError:
        return ()
    return tuple(sorted(found, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` (and its percent-encoded form) replaced."""
    for secret in secrets:
        text = text.replace(secret, REDACTED).replace(quote(secret, safe=""), REDACTED)
    return text


def scrub_exception(error: BaseException, secrets: tuple[str, ...]) -> None:
    """Remove ``secrets`` from an exception's message, its causes and their messages, in place.

    requests and urllib3 put the URL, query string included, into some messages
    (``Max retries exceeded with url: /path?token=...``); tracebacks and logs show them.
    """
    if not secrets:
        return
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        item.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in item.args)
        pending.extend(a for a in item.args if isinstance(a, BaseException))
        for name in ("url", "reason"):
            value = getattr(item, name, None)
            if isinstance(value, str):
                setattr(item, name, scrub(value, secrets))
            elif isinstance(value, BaseException):
                pending.append(value)
        pending.extend((item.__cause__, item.__context__))
