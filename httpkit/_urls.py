"""Origins: the (scheme, host, port) triple that credentials and host policies are bound to."""

from __future__ import annotations

from functools import lru_cache
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import idna

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


def normalize_host(host: str) -> str:
    """Lowercase, drop a trailing dot and IDNA-encode a host name the way requests does.

    >>> normalize_host("Bücher.Example.")
    'xn--bcher-kva.example'
    """
    host = host.rstrip(".").lower()
    if host.isascii() or ":" in host:
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"invalid international host name {host!r}: {exc}") from None


@lru_cache(maxsize=1024)
def origin_of(url: str) -> Origin:
    """Return the origin of ``url``; raise ``ValueError`` when it has no host or a bad port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname  # lowercased by urlsplit, brackets removed
    if not scheme or not host:
        raise ValueError(f"URL has no scheme or host: {url!r}")
    port = parts.port if parts.port is not None else DEFAULT_PORTS.get(scheme)
    return Origin(scheme, normalize_host(host), port)


def same_origin(a: str, b: str) -> bool:
    """True when both URLs share scheme, host and port; unparsable URLs never match."""
    try:
        return origin_of(a) == origin_of(b)
    except ValueError:
        return False
